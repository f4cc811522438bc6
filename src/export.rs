//! `packer-vault secrets`: exporting secrets as GITHUB_ENV entries, shell
//! `export` lines or JSON.

use crate::error::{Error, Result};
use crate::vault::read::Read;

/// Output format of `packer-vault secrets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Append to `GITHUB_ENV` with random delimiters.
    Github,
    /// `export NAME='value'` lines for `eval`.
    Shell,
    /// A JSON object of name to value.
    Json,
}

impl Format {
    /// The format called `name`.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "github" => Some(Format::Github),
            "shell" => Some(Format::Shell),
            "json" => Some(Format::Json),
            _ => None,
        }
    }
}

/// Every (variable, value) pair of the reads, in spec order.
pub fn pairs(reads: &[Read]) -> Vec<(&str, &str)> {
    reads
        .iter()
        .flat_map(|r| r.items.iter().map(|i| (i.env.as_str(), i.value.expose())))
        .collect()
}

/// Single-quotes `v` for POSIX shells.
pub fn shell_quote(v: &str) -> String {
    format!("'{}'", v.replace('\'', r"'\''"))
}

/// Renders the shell or JSON form.
pub fn render(format: Format, reads: &[Read]) -> Result<String> {
    match format {
        Format::Shell => Ok(pairs(reads)
            .iter()
            .map(|(k, v)| format!("export {k}={}\n", shell_quote(v)))
            .collect()),
        Format::Json => {
            let map: serde_json::Map<String, serde_json::Value> = pairs(reads)
                .into_iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
                .collect();
            serde_json::to_string_pretty(&map)
                .map(|s| s + "\n")
                .map_err(|e| Error::failed(e.to_string()))
        }
        Format::Github => crate::platform::github::file_entries(pairs(reads)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote("$(x)"), "'$(x)'");
    }
}
