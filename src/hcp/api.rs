//! The HCP API client: login, one retried call with HCP's message kept in
//! the [`Failure`], and one paginator for every list. The calls themselves
//! live beside their shapes: [`super::location`], [`super::versions`],
//! [`super::channels`].

use super::{Endpoints, SERVICE, http_client};
use crate::remote::{Failure, retry};
use crate::secret::Secret;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::ops::ControlFlow;

/// Most pages read from one list (a guard against a paginator that never
/// ends; HCP's pages hold up to 100 items, a cascade's children many pages).
pub(super) const MAX_PAGES: usize = 1000;

#[derive(Deserialize, Default)]
pub(super) struct Pagination {
    #[serde(default)]
    pub(super) next_page_token: String,
}

/// A page of an HCP list answer: it says where the next one starts.
pub(super) trait Page: DeserializeOwned {
    /// `pagination.next_page_token`, empty on the last page.
    fn next_token(&self) -> &str;
}

/// A page type with a `pagination` field.
macro_rules! page {
    ($t:ty) => {
        impl Page for $t {
            fn next_token(&self) -> &str {
                self.pagination
                    .as_ref()
                    .map_or("", |p| p.next_page_token.as_str())
            }
        }
    };
}
pub(super) use page;

/// A logged-in HCP API client.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    endpoints: Endpoints,
    bearer: Secret,
    /// Retry policy for every call.
    pub policy: retry::Policy,
    /// When the bearer was issued and how long it lives (`expires_in`).
    life: Option<(std::time::Instant, std::time::Duration)>,
}

impl Client {
    /// A client that sends `bearer` (from [`super::token`]); makes no request.
    pub fn new(endpoints: Endpoints, bearer: Secret) -> Result<Client, Failure> {
        Ok(Client {
            http: http_client(&endpoints)?,
            endpoints,
            bearer,
            policy: retry::Policy::default(),
            life: None,
        })
    }

    /// This client, its bearer issued now to live `seconds` (`expires_in`).
    pub fn expiring_in(mut self, seconds: u64) -> Client {
        self.life = Some((std::time::Instant::now(), std::time::Duration::from_secs(seconds)));
        self
    }

    /// Whether the bearer is past, or close to, the end of its life (the
    /// last quarter of it, or its last minute): a later call needs a new one.
    pub fn bearer_expiring(&self) -> bool {
        self.life.is_some_and(|(issued, life)| {
            let left = life.saturating_sub(issued.elapsed());
            left <= (life / 4).min(std::time::Duration::from_secs(60))
        })
    }

    /// Gets a token for the service principal and returns a client using it.
    pub async fn login(endpoints: Endpoints, client_id: &Secret, client_secret: &Secret) -> Result<Client, Failure> {
        let http = http_client(&endpoints)?;
        let policy = retry::Policy::default();
        let bearer = super::auth::token_with(&http, &endpoints, client_id, client_secret, policy).await?;
        Ok(Client {
            http,
            endpoints,
            bearer,
            policy,
            life: None,
        })
    }

    /// The bearer token it sends (to mask it on the runner).
    pub fn bearer(&self) -> &Secret {
        &self.bearer
    }

    /// The base URLs in use.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Reads the list at `path` page by page (at most [`MAX_PAGES`]), giving
    /// each page to `each` until it breaks or the last page was read.
    /// Returns whether more pages were left unread.
    pub(super) async fn pages<T: Page>(
        &self,
        path: &[&str],
        query: &[(&str, &str)],
        what: &str,
        mut each: impl FnMut(T) -> ControlFlow<()>,
    ) -> Result<bool, Failure> {
        let mut token = String::new();
        for _ in 0..MAX_PAGES {
            let mut q = query.to_vec();
            if !token.is_empty() {
                q.push(("pagination.next_page_token", token.as_str()));
            }
            let page: T = parse(self.call(Method::GET, path, &q, None, what).await?, what)?;
            token = page.next_token().to_string();
            if each(page).is_break() {
                return Ok(!token.is_empty());
            }
            if token.is_empty() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A `GET` of one resource: its decoded answer, `None` on a 404.
    pub(super) async fn get_found<T: DeserializeOwned>(&self, path: &[&str], what: &str) -> Result<Option<T>, Failure> {
        match self.call(Method::GET, path, &[], None, what).await {
            Ok(v) => parse(v, what).map(Some),
            Err(f) if f.status == Some(404) => Ok(None),
            Err(f) => Err(f),
        }
    }

    /// One API call, retried: the JSON of a 2xx answer, else a [`Failure`]
    /// with HCP's message (a 404 too: callers decide what it means).
    pub(super) async fn call(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&Value>,
        what: &str,
    ) -> Result<Value, Failure> {
        let mut url =
            reqwest::Url::parse(&self.endpoints.api).map_err(|e| local(what, format!("bad API address: {e}")))?;
        url.path_segments_mut()
            .map_err(|_| local(what, "bad API address".into()))?
            .pop_if_empty()
            .extend(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {}", self.bearer.expose()))
            .map_err(|_| local(what, "the HCP token is not a valid header value".into()))?;
        auth.set_sensitive(true);
        let hide = [self.bearer.expose()];
        retry::call(self.policy, SERVICE, what, || async {
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .header(reqwest::header::AUTHORIZATION, auth.clone());
            if let Some(b) = body {
                req = req.json(b);
            }
            let (status, after, text) = super::send(req, what).await?;
            if !(200..300).contains(&status) {
                return Err(super::refused(what, status, after, &text, &hide, Vec::new()));
            }
            if text.trim().is_empty() {
                return Ok(Value::Null);
            }
            crate::remote::decode::text(&text)
                .map_err(|e| Failure::status(SERVICE, what, status, vec![format!("unexpected answer: {e}")]))
        })
        .await
    }
}

/// Path segments `packer/2023-01-01/organizations/{org}/projects/{project}/<rest>`.
pub(super) fn packer_path<'a>(org: &'a str, project: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut p = vec!["packer", "2023-01-01", "organizations", org, "projects", project];
    p.extend_from_slice(rest);
    p
}

/// A failure before any request was sent.
fn local(what: &str, msg: String) -> Failure {
    Failure {
        service: SERVICE,
        what: what.to_string(),
        status: None,
        errors: vec![msg],
        retry_after: None,
    }
}

/// Decodes a 2xx answer.
pub(super) fn parse<T: DeserializeOwned>(v: Value, what: &str) -> Result<T, Failure> {
    crate::remote::decode::value(v)
        .map_err(|e| Failure::status(SERVICE, what, 200, vec![format!("unexpected answer: {e}")]))
}
