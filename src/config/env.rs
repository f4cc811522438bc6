//! The process environment, as every module reads it.

use std::collections::BTreeMap;

/// A snapshot of the process environment; an empty value counts as unset
/// (GitHub sets `INPUT_*` to "" for inputs the user left out).
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>, std::collections::BTreeSet<String>);

impl Env {
    /// The current process environment (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Env {
        let mut env = Env::default();
        for (k, v) in std::env::vars_os() {
            match (k.into_string(), v.into_string()) {
                (Ok(k), Ok(v)) => {
                    env.0.insert(k, v);
                }
                (Ok(k), Err(_)) => {
                    env.1.insert(k);
                }
                _ => {}
            }
        }
        env
    }

    /// True when `name` is set to something that is not UTF-8.
    pub fn is_invalid(&self, name: &str) -> bool {
        self.1.contains(name)
    }

    /// A value, or `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Sets a variable (tests and the launcher).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_string(), value.to_string());
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Env {
    fn from(pairs: [(&str, &str); N]) -> Env {
        Env(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            Default::default(),
        )
    }
}
