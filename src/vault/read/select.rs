//! The selectors of one request applied to a secret's data: the keys it
//! names, every key (`*`), and the presets ([`crate::cloud`] says what
//! each takes).

use super::Item;
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
            Selector::Preset(Preset::Gcp) => {
                items.extend(crate::cloud::gcp::take(path, &string)?.into_iter().map(|t| Item {
                    delivery: t.delivery,
                    ..Item::value(t.env, t.key, t.value)
                }))
            }
            Selector::Preset(p) => {
                for (key, env, required) in crate::cloud::keys(*p) {
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
