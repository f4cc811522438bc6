//! The selectors of one request applied to a secret's data: the keys it
//! names, every key (`*`), and the presets (the GCP one by the answer's
//! shape).

use super::{Delivery, Item};
use crate::spec::{Preset, Selector, default_env_name};
use serde_json::{Map, Value};

/// Applies the selectors of one request to the secret's data.
pub fn select(path: &str, data: &Map<String, Value>, selectors: &[Selector]) -> Result<Vec<Item>, String> {
    let string = |key: &str| -> Result<Option<String>, String> {
        match data.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!(
                "`{path}` key `{key}`: the value is a {}, not a string",
                match other {
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    Value::Array(_) => "list",
                    _ => "map",
                }
            )),
        }
    };
    let mut items = Vec::new();
    for s in selectors {
        match s {
            Selector::Key { key, env } => {
                let v = string(key)?.ok_or_else(|| {
                    let mut keys: Vec<&str> = data.keys().map(String::as_str).collect();
                    keys.sort();
                    format!("`{path}` has no key `{key}` (keys: {})", keys.join(", "))
                })?;
                items.push(Item::value(env, key, v));
            }
            Selector::All => {
                for key in data.keys() {
                    let v = string(key)?.unwrap_or_default();
                    items.push(Item::value(&default_env_name(key), key, v));
                }
            }
            Selector::Preset(Preset::Gcp) => items.extend(gcp(path, &string)?),
            Selector::Preset(p) => {
                for (key, env, required) in p.keys() {
                    match string(key)? {
                        Some(v) => items.push(Item::value(env, key, v)),
                        None if *required => return Err(format!("`{path}` has no key `{key}` that the preset needs")),
                        None => {}
                    }
                }
            }
        }
    }
    Ok(items)
}

/// The GCP preset, by the answer's shape (vault-plugin-secrets-gcp):
/// `gcp/roleset|static-account/<n>/key` answers `private_key_data`, the
/// base64 of the JSON key file (`type: service_account`, `private_key`,
/// `private_key_id`, `client_email`, ...), leased; `.../token` answers
/// `token` (with `token_ttl`, `expires_at_seconds`), not leased.
fn gcp(path: &str, string: &dyn Fn(&str) -> Result<Option<String>, String>) -> Result<Vec<Item>, String> {
    use base64::Engine as _;
    if let Some(data) = string("private_key_data")? {
        let bad = |why: &str| format!("`{path}` key `private_key_data`: {why}");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|_| bad("not base64"))?;
        let text = String::from_utf8(bytes).map_err(|_| bad("not a JSON key file"))?;
        let key: Map<String, Value> = serde_json::from_str(&text).map_err(|_| bad("not a JSON key file"))?;
        if key.get("type").and_then(Value::as_str) != Some("service_account") {
            return Err(bad("not a service-account key file (`type` is not `service_account`)"));
        }
        let mut items = vec![Item {
            delivery: Delivery::File,
            ..Item::value("GOOGLE_APPLICATION_CREDENTIALS", "private_key_data", text)
        }];
        for part in ["private_key", "private_key_id"] {
            if let Some(v) = key.get(part).and_then(Value::as_str) {
                items.push(Item {
                    delivery: Delivery::Masked,
                    ..Item::value("", part, v.to_string())
                });
            }
        }
        return Ok(items);
    }
    match string("token")? {
        Some(t) => Ok(vec![Item::value("GOOGLE_OAUTH_ACCESS_TOKEN", "token", t)]),
        None => Err(format!(
            "`{path}` holds neither `private_key_data` (a key) nor `token` (an access token): not a GCP secrets engine path"
        )),
    }
}
