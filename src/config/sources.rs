//! Reading one input: from the flag, the step input, `PACKER_VAULT_*`, the
//! config file or the fallback, first found wins; and checking its value
//! against its kind before anything uses it.

use super::file::{self, ConfigFile};
use super::inputs::{self, Input, Kind};
use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Reads raw input values from every source, highest first.
pub struct Sources<'a> {
    flags: &'a BTreeMap<String, String>,
    env: &'a Env,
    pub(super) file: Option<ConfigFile>,
}

impl<'a> Sources<'a> {
    /// Loads the config file (explicit, or `.packer-vault.yml` when present).
    pub fn new(flags: &'a BTreeMap<String, String>, env: &'a Env) -> Result<Sources<'a>> {
        let mut s = Sources { flags, env, file: None };
        let explicit = s.raw("config");
        let path = match &explicit {
            Some(p) => Some(PathBuf::from(p)),
            None => Some(PathBuf::from(".packer-vault.yml")).filter(|p| p.is_file()),
        };
        if let Some(path) = path {
            // The environment may come from the file's top level; read it first.
            let env_name = s
                .raw("environment")
                .or_else(|| ConfigFile::load(&path, None).ok().and_then(|f| f.get("environment")));
            let file = ConfigFile::load(&path, env_name.as_deref())?;
            if let Some(name) = &env_name
                && !file.environments.contains(name)
            {
                // GitLab's own CI_ENVIRONMENT_NAME may name an environment the
                // file has no overrides for when the file has none at all;
                // any name given on purpose must exist.
                let fallback = s.flags.get("environment").is_none()
                    && s.env.get("INPUT_ENVIRONMENT").is_none()
                    && s.env.get("PACKER_VAULT_ENVIRONMENT").is_none()
                    && file.get("environment").is_none();
                if !(fallback && file.environments.is_empty()) {
                    let known = if file.environments.is_empty() {
                        "it defines none".to_string()
                    } else {
                        format!("it defines {}", file.environments.join(", "))
                    };
                    return Err(Error::input(
                        "environment",
                        format!("`{name}` is not under `environments:` in {}: {known}", file.path),
                    ));
                }
            }
            s.file = Some(file);
        }
        Ok(s)
    }

    /// The value of input `name` from the first source that sets it: the
    /// flag, the step input, `PACKER_VAULT_*`, the config file, the
    /// fallback variables. For a [`inputs::PROTECTED`] input the CI's
    /// fallback variables (`VAULT_ADDR`, `VAULT_AUTH_ROLE`, ...) come before
    /// the config file: the file is the repository's, which a pull request
    /// can change, so it may only fill what the CI's settings leave empty.
    pub fn raw(&self, name: &str) -> Option<String> {
        let input = inputs::find(name)?;
        let fallback = || {
            input
                .fallback_env
                .iter()
                .find_map(|v| self.env.get(v))
                .map(str::to_string)
        };
        let file = || {
            // A privileged input never comes from the file (refused when it is read).
            if inputs::PRIVILEGED.contains(&name) {
                return None;
            }
            self.file.as_ref().and_then(|f| f.get(name)).filter(|v| !v.is_empty())
        };
        let from_ci = self
            .flags
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .or_else(|| self.env.get(&input.input_var()).map(str::to_string))
            .or_else(|| self.env.get(&input.env_var()).map(str::to_string));
        if inputs::PROTECTED.contains(&name) {
            from_ci.or_else(fallback).or_else(file)
        } else {
            from_ci.or_else(file).or_else(fallback)
        }
    }

    pub(crate) fn text(&self, name: &str) -> Result<Option<String>> {
        let Some(v) = self.raw(name) else { return Ok(None) };
        let input = inputs::find(name).ok_or_else(|| Error::Usage(format!("unknown input {name}")))?;
        check_value(input, &v)?;
        Ok(Some(v.trim().to_string()).filter(|v| !v.is_empty()))
    }

    pub(crate) fn flag(&self, name: &str, default: bool) -> Result<bool> {
        Ok(match self.text(name)? {
            Some(v) => parse_bool(&v).ok_or_else(|| Error::input(name, format!("`{v}` is not true or false")))?,
            None => default,
        })
    }
}

