//! Inputs to a validated [`Config`]: reads every source in the documented
//! order (flag, `INPUT_*`, `PACKER_VAULT_*`, config file, fallback), checks
//! every value and touches no network. Files named by inputs are read here so
//! that a missing or unreadable one is a usage error (exit 2).

pub mod file;
pub mod inputs;
pub mod lifecycle;
mod private;
pub mod spec;

use crate::error::{Error, Result};
use crate::platform::Kind as Platform;
use crate::secret::Secret;
use file::ConfigFile;
use inputs::{INPUTS, Input, Kind};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

/// How the binary authenticates to Vault.
#[derive(Debug)]
pub enum Auth {
    /// JWT/OIDC login on the auth mount `path` with `role`.
    Jwt {
        /// Auth mount path (`jwt`).
        path: String,
        /// Role name.
        role: String,
        /// Where the JWT comes from.
        source: JwtSource,
    },
    /// A Vault token given in `VAULT_TOKEN` (local use).
    Token(Secret),
}

/// Where the identity token for a JWT login comes from.
#[derive(Debug)]
pub enum JwtSource {
    /// GitHub's OIDC endpoint.
    GithubOidc {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        url: String,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        request_token: Secret,
        /// `jwt-audience`, when set.
        audience: Option<String>,
    },
    /// A JWT already in hand: GitLab's `id_tokens:` variable or `jwt-file`.
    Given {
        /// Where it came from, for messages (`VAULT_ID_TOKEN`, a file name).
        origin: String,
        /// The environment variable that held it (GitLab's `id_tokens:`
        /// variable); `None` for `jwt-file`.
        var: Option<String>,
        /// The token.
        jwt: Secret,
    },
}

/// TLS settings for Vault.
#[derive(Debug, Default, Clone)]
pub struct Tls {
    /// Extra PEM bundle to trust.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate and key, concatenated PEM.
    pub identity_pem: Option<Secret>,
    /// Skip verification (loud warning).
    pub skip_verify: bool,
}

/// When to post the PR/MR comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentMode {
    /// On a PR/MR only.
    Auto,
    /// Whenever a PR/MR can be found.
    Always,
    /// Never.
    Never,
    /// Only when the run failed.
    OnFailure,
}

/// HCP Packer settings.
#[derive(Debug, Default, Clone)]
pub struct Hcp {
    /// Bucket name; `None` disables HCP Packer.
    pub bucket: Option<String>,
    /// Channel to promote to after success.
    pub channel: Option<String>,
    /// Build fingerprint (computed from the platform when not given).
    pub fingerprint: Option<String>,
    /// Organization id.
    pub organization_id: Option<String>,
    /// Project id.
    pub project_id: Option<String>,
}

/// The validated configuration of one run.
#[derive(Debug)]
pub struct Config {
    /// Which CI this is.
    pub platform: Platform,
    /// Vault address, without trailing slash.
    pub vault_addr: String,
    /// Enterprise namespace.
    pub vault_namespace: Option<String>,
    /// Login method.
    pub auth: Auth,
    /// TLS settings.
    pub tls: Tls,
    /// Vault reads, one per distinct path.
    pub requests: Vec<spec::Request>,
    /// Template file or directory.
    pub template: PathBuf,
    /// Where Packer runs.
    pub working_directory: PathBuf,
    /// Exact Packer version to install.
    pub packer_version: Option<String>,
    /// Extra `packer build` arguments.
    pub packer_args: Vec<String>,
    /// `PKR_VAR_*` variables.
    pub packer_vars: Vec<(String, String)>,
    /// HCP Packer.
    pub hcp: Hcp,
    /// Comment mode.
    pub comment: CommentMode,
    /// Token for the GitHub PR comment.
    pub github_token: Option<Secret>,
    /// Token for the GitLab MR note.
    pub gitlab_token: Option<Secret>,
    /// Write the job summary.
    pub summary: bool,
    /// Export secrets to later steps (then the token is kept).
    pub export_env: bool,
    /// Renew while the command runs.
    pub renew: bool,
    /// Revoke the token at exit.
    pub revoke: bool,
    /// Lock file to honour.
    pub lock_file: Option<PathBuf>,
    /// Where `packer-vault lock` reads and writes the lock.
    pub lock_path: PathBuf,
    /// Fail on KV secrets missing from the lock.
    pub locked: bool,
    /// Selected environment.
    pub environment: Option<String>,
    /// The inputs of `promote`, `revoke` and `restore`.
    pub lifecycle: Option<lifecycle::Lifecycle>,
}

