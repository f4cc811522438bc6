//! The command line: subcommands, and one `--NAME` flag per input generated
//! from the inputs table. Parsing only; no side effects.

use crate::config::inputs::{INPUTS, Kind};
use clap::{Arg, ArgAction, ArgMatches, Command};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// `build [TEMPLATE]`.
    Build,
    /// `validate [TEMPLATE]`.
    Validate,
    /// `doctor`: explain the setup.
    Doctor,
    /// `exec -- CMD...`.
    Exec {
        /// The command and its arguments.
        argv: Vec<String>,
    },
    /// `lock [--check]`.
    Lock {
        /// Report drift without writing.
        check: bool,
    },
    /// `promote`: assign an existing HCP Packer version to a channel.
    Promote,
    /// `revoke`: revoke an HCP Packer version (now or at a time).
    Revoke,
    /// `restore`: undo a revocation.
    Restore,
    /// `cascade`: rebuild, in batches, the images built on a golden image
    /// whose channel moved.
    Cascade,
    /// `report FILE...`: fan the JSON reports of a matrix back in.
    Report {
        /// The JSON reports (paths or globs).
        files: Vec<String>,
    },
    /// `secrets --format F [--output FILE]`.
    Secrets {
        /// `github`, `shell` or `json`.
        format: String,
        /// Where the variables go instead of stdout (a new 0600 file).
        output: Option<PathBuf>,
    },
}

/// A parsed command line.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The subcommand.
    pub cmd: Cmd,
    /// Inputs given as flags, by input name.
    pub flags: BTreeMap<String, String>,
    /// `--report FILE`, where the subcommand writes one.
    pub report: Option<PathBuf>,
}

/// The clap command, with every input as a global flag.
pub fn command() -> Command {
    let inputs = INPUTS.iter().map(|i| {
        let arg = Arg::new(i.name)
            .long(i.name)
            .help(i.doc)
            .global(true)
            .value_name("VALUE");
        match i.kind {
            Kind::Bool => arg
                .num_args(0..=1)
                .require_equals(true)
                .default_missing_value("true")
                .value_name("BOOL"),
            // Repeated flags of a multi-line input are its lines.
            Kind::Multiline => arg.num_args(1).action(ArgAction::Append),
            _ => arg.num_args(1).action(ArgAction::Set),
        }
    });
    Command::new("packer-vault")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Vault/OpenBao secrets for Packer builds in CI: OIDC login, masked parallel reads, redacted output, revocation on every path")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .args(inputs)
        .subcommand(packer_command("build", "log in, read the secrets, run packer init/validate/build with them, record the HCP Packer version, report, revoke"))
        .subcommand(packer_command("validate", "log in, read the secrets, run packer fmt -check/init/validate, report; no build"))
        .subcommand(
            Command::new("exec")
                .about("log in, read the secrets, run a command with them in its environment (redacted output, renewal, revocation)")
                .arg(Arg::new("argv").num_args(1..).required(true).last(true).value_name("CMD").help("the command and its arguments, after --")),
        )
        .subcommand(
            Command::new("lock")
                .about("resolve every KV v2 secret of the spec to its current version and write packer-vault.lock (paths and versions, never values)")
                .arg(
                    Arg::new("check")
                        .long("check")
                        .action(ArgAction::SetTrue)
                        .help("write nothing; list secrets newer than the lock and exit 1 when it is stale"),
                ),
        )
        .subcommand(Command::new("doctor").about(
            "explain the setup: platform, token claims (unverified), Vault health, login, which secrets are readable (never values), Packer, HCP",
        ))
        .subcommand(Command::new("promote").about(
            "log in, read the HCP credentials, assign an existing HCP Packer version to a channel (no build)",
        ))
        .subcommand(Command::new("revoke").about(
            "log in, read the HCP credentials, revoke an HCP Packer version now or at `revoke-at` (no build)",
        ))
        .subcommand(Command::new("restore").about(
            "log in, read the HCP credentials, restore a revoked HCP Packer version (no build)",
        ))
        .subcommand(Command::new("cascade").about(
            "rebuild, in batches, the images built on a golden image whose channel moved: each child through its own repository's CI, at most cascade-parallel at once",
        ))
        .subcommand(
            Command::new("report")
                .about("fan the JSON reports of a matrix of builds (--report-json) back in: one job summary and one sticky PR/MR comment, a row per image; logs in nowhere")
                .arg(Arg::new("files").num_args(0..).value_name("FILE").help("JSON reports, paths or globs (also the `reports` input)")),
        )
        .subcommand(
            Command::new("secrets")
                .about("log in, read the secrets and export them; no Packer")
                .arg(
                    Arg::new("format")
                        .long("format")
                        .value_parser(["github", "shell", "json"])
                        .default_value("shell")
                        .help("github: append to GITHUB_ENV; shell: `export` lines for eval; json: an object"),
                )
                .arg(
                    Arg::new("output")
                        .long("output")
                        .value_name("FILE")
                        .help("write the shell or json form to FILE (created, 0600) instead of stdout; needed on GitLab, whose log cannot mask"),
                ),
        )
}

