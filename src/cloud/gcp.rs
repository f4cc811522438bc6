//! Google Cloud: vault-plugin-secrets-gcp answers a service-account key
//! (`gcp/roleset|static-account/<n>/key`: `private_key_data`, the base64 of
//! a JSON key file, leased) or an access token (`.../token`: `token`, with
//! `token_ttl` and `expires_at_seconds`, not leased). The `gcp` preset
//! tells them apart by the answer's shape. A key goes to the command as a
//! file (Packer's googlecompute reads `GOOGLE_APPLICATION_CREDENTIALS`),
//! written into a private directory of this run's (0700, each file 0600)
//! and removed with it when the run ends, whichever way it ends; a token
//! as `GOOGLE_OAUTH_ACCESS_TOKEN`.

use super::{Delivery, Taken};
use crate::env::{Env, write_private};
use crate::error::{Error, Result};
use crate::secret::Secret;
use serde_json::{Map, Value};

/// The `gcp` preset: one of the two, by the answer's shape ([`take`]).
pub const KEYS: &[(&str, &str, bool)] = &[
    ("private_key_data", "GOOGLE_APPLICATION_CREDENTIALS", false),
    ("token", "GOOGLE_OAUTH_ACCESS_TOKEN", false),
];

/// The `gcp` preset applied to the answer at `path`, whose string values
/// `string` returns: a key file (and its private parts, masked only), or
/// an access token.
pub fn take(
    path: &str,
    string: &dyn Fn(&str) -> std::result::Result<Option<String>, String>,
) -> std::result::Result<Vec<Taken>, String> {
    use base64::Engine as _;
    let Some(data) = string("private_key_data")? else {
        return match string("token")? {
            Some(t) => Ok(vec![taken("GOOGLE_OAUTH_ACCESS_TOKEN", "token", t, Delivery::Value)]),
            None => Err(format!(
                "`{path}` holds neither `private_key_data` (a key) nor `token` (an access token): not a GCP secrets engine path"
            )),
        };
    };
    let bad = |why: &str| format!("`{path}` key `private_key_data`: {why}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| bad("not base64"))?;
    let text = String::from_utf8(bytes).map_err(|_| bad("not a JSON key file"))?;
    let key: Map<String, Value> = serde_json::from_str(&text).map_err(|_| bad("not a JSON key file"))?;
    if key.get("type").and_then(Value::as_str) != Some("service_account") {
        return Err(bad("not a service-account key file (`type` is not `service_account`)"));
    }
    let mut out = vec![taken(
        "GOOGLE_APPLICATION_CREDENTIALS",
        "private_key_data",
        text,
        Delivery::File,
    )];
    for part in ["private_key", "private_key_id"] {
        if let Some(v) = key.get(part).and_then(Value::as_str) {
            out.push(taken("", part, v.to_string(), Delivery::Masked));
        }
    }
    Ok(out)
}

fn taken(env: &'static str, key: &'static str, value: String, delivery: Delivery) -> Taken {
    Taken {
        env,
        key,
        value,
        delivery,
    }
}

/// The key files of one run, and the variables that name them.
#[derive(Debug, Default)]
pub struct KeyFiles {
    /// Removed, with the files, when dropped.
    _dir: Option<tempfile::TempDir>,
    /// `NAME` = the file's path, for the command's environment.
    pub vars: Vec<(String, Secret)>,
}

impl KeyFiles {
    /// Writes each (variable, contents) of `files` into a new private
    /// directory under `RUNNER_TEMP` (the system's temporary directory
    /// elsewhere); nothing, and no directory, when there is none.
    pub fn write<'a>(files: impl IntoIterator<Item = (&'a str, &'a Secret)>, env: &Env) -> Result<KeyFiles> {
        let files: Vec<(&str, &Secret)> = files.into_iter().collect();
        if files.is_empty() {
            return Ok(KeyFiles::default());
        }
        let root = crate::env::private_root(env);
        let dir = crate::env::private_dir(&root, "packer-vault-keys-")
            .map_err(|e| Error::failed(format!("cannot create a private directory in {}: {e}", root.display())))?;
        let mut vars = Vec::new();
        for (n, (var, contents)) in files.iter().enumerate() {
            let path = dir.path().join(format!("{}-{n}.json", var.to_ascii_lowercase()));
            write_private(&path, contents.expose().as_bytes())
                .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
            vars.push((var.to_string(), Secret::new(path.display().to_string())));
        }
        Ok(KeyFiles { _dir: Some(dir), vars })
    }
}