/// Reads raw input values from every source, highest first.
pub struct Sources<'a> {
    flags: &'a BTreeMap<String, String>,
    env: &'a Env,
    file: Option<ConfigFile>,
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
            s.file = Some(ConfigFile::load(&path, env_name.as_deref())?);
        }
        Ok(s)
    }

    /// The value of input `name` from the first source that sets it.
    pub fn raw(&self, name: &str) -> Option<String> {
        let input = inputs::find(name)?;
        self.flags
            .get(name)
            .filter(|v| !v.is_empty())
            .cloned()
            .or_else(|| self.env.get(&input.input_var()).map(str::to_string))
            .or_else(|| self.env.get(&input.env_var()).map(str::to_string))
            .or_else(|| self.file.as_ref().and_then(|f| f.get(name)).filter(|v| !v.is_empty()))
            .or_else(|| {
                input
                    .fallback_env
                    .iter()
                    .find_map(|v| self.env.get(v))
                    .map(str::to_string)
            })
    }

    fn text(&self, name: &str) -> Result<Option<String>> {
        let Some(v) = self.raw(name) else { return Ok(None) };
        let input = inputs::find(name).ok_or_else(|| Error::Usage(format!("unknown input {name}")))?;
        check_value(input, &v)?;
        Ok(Some(v.trim().to_string()).filter(|v| !v.is_empty()))
    }

    fn flag(&self, name: &str, default: bool) -> Result<bool> {
        Ok(match self.text(name)? {
            Some(v) => parse_bool(&v).ok_or_else(|| Error::input(name, format!("`{v}` is not true or false")))?,
            None => default,
        })
    }
}

