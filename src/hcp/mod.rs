//! HCP Packer: a client-credentials token, the organization and project, the
//! version a build produced (by fingerprint), channel assignment and the
//! portal links. Every call has a 5 s connect and 30 s request timeout and is
//! retried on transient failures; errors carry HCP's message, never a secret.

pub mod ancestry;
pub mod api;
pub mod auth;
pub mod buckets;
pub mod channels;
pub mod link;
pub mod location;
pub mod versions;
pub mod workload;

pub use api::Client;
pub use auth::token;
pub use channels::{Channel, ChannelAction};
pub use link::{bucket_url, version_url};
pub use versions::{Artifact, Build, Update, Version};

use crate::env::Env;
use crate::env::Platform;
use crate::error::Error;
use crate::remote::Failure;
use crate::secret::Secret;
use std::time::Duration;

/// Service name in every [`Failure`] of this module.
pub const SERVICE: &str = "HCP";
/// Connect timeout for every HCP request.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request timeout for every HCP request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Default of `HCP_API_ADDRESS`.
pub const DEFAULT_API: &str = "https://api.cloud.hashicorp.com";
/// Default of `HCP_AUTH_URL`.
pub const DEFAULT_AUTH: &str = "https://auth.idp.hashicorp.com";
/// Default of `HCP_PORTAL_URL`.
pub const DEFAULT_PORTAL: &str = "https://portal.cloud.hashicorp.com";

/// Base URLs of HCP: API, token issuer and portal (no trailing `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// API base, e.g. `https://api.cloud.hashicorp.com`.
    pub api: String,
    /// Token issuer base; the token endpoint is `<auth>/oauth2/token`.
    pub auth: String,
    /// Portal base for links, e.g. `https://portal.cloud.hashicorp.com`.
    pub portal: String,
}

impl Endpoints {
    /// Reads `HCP_API_ADDRESS`, `HCP_AUTH_URL` and `HCP_PORTAL_URL` (each a
    /// URL or a bare host, then `https://`), with the defaults of the
    /// geography `HCP_GEOGRAPHY` names (HCP's US hosts, or `eu`'s).
    pub fn from_env(env: &Env) -> Result<Endpoints, Error> {
        Endpoints::resolve(env, env.get("HCP_GEOGRAPHY"))
    }

    /// [`Endpoints::from_env`] in `geography` (`us`, `eu`; `None`: `us`), as
    /// hcp-sdk-go's `config/geography` does: the address variables still win.
    pub fn resolve(env: &Env, geography: Option<&str>) -> Result<Endpoints, Error> {
        let (api, auth, portal) = match geography.map(str::trim) {
            None | Some("" | "us") => (DEFAULT_API, DEFAULT_AUTH, DEFAULT_PORTAL),
            Some("eu") => (EU_API, EU_AUTH, EU_PORTAL),
            Some(other) => {
                return Err(Error::Usage(format!(
                    "HCP_GEOGRAPHY: `{other}` is not a geography HCP has (us, eu)"
                )));
            }
        };
        let get = |name: &str, default: &str| base_url(name, env.get(name).unwrap_or(default));
        Ok(Endpoints {
            api: get("HCP_API_ADDRESS", api)?,
            auth: get("HCP_AUTH_URL", auth)?,
            portal: get("HCP_PORTAL_URL", portal)?,
        })
    }
}

/// HCP's EU API (hcp-sdk-go `config/geography`).
pub const EU_API: &str = "https://api.cloud.eu.hashicorp.com";
/// HCP's EU token issuer.
pub const EU_AUTH: &str = "https://auth.idp.eu.hashicorp.com";
/// HCP's EU portal.
pub const EU_PORTAL: &str = "https://portal.cloud.eu.hashicorp.com";

