//! The Vault login inputs: `auth-method`, the role and mount, and what the
//! inputs say about the identity token (`jwt-file`, `jwt-audience`,
//! `id-token-variable`). Which token that is on this CI is decided in
//! [`crate::ci::identity`].

use super::sources::{Sources, check_segment};
use super::{Auth, IdentityInputs};
use crate::env::Env;
use crate::env::Platform;
use crate::error::{Error, Result};
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
    let file = match src.text("jwt-file")? {
        Some(name) => {
            let text = crate::env::read_text(Path::new(&name))
                .map_err(|e| Error::input("jwt-file", format!("{name}: {e}")))?;
            let jwt = crate::jwt::checked(&name, text.trim()).map_err(|e| Error::input("jwt-file", e))?;
            Some((name, jwt))
        }
        None => None,
    };
    let identity = IdentityInputs {
        file,
        audience: src.text("jwt-audience")?,
        variable: src.text("id-token-variable")?,
    };
    Ok(Auth::Jwt { path, role, identity })
}
