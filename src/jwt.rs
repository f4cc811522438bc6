//! Reading an identity token's claims (no signature check) for diagnostics:
//! the claims roles bind on are not secret, the token is.

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
            let shown = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let shown = if *k == "exp" {
                format!("{shown} ({})", expiry_note(v))
            } else {
                shown
            };
            Some(format!("{k}={shown}"))
        })
        .collect()
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
}
