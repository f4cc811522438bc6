//! packer-vault: Vault/OpenBao secrets for Packer builds in CI. README.md
//! is the contract, ARCHITECTURE.md the map; one run lives in [`run`].

#![warn(missing_docs)]

pub mod child;
pub mod ci;
pub mod cli;
pub mod cloud;
pub mod config;
pub mod console;
pub mod dispatch;
pub mod doctor;
pub mod env;
pub mod error;
pub mod export;
pub mod hcp;
pub mod jwt;
#[cfg(test)]
mod layers;
pub mod lockfile;
pub mod log;
pub mod namespace;
pub mod packer;
pub mod process;
pub mod publish;
pub mod redact;
pub mod remote;
pub mod report;
pub mod run;
pub mod secret;
pub mod session;
pub mod spec;
pub mod time;
pub mod vault;

use config::Needs;
use env::Env;
use std::ffi::OsString;

/// Runs the binary with `args` (program name first) and returns the exit code.
pub fn main_with_args(args: impl IntoIterator<Item = OsString>) -> i32 {
    // A panic message could carry a value: print only where it happened.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("packer-vault: internal error{at}; please report it");
    }));
    let inv = match cli::parse(args) {
        Ok(i) => i,
        Err(e) => return usage(&e),
    };
    let env = Env::from_process();
    if let cli::Cmd::Report { files } = &inv.cmd {
        return report(&inv, env, files);
    }
    let cfg = match config::resolve(&inv.flags, &env, needs(&inv.cmd)) {
        Ok(c) => c,
        Err(e) => return run::fail(&e),
    };
    // The API tokens are never printed, whatever the command.
    hide_api_tokens(&cfg.github_token, &cfg.gitlab_token);
    // The CI's side of the login (which identity token), still before any request.
    let ci = match ci::Runner::new(&cfg, env) {
        Ok(c) => c,
        Err(e) => return run::fail(&e),
    };
    // Everything the command needs that can be known without the network.
    if let Err(e) = run::preflight(&inv.cmd, &cfg, &ci) {
        return run::fail(&e);
    }
    // What a child must not inherit is gone from this process's own
    // environment too, as `/proc/<pid>/environ` shows it (still one thread).
    env::scrub(&child::private::removed(&ci, &cfg));
    match runtime() {
        Ok(rt) => rt.block_on(dispatch(inv, cfg, ci)),
        Err(code) => code,
    }
}

/// A usage error in a few lines (no blank ones, no pointer to `--help`),
/// or the help or version asked for.
fn usage(e: &clap::Error) -> i32 {
    match e.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
            let _ = e.print();
            error::EXIT_OK
        }
        _ => {
            let text = e.render().to_string();
            for line in (text.lines()).filter(|l| !l.trim().is_empty() && !l.starts_with("For more information")) {
                eprintln!("{}", error::bounded(line));
            }
            error::EXIT_USAGE
        }
    }
}

/// `report`: fans JSON reports in; resolved on its own, logs in nowhere.
fn report(inv: &cli::Invocation, env: Env, files: &[String]) -> i32 {
    let cfg = match config::report::resolve(&inv.flags, &env, files) {
        Ok(c) => c,
        Err(e) => return run::fail(&e),
    };
    if cfg.platform == env::Platform::Github {
        log::set_style(log::Style::Github);
    }
    hide_api_tokens(&cfg.github_token, &cfg.gitlab_token);
    match runtime() {
        Ok(rt) => rt.block_on(run::report(cfg, env)),
        Err(code) => code,
    }
}

/// What the subcommand needs checked beyond every input.
fn needs(cmd: &cli::Cmd) -> Needs {
    Needs {
        lock_write: matches!(cmd, cli::Cmd::Lock { .. }),
        template: matches!(cmd, cli::Cmd::Build | cli::Cmd::Validate),
        lifecycle: match cmd {
            cli::Cmd::Promote => Some(config::lifecycle::Op::Promote),
            cli::Cmd::Revoke => Some(config::lifecycle::Op::Revoke),
            cli::Cmd::Restore => Some(config::lifecycle::Op::Restore),
            _ => None,
        },
        doctor: matches!(cmd, cli::Cmd::Doctor),
        cascade: matches!(cmd, cli::Cmd::Cascade),
    }
}

/// The GitHub and GitLab tokens are hidden from every line printed.
fn hide_api_tokens(github: &Option<secret::Secret>, gitlab: &Option<secret::Secret>) {
    log::hide([github, gitlab].into_iter().flatten().map(secret::Secret::expose));
}

/// The one current-thread runtime of a run, or the exit code of why not.
fn runtime() -> Result<tokio::runtime::Runtime, i32> {
    (tokio::runtime::Builder::new_current_thread().enable_all().build())
        .map_err(|e| run::fail(&error::Error::failed(format!("cannot start the runtime: {e}"))))
}

/// The subcommand's run.
async fn dispatch(inv: cli::Invocation, cfg: config::Config, ci: ci::Runner) -> i32 {
    match inv.cmd {
        cli::Cmd::Build => run::build(cfg, ci, run::Mode::Build, inv.report).await,
        cli::Cmd::Validate => run::build(cfg, ci, run::Mode::Validate, inv.report).await,
        cli::Cmd::Doctor => doctor::doctor(cfg, ci).await,
        cli::Cmd::Promote | cli::Cmd::Revoke | cli::Cmd::Restore => run::lifecycle(cfg, ci).await,
        cli::Cmd::Cascade => run::cascade(cfg, ci).await,
        cli::Cmd::Exec { argv } => run::exec(cfg, ci, argv).await,
        cli::Cmd::Lock { check } => run::lock(cfg, ci, check).await,
        // Handled before the Vault inputs are resolved.
        cli::Cmd::Report { .. } => error::EXIT_USAGE,
        cli::Cmd::Secrets { format, output } => match export::Format::from_name(&format) {
            Some(f) => run::secrets(cfg, ci, f, output).await,
            None => run::fail(&error::Error::input("format", "must be github, shell or json")),
        },
    }
}
