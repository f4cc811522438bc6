//! Reading an identity token's claims (no signature check) for diagnostics:
//! the claims roles bind on are not secret, the token is.

use crate::secret::Secret;
use base64::Engine;
use serde_json::{Map, Value};

/// Claims that Vault roles usually bind on, in the order they are shown.
pub const BOUND_CLAIMS: &[&str] = &[
    "iss",
    "aud",
    "sub",
    "repository",
    "repository_owner",
    "ref",
    "ref_type",
    "environment",
    "job_workflow_ref",
    "event_name",
    "project_path",
    "namespace_path",
    "ref_protected",
    "pipeline_source",
    "user_login",
    "exp",
];

/// `jwt` as a secret when it has a JWT's shape (three dot-separated parts,
/// header and payload base64url); otherwise what is wrong, naming `origin`
/// (a file or variable name), never the value.
pub fn checked(origin: &str, jwt: &str) -> Result<Secret, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let b64 = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if parts.len() != 3 || !parts.iter().take(2).all(|p| b64(p)) {
        return Err(format!("{origin} does not hold a JWT (header.payload.signature)"));
    }
    Ok(Secret::new(jwt))
}

/// The payload of a JWT as a JSON map, or `None` when it is not readable.
pub fn claims(jwt: &str) -> Option<Map<String, Value>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// `name=value` lines for the bound-claim candidates present in `claims`.
pub fn describe(claims: &Map<String, Value>) -> Vec<String> {
    BOUND_CLAIMS
        .iter()
        .filter_map(|k| {
            let v = claims.get(*k)?;
            let text = match *k {
                "exp" => format!("{} ({})", shown(v), expiry_note(v)),
                _ => shown(v),
            };
            Some(format!("{k}={text}"))
        })
        .collect()
}

/// Lines that explain a failed JWT login: the role and the token's
/// bound-claim candidates, then what Vault's `errors` point at (the claim
/// that did not match and its value, the audience, the expiry, the role or
/// the mount). Claims are not secret; the token is never shown.
pub fn login_hints(errors: &[String], role: &str, mount: &str, claims: Option<&Map<String, Value>>) -> Vec<String> {
    let text = errors.join("; ");
    let claim = |k: &str| claims.and_then(|c| c.get(k)).map(shown);
    let mut out = vec![match claims {
        Some(c) => format!(
            "role `{role}` on auth/{mount}; the token's claims: {}",
            describe(c).join(", ")
        ),
        None => format!("role `{role}` on auth/{mount}; the identity token's claims are not readable"),
    }];
    if let Some(name) = text.split("claim \"").nth(1).and_then(|r| r.split('"').next()) {
        out.push(match claim(name) {
            _ if text.contains(&format!("claim \"{name}\" is missing")) => {
                format!("the role's bound_claims need claim `{name}`, and the token has none")
            }
            Some(v) => {
                format!("claim `{name}` differs: the token has {name}={v}, which the role's bound_claims do not accept")
            }
            None => format!("the role's bound_claims do not accept claim `{name}` (the token has none)"),
        });
    }
    if text.contains("(aud)") || text.contains("audience") {
        out.push(format!(
            "the token's aud is {}: it must be one of the role's bound_audiences (GitHub: set `jwt-audience`; GitLab with the \
             template: set PACKER_VAULT_JWT_AUDIENCE, which defaults to VAULT_SERVER_URL; a job of your own: its \
             `id_tokens: <VAR>: aud:`)",
            claim("aud").unwrap_or_else(|| "missing".into())
        ));
    }
    if text.contains("(exp)") || text.contains("expired") {
        out.push("the identity token has expired: it must be used while it is valid (re-run the job)".into());
    }
    if text.contains("(iss)") || text.contains("issuer") {
        out.push(format!(
            "the token's iss is {}: the auth method's bound_issuer must equal it",
            claim("iss").unwrap_or_else(|| "missing".into())
        ));
    }
    if text.contains("bound subject") {
        out.push(format!(
            "the token's sub is {}: the role's bound_subject must equal it",
            claim("sub").unwrap_or_else(|| "missing".into())
        ));
    }
    if text.contains("could not be found") {
        out.push(format!(
            "no role `{role}` on auth/{mount}: check `role` and `auth-path`"
        ));
    }
    if text.contains("signature") {
        out.push("Vault could not verify the token's signature: check the auth method's jwks_url, oidc_discovery_url or jwt_validation_pubkeys".into());
    }
    if text.contains("permission denied") {
        out.push(format!(
            "Vault refused auth/{mount}/login: is a JWT auth method mounted at auth/{mount}? (check `auth-path`)"
        ));
    }
    out
}

/// A claim's value for a message: strings as they are, the rest as JSON.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn expiry_note(exp: &Value) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    match exp.as_i64() {
        Some(e) if e <= now => format!("expired {} s ago", now - e),
        Some(e) => format!("expires in {} s", e - now),
        None => "not a number".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_claims_without_the_signature() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            br#"{"iss":"https://gitlab.example.com","project_path":"acme/images","ref_protected":"true","secret":"x"}"#,
        );
        let c = claims(&format!("e30.{payload}.sig")).unwrap();
        let d = describe(&c);
        assert_eq!(
            d,
            vec![
                "iss=https://gitlab.example.com",
                "project_path=acme/images",
                "ref_protected=true"
            ]
        );
        assert!(claims("nonsense").is_none());
    }

    #[test]
    fn login_hints_name_the_claim_that_differs() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"iss":"https://gitlab.example.com","aud":"https://wrong","project_path":"evil/x"}"#);
        let c = claims(&format!("e30.{payload}.sig")).unwrap();
        let errors = vec![
            r#"error validating claims: claim "project_path" does not match any associated bound claim values"#
                .to_string(),
        ];
        let h = login_hints(&errors, "gitlab", "jwt", Some(&c));
        assert!(
            h[0].contains("role `gitlab` on auth/jwt") && h[0].contains("project_path=evil/x"),
            "{h:?}"
        );
        assert!(
            h[1].contains("claim `project_path` differs: the token has project_path=evil/x"),
            "{h:?}"
        );
        let h = login_hints(&["invalid audience (aud) claim".into()], "gitlab", "jwt", Some(&c));
        assert!(
            h[1].contains("aud is https://wrong") && h[1].contains("jwt-audience"),
            "{h:?}"
        );
        let h = login_hints(&[r#"role "x" could not be found"#.into()], "x", "jwt", None);
        assert!(h[1].contains("no role `x` on auth/jwt"), "{h:?}");
    }
}
