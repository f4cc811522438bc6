//! The secrets spec: hashicorp/vault-action's `path key | NAME ;` syntax plus
//! `*`, `@N` version pins, `#` comments, presets, and the YAML long form.
//! Parsing is pure: it validates and groups, and touches no network.

use serde::Deserialize;
use std::collections::BTreeMap;

/// A named mapping of a secret engine's response to environment variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// AWS secrets engine: `access_key`, `secret_key`, `security_token`.
    Aws,
    /// GCP secrets engine: a key (`private_key_data`, the base64 of a JSON
    /// key file) becomes a private file named by
    /// `GOOGLE_APPLICATION_CREDENTIALS`; an access token (`token`) becomes
    /// `GOOGLE_OAUTH_ACCESS_TOKEN`. Decided by the answer's shape.
    Gcp,
    /// Azure secrets engine: `client_id`, `client_secret` (tenant and
    /// subscription come from inputs).
    Azure,
}

impl Preset {
    /// The preset called `name`, if any.
    pub fn from_name(name: &str) -> Option<Preset> {
        match name {
            "aws" => Some(Preset::Aws),
            "gcp" => Some(Preset::Gcp),
            "azure" => Some(Preset::Azure),
            _ => None,
        }
    }

    /// The preset's name in the spec (`aws`, `gcp`, `azure`).
    pub fn name(self) -> &'static str {
        match self {
            Preset::Aws => "aws",
            Preset::Gcp => "gcp",
            Preset::Azure => "azure",
        }
    }
}

/// What to take from one secret's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// One key into one variable.
    Key {
        /// The key in the secret's data.
        key: String,
        /// The environment variable that receives it.
        env: String,
    },
    /// Every key, each into its upper-cased name.
    All,
    /// A preset mapping.
    Preset(Preset),
}

/// HTTP method of a read (dynamic engines such as `aws/sts` accept POST).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Default)]
pub enum Method {
    /// GET, the default.
    #[default]
    #[serde(rename = "GET", alias = "get")]
    Get,
    /// POST with an optional JSON body.
    #[serde(rename = "POST", alias = "post")]
    Post,
}

/// One HTTP request to Vault and everything taken from its answer. Entries
/// that name the same path (and version, method, body) share one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The path as written by the user (KV v2 with or without `data/`).
    pub path: String,
    /// KV v2 version pin (`@N` or `version:`).
    pub version: Option<u64>,
    /// GET or POST.
    pub method: Method,
    /// POST body (a JSON object); never holds secrets of ours.
    pub body: Option<serde_json::Value>,
    /// What to take from the answer.
    pub selectors: Vec<Selector>,
    /// The long form's `namespace:` (absolute, from the root namespace),
    /// sent as `X-Vault-Namespace` for this secret only; `None`: the login's.
    pub namespace: Option<String>,
}

/// The long form of one entry in the config file's `secrets:` list.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongEntry {
    /// Vault path.
    pub path: String,
    /// KV v2 version pin.
    pub version: Option<u64>,
    /// GET (default) or POST.
    #[serde(default)]
    pub method: Method,
    /// JSON body for POST.
    pub body: Option<serde_json::Value>,
    /// key -> variable; the key `*` takes every key.
    #[serde(default)]
    pub keys: BTreeMap<String, String>,
    /// A preset name such as `aws`.
    pub preset: Option<String>,
    /// The namespace to read it in, absolute (`admin/team-b`); default the
    /// login's.
    pub namespace: Option<String>,
}

/// Parses the one-line-per-entry syntax. Errors name the entry, never a value.
pub fn parse(text: &str) -> Result<Vec<Request>, String> {
    let mut out = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let line = match line.find('#') {
            Some(i) => &line[..i],
            None => line,
        };
        for entry in line.split(';') {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let (path, version, selector) =
                parse_entry(entry).map_err(|e| format!("line {}: `{entry}`: {e}", lineno + 1))?;
            push(&mut out, Target::new(path, version, Method::Get, None, None), selector);
        }
    }
    Ok(out)
}

