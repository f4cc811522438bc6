//! The YAML config file: any input by its kebab-case name, a `secrets:` list in
//! the long form, and `environments.<name>` overrides.

use super::inputs;
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::path::Path;

/// Largest inline input accepted, in bytes (as large as a file may be).
pub const MAX_SIZE: u64 = crate::env::MAX_FILE_SIZE;

/// A parsed config file, with the selected environment's overrides applied.
#[derive(Debug, Default)]
pub struct ConfigFile {
    /// Where it was read from (for messages).
    pub path: String,
    values: Map<String, Value>,
    /// The names under `environments:`.
    pub environments: Vec<String>,
}

impl ConfigFile {
    /// Reads and checks the file at `path`; `environment` selects overrides.
    pub fn load(path: &Path, environment: Option<&str>) -> Result<ConfigFile> {
        let shown = path.display().to_string();
        let text = crate::env::read_text(path).map_err(|e| Error::input("config", format!("{shown}: {e}")))?;
        Self::parse(&text, &shown, environment)
    }

    /// Parses config text; `shown` names the file in messages.
    pub fn parse(text: &str, shown: &str, environment: Option<&str>) -> Result<ConfigFile> {
        let bad = |what: String| Error::input("config", format!("{shown}: {what}"));
        let doc: Value = if text.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_saphyr::from_str(text).map_err(|e| bad(format!("not valid YAML: {}", first_line(&e.to_string()))))?
        };
        let Value::Object(mut values) = doc else {
            return Err(bad("the top level must be a map of input names".into()));
        };
        let envs = values.remove("environments");
        check_keys(&values, "").map_err(bad)?;
        let mut names = Vec::new();
        if let Some(envs) = envs {
            let Value::Object(envs) = envs else {
                return Err(bad("`environments` must map names to inputs".into()));
            };
            for (name, over) in &envs {
                let Value::Object(over) = over else {
                    return Err(bad(format!("`environments.{name}` must be a map of inputs")));
                };
                check_keys(over, &format!("environments.{name}.")).map_err(bad)?;
                names.push(name.clone());
            }
            if let Some(Value::Object(over)) = environment.and_then(|e| envs.get(e)) {
                for (k, v) in over {
                    values.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(ConfigFile {
            path: shown.to_string(),
            values,
            environments: names,
        })
    }

    /// The value of input `name` as text: scalars as written, lists of
    /// scalars one per line, maps as `KEY=VALUE` lines. `secrets` as a list is
    /// not text: see [`ConfigFile::secrets_list`].
    pub fn get(&self, name: &str) -> Option<String> {
        if name == "secrets" && self.secrets_list().is_some() {
            return None;
        }
        match self.values.get(name)? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Array(items) if name == "packer-args" => Some(
                items
                    .iter()
                    .map(|v| shell_words::quote(&scalar(v)).into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            Value::Array(items) => Some(items.iter().map(scalar).collect::<Vec<_>>().join("\n")),
            Value::Object(m) => Some(
                m.iter()
                    .map(|(k, v)| format!("{k}={}", scalar(v)))
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        }
    }

    /// The `secrets:` value when it is the long form (a list of maps).
    pub fn secrets_list(&self) -> Option<&Value> {
        match self.values.get("secrets") {
            Some(v @ Value::Array(items)) if items.iter().any(Value::is_object) => Some(v),
            _ => None,
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn check_keys(values: &Map<String, Value>, prefix: &str) -> std::result::Result<(), String> {
    for k in values.keys() {
        if inputs::find(k).is_none() {
            let hint = inputs::INPUTS
                .iter()
                .find(|i| i.name.replace('-', "_") == k.replace('-', "_").to_ascii_lowercase())
                .map(|i| format!(" (did you mean `{}`?)", i.name))
                .unwrap_or_default();
            return Err(format!("unknown key `{prefix}{k}`{hint}"));
        }
        if k == "config" {
            return Err(format!("`{prefix}config` cannot be set inside a config file"));
        }
        if inputs::PRIVILEGED.contains(&k.as_str()) {
            return Err(format!(
                "`{prefix}{k}` is a privileged input: a pull request can edit this file, so set it in the \
                 workflow (step input or flag) or as a CI variable instead"
            ));
        }
    }
    Ok(())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_environment_overrides() {
        let text = "vault-addr: https://vault:8200\nrole: dev\nsummary: false\npacker-vars: {region: eu-west-1}\n\
                    environments:\n  prod:\n    role: prod\n";
        let f = ConfigFile::parse(text, "c.yml", Some("prod")).unwrap();
        assert_eq!(f.get("role").as_deref(), Some("prod"));
        assert_eq!(f.get("summary").as_deref(), Some("false"));
        assert_eq!(f.get("packer-vars").as_deref(), Some("region=eu-west-1"));
        let f = ConfigFile::parse(text, "c.yml", None).unwrap();
        assert_eq!(f.get("role").as_deref(), Some("dev"));
    }

    #[test]
    fn unknown_keys_and_bad_shapes() {
        let e = ConfigFile::parse("vault_addr: x", "c.yml", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown key `vault_addr`") && e.contains("did you mean `vault-addr`"),
            "{e}"
        );
        let e = ConfigFile::parse("environments: {prod: {rol: x}}", "c.yml", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("environments.prod.rol"), "{e}");
        assert!(ConfigFile::parse("- a\n- b", "c.yml", None).is_err());
        assert!(
            ConfigFile::parse("a: [", "c.yml", None)
                .unwrap_err()
                .to_string()
                .contains("not valid YAML")
        );
    }
}
