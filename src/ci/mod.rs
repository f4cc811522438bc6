//! The CI the binary runs in, as the run uses it on its way in: which
//! platform, the identity token, masks, log sections, workflow-command
//! control, the grace a cancelled command gets, and the variables a child
//! must not inherit. What goes back out to the CI afterwards (summary,
//! comment, outputs) is [`crate::publish`].

pub mod github;
pub mod gitlab;
pub mod identity;

use crate::config::{Auth, Config};
use crate::env::{Env, Platform};
use crate::error::Result;
use crate::secret::Secret;
use identity::JwtSource;
use std::time::Duration;

/// The running CI: its platform, its environment, and the JWT source it
/// offers for this configuration's login.
#[derive(Debug)]
pub struct Runner {
    /// Which CI.
    pub platform: Platform,
    /// The environment the CI set.
    pub env: Env,
    /// Where the identity token comes from; `None` in token mode.
    pub jwt: Option<JwtSource>,
}

impl Runner {
    /// The runner for `cfg` in `env`: resolves the JWT source (a usage error,
    /// before any request, when the CI offers none) and sets the log style.
    pub fn new(cfg: &Config, env: Env) -> Result<Runner> {
        let jwt = match &cfg.auth {
            Auth::Jwt { identity, .. } => Some(identity::source(identity, &env, cfg.platform)?),
            Auth::Token(_) | Auth::None => None,
        };
        crate::log::set_style(if cfg.platform == Platform::Github {
            crate::log::Style::Github
        } else {
            crate::log::Style::Plain
        });
        Ok(Runner {
            platform: cfg.platform,
            env,
            jwt,
        })
    }

    /// The identity token from `source` (this runner's [`Runner::jwt`]), masked.
    pub async fn identity_token(&self, source: &JwtSource) -> Result<Secret> {
        let jwt = identity::token(source).await?;
        self.mask(&[jwt.expose()]);
        Ok(jwt)
    }

    /// The identity token that HCP's workload identity provider exchanges:
    /// on GitHub a second OIDC token, with the provider's audience (or
    /// `hcp-jwt-audience`); elsewhere the `id_tokens:` variable that
    /// `hcp-id-token-variable` names. Masked and hidden like every credential.
    pub async fn hcp_identity_token(&self, hcp: &crate::config::HcpSettings) -> Result<Secret> {
        use crate::error::Error;
        let provider = hcp
            .provider
            .as_deref()
            .ok_or_else(|| Error::input("hcp-workload-identity-provider", "not set"))?;
        let jwt = match self.platform {
            Platform::Github => {
                let (Some(url), Some(token)) = (
                    self.env.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
                    self.env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
                ) else {
                    return Err(Error::input(
                        "hcp-workload-identity-provider",
                        "GitHub gave this job no OIDC token: add `permissions: id-token: write`",
                    ));
                };
                let audience = hcp.jwt_audience.as_deref().unwrap_or(provider);
                github::oidc_token(url, &Secret::new(token), Some(audience)).await?
            }
            Platform::Gitlab | Platform::Local => {
                let var = &hcp.id_token_variable;
                let jwt = self.env.get(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                    Error::input(
                        "hcp-id-token-variable",
                        // The provider is checked, and long: shown whole, outside a quote.
                        format!("{var} is not set: add an `id_tokens:` entry {var} to the job whose aud is {provider}"),
                    )
                })?;
                Secret::new(jwt.trim())
            }
        };
        self.mask(&[jwt.expose()]);
        crate::log::hide([jwt.expose()]);
        Ok(jwt)
    }

    /// Masks every value and derived form before anything could print it
    /// (GitHub `::add-mask::`; GitLab and local cannot mask, and print none).
    pub fn mask(&self, values: &[&str]) {
        if self.platform != Platform::Github {
            return;
        }
        // Each value (each line of a multi-line one) and every derived form.
        let patterns = crate::redact::mask_patterns(values.iter().copied());
        github::add_masks(patterns.iter().map(String::as_str));
    }

    /// Marks the start of a phase (GitHub group, GitLab collapsible section).
    pub fn section_start(&self, id: &str, title: &str) {
        // One line, whatever the template's name holds.
        let title = crate::log::neutralize(&title.replace('\n', " "));
        match self.platform {
            Platform::Github => crate::console::out_lines([format!("::group::{title}").as_str()]),
            Platform::Gitlab => crate::console::out_lines([gitlab::section_start(id, &title).trim_end_matches('\n')]),
            Platform::Local => crate::console::out_lines([format!("==> {title}").as_str()]),
        }
    }

    /// Marks the end of a phase.
    pub fn section_end(&self, id: &str) {
        match self.platform {
            Platform::Github => crate::console::out_lines(["::endgroup::"]),
            Platform::Gitlab => crate::console::out_lines([gitlab::section_end(id).trim_end_matches('\n')]),
            Platform::Local => {}
        }
    }

    /// Stops the runner from acting on workflow commands in untrusted
    /// output (GitHub); masks printed meanwhile still take effect
    /// ([`crate::console`]).
    pub fn stop_commands(&self) {
        if self.platform == Platform::Github {
            crate::console::stop_commands();
        }
    }

    /// Resumes workflow commands after [`Runner::stop_commands`].
    pub fn resume_commands(&self) {
        crate::console::resume_commands();
    }

    /// A link to this CI run, when the platform says.
    pub fn run_url(&self) -> Option<String> {
        match self.platform {
            Platform::Github => Some(format!(
                "{}/{}/actions/runs/{}",
                self.env.get("GITHUB_SERVER_URL")?,
                self.env.get("GITHUB_REPOSITORY")?,
                self.env.get("GITHUB_RUN_ID")?
            )),
            Platform::Gitlab => self.env.get("CI_JOB_URL").map(str::to_string),
            Platform::Local => None,
        }
    }

    /// How long a cancelled command gets to clean up before it is killed:
    /// GitHub kills the step 10 s after its first signal, so leave time to
    /// revoke; `PACKER_VAULT_GRACE_SECONDS` overrides.
    pub fn grace(&self) -> Duration {
        if let Some(s) = self.env.get("PACKER_VAULT_GRACE_SECONDS").and_then(|s| s.parse().ok()) {
            return Duration::from_secs(s);
        }
        match self.platform {
            Platform::Github => Duration::from_secs(7),
            Platform::Gitlab | Platform::Local => Duration::from_secs(25),
        }
    }
}
