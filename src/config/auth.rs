//! The Vault login: `auth-method`, the role and mount, and where the
//! identity token comes from (GitHub's OIDC endpoint, GitLab's `id_tokens:`
//! variable, a file) or the `VAULT_TOKEN` of token mode.

use super::sources::{Sources, check_segment, check_url};
use super::{Auth, Env, JwtSource, file};
use crate::error::{Error, Result};
use crate::platform::Kind as Platform;
use crate::secret::Secret;
use std::path::Path;

pub(super) fn resolve_auth(src: &Sources, env: &Env, platform: Platform) -> Result<Auth> {
    let method = match src.text("auth-method")? {
        Some(m) => m,
        None if platform == Platform::Local && env.get("VAULT_TOKEN").is_some() => "token".into(),
        None => "jwt".into(),
    };
    if method == "token" {
        let t = env
            .get("VAULT_TOKEN")
            .ok_or_else(|| Error::input("auth-method", "`token` needs VAULT_TOKEN in the environment"))?;
        if t.trim() != t || t.contains(char::is_control) {
            return Err(Error::Usage("VAULT_TOKEN has whitespace or control characters".into()));
        }
        return Ok(Auth::Token(Secret::new(t)));
    }
    let role = src
        .text("role")?
        .ok_or_else(|| Error::input("role", "not set: the Vault role to log in with (or VAULT_AUTH_ROLE)"))?;
    check_segment("role", &role)?;
    let path = src.text("auth-path")?.unwrap_or_else(|| "jwt".into());
    // `auth/jwt` and `jwt` name the same mount.
    let path = path.trim_matches('/');
    let path = path.strip_prefix("auth/").unwrap_or(path).to_string();
    if path.is_empty() || path.split('/').any(|s| s.is_empty() || s == "..") || path.contains(char::is_whitespace) {
        return Err(Error::input("auth-path", format!("`{path}` is not a mount path")));
    }
    let source = if let Some(file) = src.text("jwt-file")? {
        let text = file::read_text(Path::new(&file)).map_err(|e| Error::input("jwt-file", format!("{file}: {e}")))?;
        given_jwt(&file, None, text.trim(), "jwt-file")?
    } else {
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
                JwtSource::GithubOidc {
                    url: url.to_string(),
                    request_token: Secret::new(token),
                    audience: src.text("jwt-audience")?,
                }
            }
            Platform::Gitlab => {
                let var = src
                    .text("id-token-variable")?
                    .unwrap_or_else(|| "VAULT_ID_TOKEN".into());
                let jwt = env.get(&var).ok_or_else(|| {
                    Error::input(
                        "id-token-variable",
                        format!("`{var}` is not set: add `id_tokens: {var}: aud: <your Vault address>` to the job"),
                    )
                })?;
                given_jwt(&var, Some(&var), jwt.trim(), "id-token-variable")?
            }
            Platform::Local => {
                return Err(Error::input(
                    "jwt-file",
                    "not set: locally, log in with `jwt-file` or set VAULT_TOKEN (auth-method token)",
                ));
            }
        }
    };
    Ok(Auth::Jwt { path, role, source })
}

fn given_jwt(origin: &str, var: Option<&str>, jwt: &str, input: &str) -> Result<JwtSource> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let b64 = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if parts.len() != 3 || !parts.iter().take(2).all(|p| b64(p)) {
        return Err(Error::input(
            input,
            format!("{origin} does not hold a JWT (header.payload.signature)"),
        ));
    }
    Ok(JwtSource::Given {
        origin: origin.to_string(),
        var: var.map(str::to_string),
        jwt: Secret::new(jwt),
    })
}