/// Normalizes one base URL: a bare host gets `https://`, the trailing `/`
/// goes; only http(s) URLs with a host and without query or fragment pass.
fn base_url(name: &str, value: &str) -> Result<String, Error> {
    let value = value.trim();
    let bad = |why: &str| {
        Error::Usage(format!(
            "{name}: {why} (want a URL such as https://host or a bare host)"
        ))
    };
    let full = if value.contains("://") {
        value.to_string()
    } else {
        format!("https://{value}")
    };
    let url = reqwest::Url::parse(&full).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("no query, fragment or credentials allowed"));
    }
    Ok(full.trim_end_matches('/').to_string())
}

/// The default `hcp-fingerprint` of the platform: GitHub
/// `<GITHUB_SHA:12>-<GITHUB_RUN_ID>-<GITHUB_RUN_ATTEMPT>`, GitLab
/// `<CI_COMMIT_SHA:12>-<CI_PIPELINE_ID>-<CI_JOB_ID>`; `None` elsewhere or when
/// a variable is missing.
pub fn default_fingerprint(platform: Platform, env: &Env) -> Option<String> {
    let [sha, a, b] = match platform {
        Platform::Github => ["GITHUB_SHA", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT"],
        Platform::Gitlab => ["CI_COMMIT_SHA", "CI_PIPELINE_ID", "CI_JOB_ID"],
        Platform::Local => return None,
    };
    let sha: String = env.get(sha)?.trim().chars().take(12).collect();
    let (a, b) = (env.get(a)?.trim(), env.get(b)?.trim());
    if sha.is_empty() || a.is_empty() || b.is_empty() {
        return None;
    }
    // HCP takes 40 characters at most: the commit gives way first (7 at least).
    let room = MAX_FINGERPRINT.saturating_sub(a.len() + b.len() + 2).clamp(7, 12);
    let fp = format!("{}-{a}-{b}", &sha[..room.min(sha.len())]);
    // Ids longer than any seen: keep the end, which tells runs apart.
    let fp = fp[fp.len().saturating_sub(MAX_FINGERPRINT)..]
        .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    check_fingerprint(&fp).ok().map(|()| fp)
}

/// Longest fingerprint HCP accepts (`CreateVersionBody.fingerprint`).
pub const MAX_FINGERPRINT: usize = 40;

/// HCP's rule for a version fingerprint: 1 to 40 ASCII letters, digits,
/// `-`, `.`, `_`, beginning and ending with a letter or digit.
pub fn check_fingerprint(fp: &str) -> Result<(), String> {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if fp.is_empty() || fp.len() > MAX_FINGERPRINT {
        return Err(format!("has {} characters; HCP takes 1 to {MAX_FINGERPRINT}", fp.len()));
    }
    if !fp.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) {
        return Err("may hold only letters, digits, `-`, `.` and `_`".into());
    }
    if !edge(fp.chars().next()) || !edge(fp.chars().last()) {
        return Err("must begin and end with a letter or digit".into());
    }
    Ok(())
}

