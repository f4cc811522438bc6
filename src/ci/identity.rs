//! The identity token of a JWT login: which one this CI offers (GitHub's
//! OIDC endpoint, GitLab's `id_tokens:` variable) or the `jwt-file` the
//! inputs name, decided before anything is sent; and fetching it.

use crate::config::{IdentityInputs, check_url};
use crate::env::{Env, Platform};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// Where the identity token for a JWT login comes from.
#[derive(Debug)]
pub enum JwtSource {
    /// GitHub's OIDC endpoint.
    GithubOidc {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        url: String,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        request_token: Secret,
        /// `jwt-audience`, when set.
        audience: Option<String>,
    },
    /// A JWT already in hand: GitLab's `id_tokens:` variable or `jwt-file`.
    Given {
        /// Where it came from, for messages (`VAULT_ID_TOKEN`, a file name).
        origin: String,
        /// The environment variable that held it (GitLab's `id_tokens:`
        /// variable); `None` for `jwt-file`.
        var: Option<String>,
        /// The token.
        jwt: Secret,
    },
}

/// The JWT source on `platform`: `jwt-file` when given, else the CI's own.
/// A missing or malformed one is a usage error (exit 2), found before any
/// request.
pub fn source(inputs: &IdentityInputs, env: &Env, platform: Platform) -> Result<JwtSource> {
    if let Some((name, jwt)) = &inputs.file {
        return Ok(JwtSource::Given {
            origin: name.clone(),
            var: None,
            jwt: jwt.clone(),
        });
    }
    match platform {
        Platform::Github => {
            let (Some(url), Some(token)) = (
                env.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
                env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
            ) else {
                return Err(Error::Usage(
                    "GitHub gave this job no OIDC token: add `permissions: id-token: write` to the job \
                     (pull requests from forks never get one)"
                        .into(),
                ));
            };
            check_url(url.split('?').next().unwrap_or(url))
                .map_err(|e| Error::Usage(format!("ACTIONS_ID_TOKEN_REQUEST_URL: {e}")))?;
            Ok(JwtSource::GithubOidc {
                url: url.to_string(),
                request_token: Secret::new(token),
                audience: inputs.audience.clone(),
            })
        }
        Platform::Gitlab => {
            let var = inputs.variable.as_deref().unwrap_or("VAULT_ID_TOKEN");
            let jwt = env.get(var).ok_or_else(|| {
                Error::input(
                    "id-token-variable",
                    format!("`{var}` is not set: add `id_tokens: {var}: aud: <your Vault address>` to the job"),
                )
            })?;
            let jwt = crate::jwt::checked(var, jwt.trim()).map_err(|e| Error::input("id-token-variable", e))?;
            Ok(JwtSource::Given {
                origin: var.to_string(),
                var: Some(var.to_string()),
                jwt,
            })
        }
        Platform::Local => Err(Error::input(
            "jwt-file",
            "not set: locally, log in with `jwt-file` or set VAULT_TOKEN (auth-method token)",
        )),
    }
}

/// The identity token itself: the one in hand, or a fresh one from
/// GitHub's OIDC endpoint.
pub async fn token(source: &JwtSource) -> Result<Secret> {
    match source {
        JwtSource::Given { jwt, .. } => Ok(jwt.clone()),
        JwtSource::GithubOidc {
            url,
            request_token,
            audience,
        } => super::github::oidc_token(url, request_token, audience.as_deref()).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ci::Runner;
    use crate::config::{Auth, Needs, resolve};

    const NEEDS: Needs = Needs::NONE;

    /// The configuration and the runner, as `main` resolves them.
    fn runner(env: &Env) -> Result<(crate::config::Config, Runner)> {
        let cfg = resolve(&Default::default(), env, NEEDS)?;
        let ci = Runner::new(&cfg, env.clone())?;
        Ok((cfg, ci))
    }

    #[test]
    fn gitlab_uses_native_variables() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
        let env = Env::from([
            ("GITLAB_CI", "true"),
            ("VAULT_SERVER_URL", "https://vault.example.com"),
            ("VAULT_AUTH_ROLE", "images"),
            ("VAULT_AUTH_PATH", "jwt_gitlab"),
            ("VAULT_ID_TOKEN", jwt),
        ]);
        let (c, ci) = runner(&env).unwrap();
        match (c.auth, ci.jwt) {
            (Auth::Jwt { path, role, .. }, Some(JwtSource::Given { origin, jwt: j, .. })) => {
                assert_eq!(
                    (path.as_str(), role.as_str(), origin.as_str()),
                    ("jwt_gitlab", "images", "VAULT_ID_TOKEN")
                );
                assert_eq!(j.expose(), jwt);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn github_without_id_token_permission() {
        let env = Env::from([
            ("GITHUB_ACTIONS", "true"),
            ("VAULT_ADDR", "http://v:8200"),
            ("INPUT_ROLE", "r"),
        ]);
        let e = runner(&env).unwrap_err();
        assert!(e.to_string().contains("id-token: write"), "{e}");
    }
}