/// Checks a raw value against its input's kind.
fn check_value(input: &Input, v: &str) -> Result<()> {
    let name = input.name;
    if v.len() as u64 > file::MAX_SIZE {
        return Err(Error::input(name, "value is larger than 1 MiB"));
    }
    if v.contains('\0') {
        return Err(Error::input(name, "value contains a NUL byte"));
    }
    let one_line = !matches!(input.kind, Kind::Multiline);
    if one_line && v.trim().contains('\n') {
        return Err(Error::input(name, "must be a single line"));
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

fn check_url(v: &str) -> std::result::Result<(), String> {
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

/// What the subcommand needs from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// The subcommand logs in to Vault.
    pub vault: bool,
    /// The subcommand writes the lock file (so it may not exist yet).
    pub lock_write: bool,
    /// The subcommand runs Packer on `template` (build, validate): it must
    /// exist before anything is sent.
    pub template: bool,
    /// The lifecycle command (promote, revoke, restore), whose inputs are
    /// checked too.
    pub lifecycle: Option<lifecycle::Op>,
}

/// Resolves and validates every input. `flags` holds the inputs given as CLI
/// flags (by name); `env` the process environment.
pub fn resolve(flags: &BTreeMap<String, String>, env: &Env, needs: Needs) -> Result<Config> {
    for input in INPUTS {
        let vars = [input.input_var(), input.env_var()];
        if let Some(var) = vars
            .iter()
            .map(String::as_str)
            .chain(input.fallback_env.iter().copied())
            .find(|v| env.is_invalid(v))
        {
            return Err(Error::input(input.name, format!("{var} is not valid UTF-8")));
        }
    }
    let src = Sources::new(flags, env)?;
    // Check every input that is set, even ones this subcommand ignores.
    for input in INPUTS {
        src.text(input.name)?;
    }
    let platform = Platform::detect(env);

    let vault_addr = src.text("vault-addr")?.map(|a| a.trim_end_matches('/').to_string());
    let vault_addr = match (vault_addr, needs.vault) {
        (Some(a), _) => a,
        (None, true) => return Err(Error::input("vault-addr", "not set (set it, or VAULT_ADDR)")),
        (None, false) => String::new(),
    };
    let vault_namespace = src.text("vault-namespace")?;
    if let Some(ns) = &vault_namespace
        && (ns.starts_with('/') || ns.contains(char::is_whitespace))
    {
        return Err(Error::input(
            "vault-namespace",
            format!("`{ns}` is not a namespace path"),
        ));
    }

    let auth = if needs.vault {
        Some(resolve_auth(&src, env, platform)?)
    } else {
        None
    };

    let mut requests = match src.text("secrets")? {
        Some(text) => spec::parse(&text).map_err(|e| Error::input("secrets", e))?,
        None => Vec::new(),
    };
    if let Some(list) = src.file.as_ref().and_then(|f| f.secrets_list()) {
        let path = src.file.as_ref().map(|f| f.path.clone()).unwrap_or_default();
        let entries: Vec<spec::LongEntry> =
            serde_json::from_value(list.clone()).map_err(|e| Error::input("secrets", format!("{path}: {e}")))?;
        requests.extend(spec::from_long(&entries).map_err(|e| Error::input("secrets", format!("{path}: {e}")))?);
    }
    spec::check_duplicates(&requests).map_err(|e| Error::input("secrets", e))?;

    let tls = Tls {
        ca_pem: pem_input(&src, "ca-cert")?.map(|p| p.into_bytes()),
        identity_pem: identity(&src)?,
        skip_verify: src.flag("tls-skip-verify", false)?,
    };
    if let Some(ca) = &tls.ca_pem {
        reqwest::Certificate::from_pem_bundle(ca)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::input("ca-cert", "holds no PEM certificate"))?;
    }

    let packer_args = match src.text("packer-args")? {
        Some(a) => shell_words::split(&a)
            .map_err(|e| Error::input("packer-args", format!("cannot split into arguments: {e}")))?,
        None => Vec::new(),
    };
    let packer_vars = match src.text("packer-vars")? {
        Some(v) => parse_vars(&v).map_err(|e| Error::input("packer-vars", e))?,
        None => Vec::new(),
    };
    if let Some(v) = src.text("packer-version")? {
        let ok = v.split('.').count() == 3
            && v.split(['.', '-'])
                .take(3)
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(Error::input(
                "packer-version",
                format!("`{v}` is not an exact version like 1.11.2"),
            ));
        }
    }

    let comment = match src.text("comment")?.as_deref() {
        Some("always") => CommentMode::Always,
        Some("never") => CommentMode::Never,
        Some("on-failure") => CommentMode::OnFailure,
        _ => CommentMode::Auto,
    };
    let hcp = Hcp {
        bucket: name_input(&src, "hcp-bucket")?,
        channel: name_input(&src, "hcp-channel")?,
        fingerprint: name_input(&src, "hcp-fingerprint")?,
        organization_id: name_input(&src, "hcp-organization-id")?,
        project_id: name_input(&src, "hcp-project-id")?,
    };
    if hcp.channel.is_some() && hcp.bucket.is_none() {
        return Err(Error::input("hcp-channel", "needs `hcp-bucket`"));
    }

    // The lock lives beside the config file (or in the working directory of
    // the run when there is none), unless `lock-file` names it.
    let explicit_lock = src.text("lock-file")?.map(PathBuf::from);
    let lock_path = explicit_lock.clone().unwrap_or_else(|| {
        let dir = src
            .file
            .as_ref()
            .and_then(|f| Path::new(&f.path).parent().map(Path::to_path_buf))
            .unwrap_or_default();
        dir.join(crate::lock::FILE_NAME)
    });
    let lock_file = match explicit_lock {
        Some(p) if !p.is_file() && !needs.lock_write => {
            return Err(Error::input("lock-file", format!("{}: no such file", p.display())));
        }
        _ => Some(lock_path.clone()).filter(|p| p.is_file()),
    };
    let working_directory = PathBuf::from(src.text("working-directory")?.unwrap_or_else(|| ".".into()));
    if !working_directory.is_dir() {
        return Err(Error::input(
            "working-directory",
            format!("{}: no such directory", working_directory.display()),
        ));
    }

    let lifecycle = needs
        .lifecycle
        .map(|op| lifecycle::resolve(&src, op, hcp.bucket.as_deref()))
        .transpose()?;
    let template = PathBuf::from(src.text("template")?.unwrap_or_else(|| ".".into()));
    // Packer runs in the working directory, so a relative template is there.
    let template_at = working_directory.join(&template);
    if needs.template && !template_at.exists() {
        return Err(Error::input(
            "template",
            format!(
                "`{}`: no such file or directory (in the working directory `{}`)",
                template.display(),
                working_directory.display()
            ),
        ));
    }

    Ok(Config {
        platform,
        vault_addr,
        vault_namespace,
        auth: auth.unwrap_or(Auth::Token(Secret::default())),
        tls,
        requests,
        template,
        working_directory,
        packer_version: src.text("packer-version")?,
        packer_args,
        packer_vars,
        hcp,
        comment,
        github_token: src.text("github-token")?.map(Secret::new),
        gitlab_token: src.text("gitlab-token")?.map(Secret::new),
        summary: src.flag("summary", true)?,
        export_env: src.flag("export-env", false)?,
        renew: src.flag("renew", true)?,
        revoke: src.flag("revoke", true)?,
        lock_file,
        lock_path,
        locked: src.flag("locked", false)?,
        environment: src.text("environment")?,
        lifecycle,
    })
}

