//! Where the binary runs: GitHub Actions, GitLab CI, or a local shell. This
//! is the only module that knows which CI it is in.

pub mod github;
pub mod gitlab;

use crate::config::{Config, Env, JwtSource};
use crate::error::{Error, Result};
use crate::report::Report;
use crate::secret::Secret;
use crate::vault::read::Read;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// The CI, detected from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `GITHUB_ACTIONS=true`.
    Github,
    /// `GITLAB_CI=true`.
    Gitlab,
    /// Anything else.
    Local,
}

impl Kind {
    /// Detects the platform: `GITHUB_ACTIONS=true` is GitHub, `GITLAB_CI=true` GitLab.
    pub fn detect(env: &Env) -> Kind {
        if env.get("GITHUB_ACTIONS") == Some("true") {
            Kind::Github
        } else if env.get("GITLAB_CI") == Some("true") {
            Kind::Gitlab
        } else {
            Kind::Local
        }
    }

    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Github => "GitHub Actions",
            Kind::Gitlab => "GitLab CI",
            Kind::Local => "local shell",
        }
    }
}

/// The running platform and its environment.
#[derive(Debug)]
pub struct Platform {
    /// Which CI.
    pub kind: Kind,
    /// The environment the platform set.
    pub env: Env,
}

impl Platform {
    /// The platform for `env`; sets the log style.
    pub fn new(kind: Kind, env: Env) -> Platform {
        crate::log::set_style(if kind == Kind::Github {
            crate::log::Style::Github
        } else {
            crate::log::Style::Plain
        });
        Platform { kind, env }
    }

    /// The identity token for a JWT login.
    pub async fn identity_token(&self, source: &JwtSource) -> Result<Secret> {
        let jwt = match source {
            JwtSource::Given { jwt, .. } => jwt.clone(),
            JwtSource::GithubOidc {
                url,
                request_token,
                audience,
            } => github::oidc_token(url, request_token, audience.as_deref()).await?,
        };
        self.mask(&[jwt.expose()]);
        Ok(jwt)
    }

    /// Masks every value and derived form before anything could print it
    /// (GitHub `::add-mask::`; GitLab and local cannot mask, and print none).
    pub fn mask(&self, values: &[&str]) {
        if self.kind != Kind::Github {
            return;
        }
        // Each value (each line of a multi-line one) and every derived form.
        let patterns = crate::redact::patterns(values.iter().copied());
        github::add_masks(patterns.iter().map(String::as_str));
    }

    /// Marks the start of a phase (GitHub group, GitLab collapsible section).
    pub fn section_start(&self, id: &str, title: &str) {
        let mut out = std::io::stdout().lock();
        let _ = match self.kind {
            Kind::Github => writeln!(out, "::group::{title}"),
            Kind::Gitlab => write!(out, "{}", gitlab::section_start(id, title)),
            Kind::Local => writeln!(out, "==> {title}"),
        };
        let _ = out.flush();
    }

    /// Marks the end of a phase.
    pub fn section_end(&self, id: &str) {
        let mut out = std::io::stdout().lock();
        let _ = match self.kind {
            Kind::Github => writeln!(out, "::endgroup::"),
            Kind::Gitlab => write!(out, "{}", gitlab::section_end(id)),
            Kind::Local => Ok(()),
        };
        let _ = out.flush();
    }

    /// Stops the runner from acting on workflow commands in untrusted output;
    /// returns the token that resumes them.
    pub fn stop_commands(&self) -> Option<String> {
        (self.kind == Kind::Github).then(github::stop_commands)
    }

    /// Resumes workflow commands after [`Platform::stop_commands`].
    pub fn resume_commands(&self, token: Option<String>) {
        if let Some(t) = token {
            github::resume_commands(&t);
        }
    }

    /// A link to this CI run, when the platform says.
    pub fn run_url(&self) -> Option<String> {
        match self.kind {
            Kind::Github => Some(format!(
                "{}/{}/actions/runs/{}",
                self.env.get("GITHUB_SERVER_URL")?,
                self.env.get("GITHUB_REPOSITORY")?,
                self.env.get("GITHUB_RUN_ID")?
            )),
            Kind::Gitlab => self.env.get("CI_JOB_URL").map(str::to_string),
            Kind::Local => None,
        }
    }

    /// How long a cancelled command gets to clean up before it is killed:
    /// GitHub kills the step 10 s after its first signal, so leave time to
    /// revoke; `PACKER_VAULT_GRACE_SECONDS` overrides.
    pub fn grace(&self) -> Duration {
        if let Some(s) = self.env.get("PACKER_VAULT_GRACE_SECONDS").and_then(|s| s.parse().ok()) {
            return Duration::from_secs(s);
        }
        match self.kind {
            Kind::Github => Duration::from_secs(7),
            Kind::Gitlab | Kind::Local => Duration::from_secs(25),
        }
    }

    /// `export-env`: hands the secrets to later steps (GitHub `GITHUB_ENV`).
    pub fn export_env(&self, reads: &[Read]) -> Result<()> {
        if self.kind != Kind::Github {
            return Err(Error::Usage("export-env works on GitHub Actions only".into()));
        }
        let text = github::file_entries(crate::export::pairs(reads))?;
        github::append_file(&self.env, "GITHUB_ENV", &text)?;
        crate::log::info(&format!(
            "exported {} variables to later steps (GITHUB_ENV)",
            crate::export::pairs(reads).len()
        ));
        Ok(())
    }

    /// Publishes the report: `--report FILE`, stdout locally, the job
    /// summary and outputs on GitHub, a report file and the MR note on GitLab. Never fails
    /// the run: problems are warnings.
    pub async fn publish(&self, report: &Report, cfg: &Config, file: Option<&Path>) {
        // Everything in the report is redacted already; once more, to be sure.
        let markdown = crate::log::redact(&crate::report::render(report, None));
        if let Some(f) = file
            && let Err(e) = std::fs::write(f, &markdown)
        {
            crate::log::warn(&format!("cannot write the report to {}: {e}", f.display()));
        }
        match self.kind {
            Kind::Local => {
                if file.is_none() {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "\n{markdown}");
                }
            }
            Kind::Github => github::publish(&self.env, report, cfg, &markdown).await,
            Kind::Gitlab => gitlab::publish(&self.env, report, cfg, &markdown).await,
        }
    }
}