/// Parses the YAML long form into requests.
pub fn from_long(entries: &[LongEntry]) -> Result<Vec<Request>, String> {
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let at = |what: String| format!("entry {} (`{}`): {what}", i + 1, e.path);
        let path = check_path(&e.path).map_err(at)?;
        if e.version == Some(0) {
            return Err(at("`version` must be a positive integer".into()));
        }
        if e.body.is_some() && e.method != Method::Post {
            return Err(at("`body` needs `method: POST`".into()));
        }
        if let Some(b) = &e.body
            && !b.is_object()
        {
            return Err(at("`body` must be a map".into()));
        }
        let mut selectors = Vec::new();
        if let Some(p) = &e.preset {
            let p = Preset::from_name(p).ok_or_else(|| at(format!("unknown preset `{p}` (known: aws, gcp, azure)")))?;
            selectors.push(Selector::Preset(p));
        }
        for (key, env) in &e.keys {
            if key == "*" {
                selectors.push(Selector::All);
            } else {
                check_key(key).map_err(at)?;
                check_env(env).map_err(at)?;
                selectors.push(Selector::Key {
                    key: key.clone(),
                    env: env.clone(),
                });
            }
        }
        if selectors.is_empty() {
            return Err(at("needs `keys` or `preset`".into()));
        }
        let namespace = match &e.namespace {
            Some(ns) => Some(crate::namespace::check(ns).map_err(|m| at(format!("`namespace` {m}")))?),
            None => None,
        };
        for s in selectors {
            let target = Target::new(path.clone(), e.version, e.method, e.body.clone(), namespace.clone());
            push(&mut out, target, s);
        }
    }
    Ok(out)
}

/// The variable name for a key when none is given: upper-cased, every
/// character other than A-Z, 0-9 and `_` replaced with `_` (vault-action's rule).
pub fn default_env_name(key: &str) -> String {
    let mut s: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// What one request reads: everything of a [`Request`] but its selectors.
struct Target(Request);

impl Target {
    fn new(
        path: String,
        version: Option<u64>,
        method: Method,
        body: Option<serde_json::Value>,
        namespace: Option<String>,
    ) -> Target {
        Target(Request {
            path,
            version,
            method,
            body,
            selectors: Vec::new(),
            namespace,
        })
    }
}

/// Adds `selector` to the request for `target`, one request per target.
fn push(out: &mut Vec<Request>, target: Target, selector: Selector) {
    let t = target.0;
    if let Some(r) = out.iter_mut().find(|r| {
        r.path == t.path
            && r.version == t.version
            && r.method == t.method
            && r.body == t.body
            && r.namespace == t.namespace
    }) {
        if !r.selectors.contains(&selector) {
            r.selectors.push(selector);
        }
        return;
    }
    out.push(Request {
        selectors: vec![selector],
        ..t
    });
}

fn parse_entry(entry: &str) -> Result<(String, Option<u64>, Selector), String> {
    let (left, right) = match entry.split_once('|') {
        Some((l, r)) => (l.trim(), Some(r.trim())),
        None => (entry, None),
    };
    if right.is_some_and(|r| r.contains('|')) {
        return Err("more than one `|`".into());
    }
    let mut words = left.split_whitespace();
    let target = words.next().ok_or("missing path")?;
    let key = words.next();
    if let Some(extra) = words.next() {
        return Err(format!("unexpected `{extra}` (expected `path key | NAME`)"));
    }
    let (path, version) = split_version(target)?;
    let path = check_path(path)?;
    let selector = match (key, right) {
        (None, Some(r)) => match Preset::from_name(r) {
            Some(p) => Selector::Preset(p),
            None => {
                return Err(format!(
                    "`{r}` is not a preset (known: aws, gcp, azure); to take one key write `path key | NAME`"
                ));
            }
        },
        (None, None) => return Err("missing key (expected `path key | NAME`)".into()),
        (Some("*"), None) => Selector::All,
        (Some("*"), Some(_)) => return Err("`*` takes every key by its own name; drop `| NAME`".into()),
        (Some(k), r) => {
            check_key(k)?;
            let env = match r {
                Some("") => return Err("empty variable name after `|`".into()),
                Some(r) => r.to_string(),
                None => default_env_name(k),
            };
            check_env(&env)?;
            Selector::Key {
                key: k.to_string(),
                env,
            }
        }
    };
    Ok((path, version, selector))
}

fn split_version(target: &str) -> Result<(&str, Option<u64>), String> {
    match target.rsplit_once('@') {
        None => Ok((target, None)),
        Some((p, v)) => match v.parse::<u64>() {
            Ok(n) if n > 0 && !v.starts_with('+') => Ok((p, Some(n))),
            _ => Err(format!("version pin `@{v}` must be a positive integer")),
        },
    }
}

fn check_path(path: &str) -> Result<String, String> {
    let p = path.trim().trim_start_matches('/');
    if p.is_empty() {
        return Err("empty path".into());
    }
    if p.starts_with("v1/") {
        return Err("write the path without `/v1/`".into());
    }
    if let Some(c) = p
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "?#%\\@".contains(*c))
    {
        return Err(format!("path has the character {c:?}"));
    }
    if p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err("path has an empty, `.` or `..` segment".into());
    }
    if !p.contains('/') {
        return Err("path needs a mount and a name, like `secret/ci/packer`".into());
    }
    Ok(p.to_string())
}

fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("bad key `{}`", key.escape_debug()));
    }
    Ok(())
}

fn check_env(env: &str) -> Result<(), String> {
    let mut chars = env.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "`{}` is not a valid variable name (letters, digits, `_`; not starting with a digit)",
            env.escape_debug()
        ));
    }
    if crate::env::FILE_COMMANDS.contains(&env) || env == crate::env::LAUNCH_DIR {
        return Err(format!("`{env}` is the runner's own variable, not one for a secret"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, e: &str) -> Selector {
        Selector::Key {
            key: k.into(),
            env: e.into(),
        }
    }

    #[test]
    fn parses_the_interface_example() {
        let spec = "secret/data/ci/hcp client_id     | HCP_CLIENT_ID ;\n\
                    secret/data/ci/hcp client_secret | HCP_CLIENT_SECRET ;\n\
                    secret/ci/packer   *             ;  # all keys\n\
                    secret/ci/packer@3 ssh_key       | SSH_KEY ;\n\
                    aws/creds/packer-builder | aws ;";
        let r = parse(spec).unwrap();
        assert_eq!(r.len(), 4, "one request per distinct path and version");
        assert_eq!(r[0].path, "secret/data/ci/hcp");
        assert_eq!(
            r[0].selectors,
            vec![
                key("client_id", "HCP_CLIENT_ID"),
                key("client_secret", "HCP_CLIENT_SECRET")
            ]
        );
        assert_eq!(r[1].selectors, vec![Selector::All]);
        assert_eq!((r[2].path.as_str(), r[2].version), ("secret/ci/packer", Some(3)));
        assert_eq!(r[3].selectors, vec![Selector::Preset(Preset::Aws)]);
    }

    #[test]
    fn default_names_and_separators() {
        let r = parse("kv/app db-password; kv/app api.key\n\n# only a comment\nkv/other x|Y").unwrap();
        assert_eq!(
            r[0].selectors,
            vec![key("db-password", "DB_PASSWORD"), key("api.key", "API_KEY")]
        );
        assert_eq!(r[1].selectors, vec![key("x", "Y")]);
        assert_eq!(default_env_name("1st"), "_1ST");
    }

    #[test]
    fn rejects_bad_entries_with_their_line() {
        for (spec, want) in [
            ("kv/app", "missing key"),
            ("kv/app k | 9X", "not a valid variable name"),
            ("kv/app k | A-B", "not a valid variable name"),
            ("kv/app k | GITHUB_ENV", "the runner's own variable"),
            ("kv/app@0 k", "positive integer"),
            ("kv/app@x k", "positive integer"),
            ("kv/app@-1 k", "positive integer"),
            ("kv/app | oci", "not a preset"),
            ("kv/app * | X", "drop `| NAME`"),
            ("kv/../x k", "segment"),
            ("app k", "mount and a name"),
            ("/v1/kv/app k", "without `/v1/`"),
            ("kv/app k extra", "unexpected `extra`"),
            ("kv/app k | A | B", "more than one"),
            ("kv/a?b k", "character"),
        ] {
            let err = parse(&format!("\n{spec}")).unwrap_err();
            assert!(err.starts_with("line 2:"), "{spec}: {err}");
            assert!(err.contains(want), "{spec}: {err}");
        }
    }

    #[test]
    fn long_form() {
        let yaml = "- path: aws/sts/deploy\n  method: POST\n  body: {ttl: 30m}\n  preset: aws\n\
                    - path: kv/data/ci\n  version: 2\n  keys: {token: TOKEN, '*': ''}\n";
        let entries: Vec<LongEntry> = serde_saphyr::from_str(yaml).unwrap();
        let r = from_long(&entries).unwrap();
        assert_eq!(r[0].method, Method::Post);
        assert_eq!(r[0].body, Some(serde_json::json!({"ttl": "30m"})));
        assert_eq!(r[1].version, Some(2));
        assert!(r[1].selectors.contains(&Selector::All));
        let bad: Vec<LongEntry> = serde_saphyr::from_str("- path: kv/x\n").unwrap();
        assert!(from_long(&bad).unwrap_err().contains("needs `keys` or `preset`"));
        let bad: Vec<LongEntry> = serde_saphyr::from_str("- path: kv/x\n  body: {a: 1}\n  keys: {a: A}").unwrap();
        assert!(from_long(&bad).unwrap_err().contains("method: POST"));
        assert!(serde_saphyr::from_str::<Vec<LongEntry>>("- path: kv/x\n  keyz: {}").is_err());
    }
}