fn packer_command(name: &'static str, about: &'static str) -> Command {
    Command::new(name)
        .about(about)
        .arg(Arg::new("TEMPLATE").help("Packer template file or directory (the `template` input)"))
        .arg(
            Arg::new("report")
                .long("report")
                .value_name("FILE")
                .help("also write the Markdown report to FILE"),
        )
}

/// Parses `args` (with the program name first).
pub fn parse<I, T>(args: I) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let m = command().try_get_matches_from(args)?;
    let (name, sub) = m
        .subcommand()
        .ok_or_else(|| command().error(clap::error::ErrorKind::MissingSubcommand, "a subcommand is required"))?;
    let mut flags = BTreeMap::new();
    collect(&m, &mut flags);
    collect(sub, &mut flags);
    let strings = |id: &str| {
        sub.get_many::<String>(id)
            .map(|v| v.cloned().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    if let Some(t) = sub.try_get_one::<String>("TEMPLATE").ok().flatten() {
        flags.insert("template".into(), t.clone());
    }
    let cmd = match name {
        "build" => Cmd::Build,
        "lock" => Cmd::Lock {
            check: sub.get_flag("check"),
        },
        "validate" => Cmd::Validate,
        "doctor" => Cmd::Doctor,
        "promote" => Cmd::Promote,
        "revoke" => Cmd::Revoke,
        "restore" => Cmd::Restore,
        "cascade" => Cmd::Cascade,
        "exec" => Cmd::Exec { argv: strings("argv") },
        "report" => Cmd::Report {
            files: strings("files"),
        },
        "secrets" => Cmd::Secrets {
            format: sub
                .get_one::<String>("format")
                .cloned()
                .unwrap_or_else(|| "shell".into()),
            output: sub.get_one::<String>("output").map(PathBuf::from),
        },
        other => {
            return Err(command().error(
                clap::error::ErrorKind::InvalidSubcommand,
                format!("unknown subcommand {other}"),
            ));
        }
    };
    let report = sub.try_get_one::<String>("report").ok().flatten().map(PathBuf::from);
    Ok(Invocation { cmd, flags, report })
}

fn collect(m: &ArgMatches, flags: &mut BTreeMap<String, String>) {
    for i in INPUTS {
        if let Ok(Some(v)) = m.try_get_many::<String>(i.name) {
            let lines: Vec<&str> = v.map(String::as_str).collect();
            flags.insert(i.name.to_string(), lines.join("\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_flags_anywhere() {
        let inv = parse([
            "packer-vault",
            "--role",
            "r",
            "exec",
            "--vault-addr",
            "http://x",
            "--renew=false",
            "--",
            "sh",
            "-c",
            "true",
        ])
        .unwrap();
        assert_eq!(
            inv.cmd,
            Cmd::Exec {
                argv: vec!["sh".into(), "-c".into(), "true".into()]
            }
        );
        assert_eq!(inv.flags["role"], "r");
        assert_eq!(inv.flags["vault-addr"], "http://x");
        assert_eq!(inv.flags["renew"], "false");
        let inv = parse(["packer-vault", "secrets", "--export-env", "--format", "json"]).unwrap();
        assert_eq!(inv.flags["export-env"], "true");
        assert_eq!(
            inv.cmd,
            Cmd::Secrets {
                format: "json".into(),
                output: None
            }
        );
        let inv = parse(["packer-vault", "build", "examples/null", "--report", "r.md"]).unwrap();
        assert_eq!(inv.cmd, Cmd::Build);
        assert_eq!(inv.flags["template"], "examples/null");
        assert_eq!(inv.report, Some(PathBuf::from("r.md")));
        command().debug_assert();
    }
}