fn resolve_auth(src: &Sources, env: &Env, platform: Platform) -> Result<Auth> {
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
    let source = if let Some(file) = src.text("jwt-file")? {
        let text = file::read_text(Path::new(&file)).map_err(|e| Error::input("jwt-file", format!("{file}: {e}")))?;
        given_jwt(&file, None, text.trim(), "jwt-file")?
    } else {
        match platform {
            Platform::Github => {
                let (Some(url), Some(token)) = (
                    env.get("ACTIONS_ID_TOKEN_REQUEST_URL"),
                    env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
                ) else {
                    return Err(Error::Usage(
                        "GitHub gave this job no OIDC token: add `permissions: id-token: write` to the job \
                         (pull requests from forks never get one)"
                            .into(),
                    ));
                };
                check_url(url.split('?').next().unwrap_or(url))
                    .map_err(|e| Error::Usage(format!("ACTIONS_ID_TOKEN_REQUEST_URL: {e}")))?;
                JwtSource::GithubOidc {
                    url: url.to_string(),
                    request_token: Secret::new(token),
                    audience: src.text("jwt-audience")?,
                }
            }
            Platform::Gitlab => {
                let var = src
                    .text("id-token-variable")?
                    .unwrap_or_else(|| "VAULT_ID_TOKEN".into());
                let jwt = env.get(&var).ok_or_else(|| {
                    Error::input(
                        "id-token-variable",
                        format!("`{var}` is not set: add `id_tokens: {var}: aud: <your Vault address>` to the job"),
                    )
                })?;
                given_jwt(&var, Some(&var), jwt.trim(), "id-token-variable")?
            }
            Platform::Local => {
                return Err(Error::input(
                    "jwt-file",
                    "not set: locally, log in with `jwt-file` or set VAULT_TOKEN (auth-method token)",
                ));
            }
        }
    };
    Ok(Auth::Jwt { path, role, source })
}

fn given_jwt(origin: &str, var: Option<&str>, jwt: &str, input: &str) -> Result<JwtSource> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let b64 = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if parts.len() != 3 || !parts.iter().take(2).all(|p| b64(p)) {
        return Err(Error::input(
            input,
            format!("{origin} does not hold a JWT (header.payload.signature)"),
        ));
    }
    Ok(JwtSource::Given {
        origin: origin.to_string(),
        var: var.map(str::to_string),
        jwt: Secret::new(jwt),
    })
}

fn check_segment(input: &str, v: &str) -> Result<()> {
    if v.contains(['/', '?', '#', '%']) || v.contains(char::is_whitespace) || v.contains(char::is_control) {
        return Err(Error::input(
            input,
            format!("`{}` may not contain `/`, `?`, `#`, `%` or spaces", v.escape_debug()),
        ));
    }
    Ok(())
}

fn name_input(src: &Sources, name: &str) -> Result<Option<String>> {
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

fn pem_input(src: &Sources, name: &str) -> Result<Option<String>> {
    let Some(v) = src.text(name)? else { return Ok(None) };
    if v.trim_start().starts_with("-----BEGIN") {
        return Ok(Some(v));
    }
    let text = file::read_text(Path::new(v.trim())).map_err(|e| Error::input(name, format!("{}: {e}", v.trim())))?;
    if !text.contains("-----BEGIN") {
        return Err(Error::input(name, format!("{}: not a PEM file", v.trim())));
    }
    Ok(Some(text))
}

fn identity(src: &Sources) -> Result<Option<Secret>> {
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

fn parse_vars(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected NAME=VALUE", i + 1))?;
        let name = name.trim();
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "line {}: `{}` is not a Packer variable name",
                i + 1,
                name.escape_debug()
            ));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("line {}: `{name}` is given twice", i + 1));
        }
        out.push((name.to_string(), value.trim().to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