/// The HTTP client of every HCP call: timeouts, no redirects (a redirect
/// would resend the client secret or the bearer elsewhere).
pub(crate) fn http_client(ep: &Endpoints) -> Result<reqwest::Client, Failure> {
    let https = crate::remote::is_https(&ep.api) || crate::remote::is_https(&ep.auth);
    crate::remote::client_builder(https, Vec::new())
        .map_err(|e| Failure {
            service: SERVICE,
            what: "set up the HTTP client for HCP".into(),
            status: None,
            errors: vec![e],
            retry_after: None,
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("packer-vault/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Failure::transport(SERVICE, "set up the HTTP client for HCP", &e))
}

/// The messages of an HCP error body: `{"code", "message", "details"}` from
/// the API, `{"error", "error_description"}` from the token issuer. Nothing
/// from a body that is not JSON, and every `hide` value replaced by `***`.
pub(crate) fn error_messages(body: &str, hide: &[&str]) -> Vec<String> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let field = |k: &str| {
        json.get(k)
            .and_then(serde_json::Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    let mut out = Vec::new();
    if let Some(m) = field("message") {
        out.push(m.to_string());
    }
    match (field("error"), field("error_description")) {
        (Some(e), Some(d)) => out.push(format!("{e}: {d}")),
        (Some(e), None) => out.push(e.to_string()),
        (None, Some(d)) => out.push(d.to_string()),
        (None, None) => {}
    }
    for m in &mut out {
        for h in hide.iter().filter(|h| h.len() >= 4) {
            if m.contains(h) {
                *m = m.replace(h, "***");
            }
        }
    }
    out
}

/// Sends one HCP request (JSON accepted): the status, `Retry-After` and the
/// body's text, whatever the status; a [`Failure`] only when no answer came.
pub(crate) async fn send(req: reqwest::RequestBuilder, what: &str) -> Result<(u16, Option<u64>, String), Failure> {
    let resp = req
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| Failure::transport(SERVICE, what, &e))?;
    let status = resp.status().as_u16();
    let after = retry_after(&resp);
    let text = resp.text().await.map_err(|e| Failure::transport(SERVICE, what, &e))?;
    Ok((status, after, text))
}

/// The [`Failure`] of an HCP error answer: `errors` first, then HCP's
/// messages (with every `hide` value replaced), and its `Retry-After`.
pub(crate) fn refused(
    what: &str,
    status: u16,
    after: Option<u64>,
    text: &str,
    hide: &[&str],
    errors: Vec<String>,
) -> Failure {
    let mut errors = errors;
    errors.extend(error_messages(text, hide));
    let mut f = Failure::status(SERVICE, what, status, errors);
    f.retry_after = after;
    f
}

/// Seconds from a response's `Retry-After` header.
pub(crate) fn retry_after(resp: &reqwest::Response) -> Option<u64> {
    crate::remote::retry_after(resp.headers())
}

/// The HCP client credentials: `HCP_CLIENT_ID` / `HCP_CLIENT_SECRET` among the
/// secrets read (normally), else from the environment.
pub fn credentials<'a>(
    items: impl Iterator<Item = &'a crate::vault::read::Item> + Clone,
    env: &Env,
) -> Option<(Secret, Secret)> {
    let find = |name: &str| {
        items
            .clone()
            .find(|i| i.env == name)
            .map(|i| i.value.clone())
            .or_else(|| env.get(name).map(Secret::new))
    };
    Some((find("HCP_CLIENT_ID")?, find("HCP_CLIENT_SECRET")?))
}

#[cfg(test)]
mod fingerprint_tests {
    use super::*;

    #[test]
    fn fingerprints_follow_hcps_rule_and_the_default_fits() {
        assert!(check_fingerprint("0123456789ab-9876543210-1").is_ok());
        assert!(check_fingerprint(&"a".repeat(40)).is_ok());
        assert!(check_fingerprint(&"a".repeat(41)).is_err());
        assert!(check_fingerprint("-a").is_err() && check_fingerprint("a_").is_err());
        assert!(check_fingerprint("a b").is_err() && check_fingerprint("").is_err());
        let sha = "0123456789abcdef0123456789abcdef01234567";
        // GitLab's ids today (pipelines ~10 digits, jobs ~11): the whole short sha.
        let env = Env::from([
            ("CI_COMMIT_SHA", sha),
            ("CI_PIPELINE_ID", "2212345678"),
            ("CI_JOB_ID", "10212345678"),
        ]);
        assert_eq!(
            default_fingerprint(Platform::Gitlab, &env).as_deref(),
            Some("0123456789ab-2212345678-10212345678")
        );
        // Far longer ids: the commit gives way, then the start.
        for (p, j) in [
            ("123456789012345", "98765432109876"),
            ("123456789012345678", "98765432109876543"),
        ] {
            let env = Env::from([("CI_COMMIT_SHA", sha), ("CI_PIPELINE_ID", p), ("CI_JOB_ID", j)]);
            let fp = default_fingerprint(Platform::Gitlab, &env).expect("a default");
            assert!(check_fingerprint(&fp).is_ok() && fp.ends_with(&format!("-{j}")), "{fp}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_defaults() {
        let ep = Endpoints::from_env(&Env::default()).unwrap();
        assert_eq!(ep.api, DEFAULT_API);
        assert_eq!(ep.auth, DEFAULT_AUTH);
        assert_eq!(ep.portal, DEFAULT_PORTAL);
    }

    #[test]
    fn endpoints_urls_and_bare_hosts() {
        let env = Env::from([
            ("HCP_API_ADDRESS", "api.example.com"),
            ("HCP_AUTH_URL", "http://127.0.0.1:8080/"),
            ("HCP_PORTAL_URL", "portal.example.com:8443/prefix/"),
        ]);
        let ep = Endpoints::from_env(&env).unwrap();
        assert_eq!(ep.api, "https://api.example.com");
        assert_eq!(ep.auth, "http://127.0.0.1:8080");
        assert_eq!(ep.portal, "https://portal.example.com:8443/prefix");
        // Empty counts as unset.
        let ep = Endpoints::from_env(&Env::from([("HCP_API_ADDRESS", "")])).unwrap();
        assert_eq!(ep.api, DEFAULT_API);
    }

    #[test]
    fn endpoints_refuse_bad_values() {
        for bad in ["ftp://x", "https://", "http://h/?q=1", "https://u:p@h", "not a host"] {
            let err = Endpoints::from_env(&Env::from([("HCP_AUTH_URL", bad)])).unwrap_err();
            assert!(err.to_string().starts_with("HCP_AUTH_URL: "), "{bad}: {err}");
            assert!(!err.to_string().contains("u:p"), "{err}");
        }
    }

    #[test]
    fn fingerprints() {
        let gh = Env::from([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_RUN_ID", "9876543210"),
            ("GITHUB_RUN_ATTEMPT", "2"),
        ]);
        assert_eq!(
            default_fingerprint(crate::env::Platform::detect(&gh), &gh).as_deref(),
            Some("0123456789ab-9876543210-2")
        );
        let gl = Env::from([
            ("GITLAB_CI", "true"),
            ("CI_COMMIT_SHA", "fedcba9876543210fedcba9876543210fedcba98"),
            ("CI_PIPELINE_ID", "555001"),
            ("CI_JOB_ID", "777001"),
        ]);
        assert_eq!(
            default_fingerprint(crate::env::Platform::detect(&gl), &gl).as_deref(),
            Some("fedcba987654-555001-777001")
        );
        let local = Env::from([
            ("GITHUB_SHA", "0123456789abcdef"),
            ("GITHUB_RUN_ID", "1"),
            ("GITHUB_RUN_ATTEMPT", "1"),
        ]);
        assert_eq!(default_fingerprint(crate::env::Platform::detect(&local), &local), None);
        let partial = Env::from([("GITLAB_CI", "true"), ("CI_COMMIT_SHA", "abc"), ("CI_PIPELINE_ID", "1")]);
        assert_eq!(
            default_fingerprint(crate::env::Platform::detect(&partial), &partial),
            None
        );
    }

    #[test]
    fn error_bodies() {
        assert_eq!(
            error_messages(r#"{"code":5,"message":"version not found","details":[]}"#, &[]),
            ["version not found"]
        );
        assert_eq!(
            error_messages(r#"{"error":"access_denied","error_description":"Unauthorized"}"#, &[]),
            ["access_denied: Unauthorized"]
        );
        assert!(error_messages("<html>bad gateway</html>", &[]).is_empty());
        assert_eq!(
            error_messages(r#"{"message":"bad id s3cr3tvalue"}"#, &["s3cr3tvalue"]),
            ["bad id ***"]
        );
    }
}