/// Checks a raw value against its input's kind.
pub(super) fn check_value(input: &Input, v: &str) -> Result<()> {
    let name = input.name;
    if v.len() as u64 > file::MAX_SIZE {
        return Err(Error::input(name, "value is larger than 1 MiB"));
    }
    if v.contains('\0') {
        return Err(Error::input(name, "value contains a NUL byte"));
    }
    let one_line = !matches!(input.kind, Kind::Multiline);
    // The runner ends a line at CR as well as LF: either could start a
    // workflow command where the value is printed.
    if one_line && v.trim().contains(['\n', '\r']) {
        return Err(Error::input(
            name,
            "must be a single line (no line feed or carriage return)",
        ));
    }
    match input.kind {
        Kind::Bool if parse_bool(v).is_none() => {
            Err(Error::input(name, format!("`{}` is not true or false", v.trim())))
        }
        Kind::Choice(allowed) if !allowed.contains(&v.trim()) => Err(Error::input(
            name,
            format!("`{}` is not one of {}", v.trim(), allowed.join(", ")),
        )),
        Kind::Url => check_url(v.trim()).map_err(|e| Error::input(name, e)),
        _ => Ok(()),
    }
}

/// Checks that `v` is an `http://` or `https://` URL with a host.
pub fn check_url(v: &str) -> std::result::Result<(), String> {
    let url = reqwest::Url::parse(v).map_err(|e| format!("`{v}` is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{v}` must start with http:// or https://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{v}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials in the URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{v}` must not have a query or fragment"));
    }
    Ok(())
}

/// Parses `true/false`, `1/0`, `yes/no`, `on/off` (any case).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub(super) fn check_segment(input: &str, v: &str) -> Result<()> {
    if v.contains(['/', '?', '#', '%']) || v.contains(char::is_whitespace) || v.contains(char::is_control) {
        return Err(Error::input(
            input,
            format!("`{}` may not contain `/`, `?`, `#`, `%` or spaces", v.escape_debug()),
        ));
    }
    Ok(())
}

pub(super) fn name_input(src: &Sources, name: &str) -> Result<Option<String>> {
    let v = src.text(name)?;
    if let Some(v) = &v {
        let ok = v.len() <= 128 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !ok {
            return Err(Error::input(
                name,
                format!(
                    "`{}` may hold only letters, digits, `-`, `_`, `.` (128 at most)",
                    v.escape_debug()
                ),
            ));
        }
    }
    Ok(v)
}

pub(super) fn pem_input(src: &Sources, name: &str) -> Result<Option<String>> {
    let Some(v) = src.text(name)? else { return Ok(None) };
    if v.trim_start().starts_with("-----BEGIN") {
        return Ok(Some(v));
    }
    let text =
        crate::env::read_text(Path::new(v.trim())).map_err(|e| Error::input(name, format!("{}: {e}", v.trim())))?;
    if !text.contains("-----BEGIN") {
        return Err(Error::input(name, format!("{}: not a PEM file", v.trim())));
    }
    Ok(Some(text))
}

pub(super) fn identity(src: &Sources) -> Result<Option<Secret>> {
    match (pem_input(src, "client-cert")?, pem_input(src, "client-key")?) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(Error::input("client-key", "needed with `client-cert`")),
        (None, Some(_)) => Err(Error::input("client-cert", "needed with `client-key`")),
        (Some(cert), Some(key)) => {
            let pem = Secret::new(format!("{cert}\n{key}"));
            reqwest::Identity::from_pem(pem.expose().as_bytes())
                .map_err(|_| Error::input("client-key", "the certificate and key do not form a PEM identity"))?;
            Ok(Some(pem))
        }
    }
}

/// `packer-vault-token-policies`: names split on commas, each a policy name.
pub(super) fn policies(src: &Sources) -> Result<Option<Vec<String>>> {
    let Some(text) = src.text("packer-vault-token-policies")? else {
        return Ok(None);
    };
    let names: Vec<String> = text
        .split(',')
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    for n in &names {
        if !n.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(Error::input(
                "packer-vault-token-policies",
                format!(
                    "`{}` is no policy name (letters, digits, `-`, `_`, `.`)",
                    n.escape_debug()
                ),
            ));
        }
    }
    Ok(Some(names).filter(|n| !n.is_empty()))
}
