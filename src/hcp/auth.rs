//! The client-credentials token for HCP's API.

use super::{Endpoints, SERVICE, http_client};
use crate::remote::{Failure, retry};
use crate::secret::Secret;
use serde::Deserialize;

/// The audience HCP's token issuer expects.
pub const AUDIENCE: &str = "https://api.hashicorp.cloud";

/// The token issuer's answer (only what is used).
#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
}

/// Exchanges the service principal's credentials for a bearer token
/// (`POST <auth>/oauth2/token`, client-credentials grant).
pub async fn token(ep: &Endpoints, client_id: &Secret, client_secret: &Secret) -> Result<Secret, Failure> {
    token_with(
        &http_client(ep)?,
        ep,
        client_id,
        client_secret,
        retry::Policy::default(),
    )
    .await
}

/// [`token`] on a given HTTP client and retry policy.
pub(crate) async fn token_with(
    http: &reqwest::Client,
    ep: &Endpoints,
    client_id: &Secret,
    client_secret: &Secret,
    policy: retry::Policy,
) -> Result<Secret, Failure> {
    let what = "get an HCP token";
    let url = format!("{}/oauth2/token", ep.auth);
    let hide = [client_id.expose(), client_secret.expose()];
    retry::call(policy, super::SERVICE, what, || async {
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id.expose()),
            ("client_secret", client_secret.expose()),
            ("audience", AUDIENCE),
        ];
        let (status, after, text) = super::send(http.post(&url).form(&form), what).await?;
        if !(200..300).contains(&status) {
            let mut errors = Vec::new();
            if matches!(status, 400 | 401 | 403) {
                errors.push(
                    "the client credentials were refused (check HCP_CLIENT_ID and HCP_CLIENT_SECRET)".to_string(),
                );
            }
            return Err(super::refused(what, status, after, &text, &hide, errors));
        }
        let token = serde_json::from_str::<TokenAnswer>(&text)
            .ok()
            .and_then(|a| a.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Failure::status(SERVICE, what, status, vec!["the answer has no access_token".into()]))?;
        if reqwest::header::HeaderValue::from_str(&token).is_err() {
            return Err(Failure::status(
                SERVICE,
                what,
                status,
                vec!["the access_token is not a valid header value".into()],
            ));
        }
        Ok(Secret::new(token))
    })
    .await
}
