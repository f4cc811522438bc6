//! Handing values on: the secrets as `GITHUB_ENV` entries (`secrets
//! --format github`, `export-env`), shell `export` lines or JSON, and the
//! `GITHUB_ENV` / `GITHUB_OUTPUT` file format itself.

use crate::env::{Env, Platform};
use crate::error::{Error, Result};
use crate::vault::read::Read;
use std::io::Write;

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
    warn_files(reads);
    crate::vault::read::variables(reads)
        .map(|(k, v)| (k, v.expose()))
        .collect()
}

/// Says, once per value, that a key file (the `gcp` preset's key) is not
/// exported: it exists as a private file only while `exec` or `build` runs.
fn warn_files(reads: &[Read]) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let files: Vec<&str> = reads
        .iter()
        .filter(|r| r.items.iter().any(|i| i.delivery == crate::vault::read::Delivery::File))
        .map(|r| r.path.as_str())
        .collect();
    if !files.is_empty() {
        WARNED.call_once(|| {
            crate::log::warn(&format!(
                "not exported: the key file of {} (a key file is handed to `exec` and `build` only, for as long as they run)",
                files.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
            ))
        });
    }
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
        Format::Github => file_entries(pairs(reads)),
    }
}

/// Renders `NAME<<DELIM` entries for `GITHUB_ENV` / `GITHUB_OUTPUT` with a
/// random `ghadelimiter_<uuid>` delimiter; refuses a name or value that
/// contains the delimiter (CVE-2022-35954).
pub fn file_entries<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<String> {
    let delim = format!("ghadelimiter_{}", uuid::Uuid::new_v4());
    let mut out = String::new();
    for (name, value) in entries {
        let bad_name = name.is_empty() || name.contains(['\n', '\r', '=']) || name.contains("<<");
        if bad_name || name.contains(&delim) {
            return Err(Error::failed(format!(
                "refusing to write the variable name `{}`",
                name.escape_debug()
            )));
        }
        if value.contains(&delim) {
            return Err(Error::failed(format!(
                "refusing to write `{name}`: its value contains the delimiter"
            )));
        }
        out.push_str(&format!("{name}<<{delim}\n{value}\n{delim}\n"));
    }
    Ok(out)
}

/// Appends `text` to the file named by the variable `var` (GITHUB_ENV, ...).
pub fn append_file(env: &Env, var: &str, text: &str) -> Result<()> {
    let path = env.get(var).ok_or_else(|| Error::failed(format!("{var} is not set")))?;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Error::failed(format!("cannot open {var} ({path}): {e}")))?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::failed(format!("cannot write {var} ({path}): {e}")))
}

/// `export-env`: hands the secrets to later steps (GitHub `GITHUB_ENV`).
pub fn to_github_env(platform: Platform, env: &Env, reads: &[Read]) -> Result<()> {
    if platform != Platform::Github {
        return Err(Error::Usage("export-env works on GitHub Actions only".into()));
    }
    append_file(env, "GITHUB_ENV", &file_entries(pairs(reads))?)?;
    crate::log::info(&format!(
        "exported {} variables to later steps (GITHUB_ENV)",
        pairs(reads).len()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
        assert_eq!(shell_quote("$(x)"), "'$(x)'");
    }

    #[test]
    fn file_entries_use_a_random_delimiter() {
        let a = file_entries([("A", "one\ntwo")]).unwrap();
        let b = file_entries([("A", "one\ntwo")]).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("A<<ghadelimiter_"));
        assert!(a.contains("\none\ntwo\nghadelimiter_"));
        assert!(file_entries([("A=B", "x")]).is_err());
        assert!(file_entries([("A<<B", "x")]).is_err());
        assert!(file_entries([("", "x")]).is_err());
    }

    #[test]
    fn a_value_with_delimiter_text_stays_one_value() {
        let evil = "a\nghadelimiter_00000000-0000-0000-0000-000000000000\nEVIL<<X\nowned\nX\nB=1";
        let text = file_entries([("A", evil), ("C", "c")]).unwrap();
        // Parse as the runner does: NAME<<DELIM, lines until DELIM.
        let mut lines = text.lines();
        let mut got = Vec::new();
        while let Some(head) = lines.next() {
            let (name, delim) = head.split_once("<<").unwrap();
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delim).collect();
            got.push((name.to_string(), value.join("\n")));
        }
        assert_eq!(got, vec![("A".to_string(), evil.to_string()), ("C".into(), "c".into())]);
    }
}
