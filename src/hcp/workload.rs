//! HCP workload identity federation: the job's own identity token (GitHub
//! OIDC, GitLab `id_tokens:`) exchanged for a short-lived HCP access token,
//! so no HCP client secret exists anywhere.
//!
//! API facts, from hashicorp/hcp-sdk-go (`auth/workload/provider.go`, the IAM
//! 2019-12-10 client):
//! - `POST <api>/2019-12-10/{resource_name}/exchange-token`, unauthenticated,
//!   `{"jwt_token": "<JWT>"}` → `{"access_token", "expires_in"}`. The resource
//!   name is `iam/project/<project-id>/service-principal/<sp>/workload-identity-provider/<name>`;
//!   without allowed audiences on the provider, the JWT's `aud` must be it.
//! - `GET <api>/iam/2019-12-10/caller-identity` → `principal.service.{organization_id, project_id}`.

use super::api::{Client, parse};
use super::{Endpoints, SERVICE, http_client};
use crate::remote::{Failure, retry};
use crate::secret::Secret;
use reqwest::Method;
use serde::Deserialize;

/// Checks a provider's resource name; returns it, or what is wrong.
pub fn check_provider(name: &str) -> Result<String, String> {
    let name = name.trim().trim_matches('/');
    let seg: Vec<&str> = name.split('/').collect();
    let ok = seg.len() == 7
        && seg[0] == "iam"
        && seg[1] == "project"
        && seg[3] == "service-principal"
        && seg[5] == "workload-identity-provider"
        && [seg[2], seg[4], seg[6]]
            .iter()
            .all(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)));
    if !ok {
        return Err(format!(
            "`{}` is not a provider resource name: iam/project/<project-id>/service-principal/<name>/workload-identity-provider/<name>",
            crate::error::bounded(&name.escape_debug().to_string())
        ));
    }
    Ok(name.to_string())
}

/// The project id a provider's resource name holds.
pub fn project_of(provider: &str) -> Option<&str> {
    provider.split('/').nth(2)
}

#[derive(Deserialize)]
struct Exchanged {
    #[serde(default)]
    access_token: Option<String>,
    /// Seconds the access token lives (a string or a number).
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Exchanges `jwt` at `provider` for an access token and returns a client
/// that uses it.
pub async fn exchange(endpoints: Endpoints, provider: &str, jwt: &Secret) -> Result<Client, Failure> {
    let http = http_client(&endpoints)?;
    let what = "exchange the job's identity token at the HCP workload identity provider";
    let url = format!(
        "{}/2019-12-10/{provider}/exchange-token",
        endpoints.api.trim_end_matches('/')
    );
    let body = serde_json::json!({ "jwt_token": jwt.expose() });
    let hide = [jwt.expose()];
    let (token, life) = retry::call(retry::Policy::default(), SERVICE, what, || async {
        let (status, after, text) = super::send(http.post(&url).json(&body), what).await?;
        if !(200..300).contains(&status) {
            return Err(super::refused(what, status, after, &text, &hide, Vec::new()));
        }
        let answer = serde_json::from_str::<Exchanged>(&text).ok();
        let life = answer.as_ref().and_then(|a| match &a.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.trim_end_matches('s').parse().ok(),
            _ => None,
        });
        answer
            .and_then(|a| a.access_token)
            .filter(|t| !t.is_empty() && reqwest::header::HeaderValue::from_str(t).is_ok())
            .map(|t| (Secret::new(t), life))
            .ok_or_else(|| Failure::status(SERVICE, what, status, vec!["the answer has no access_token".into()]))
    })
    .await?;
    crate::log::hide([token.expose()]);
    let client = Client::new(endpoints, token)?;
    Ok(match life {
        Some(s) => client.expiring_in(s),
        None => client,
    })
}

#[derive(Deserialize, Default)]
struct Service {
    #[serde(default)]
    organization_id: String,
    #[serde(default)]
    project_id: String,
}

#[derive(Deserialize, Default)]
struct Principal {
    #[serde(default)]
    service: Option<Service>,
}

#[derive(Deserialize)]
struct Identity {
    #[serde(default)]
    principal: Principal,
}

impl Client {
    /// The organization and project of the caller (a service principal):
    /// `GET iam/2019-12-10/caller-identity`.
    pub async fn caller_location(&self) -> Result<(String, String), Failure> {
        let what = "ask HCP whom the token belongs to (caller-identity)";
        let v = self
            .call(Method::GET, &["iam", "2019-12-10", "caller-identity"], &[], None, what)
            .await?;
        let id: Identity = parse(v, what)?;
        match id.principal.service {
            Some(s) if !s.organization_id.is_empty() && !s.project_id.is_empty() => {
                Ok((s.organization_id, s.project_id))
            }
            _ => Err(Failure::status(
                SERVICE,
                what,
                200,
                vec!["the caller is no service principal of a project".into()],
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_names_are_checked() {
        let good = "iam/project/0c7d5b6f-1111-4c1b-8d2e-3f4a5b6c7d8e/service-principal/packer/workload-identity-provider/github";
        assert_eq!(check_provider(good).as_deref(), Ok(good));
        assert_eq!(project_of(good), Some("0c7d5b6f-1111-4c1b-8d2e-3f4a5b6c7d8e"));
        for bad in [
            "",
            "iam/project/p/service-principal/sp",
            "iam/project/p/service-principal/sp/workload-identity-provider/../x",
            "iam/project/p q/service-principal/sp/workload-identity-provider/x",
            "https://api.cloud.hashicorp.com/iam/project/p/service-principal/sp/workload-identity-provider/x",
        ] {
            assert!(check_provider(bad).is_err(), "{bad}");
        }
    }
}
