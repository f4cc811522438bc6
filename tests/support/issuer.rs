//! An OIDC issuer on loopback, as Vault's `oidc_discovery_url` reads one:
//! `/.well-known/openid-configuration` naming this address as the issuer,
//! and its JWKS with the test key (`super::jwt::PUBLIC_KEY_PEM`). The
//! README's Vault setup runs against it in place of GitHub's or GitLab's.

use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::bao::block_on;

/// A running issuer (stops when dropped).
pub struct OidcIssuer {
    server: MockServer,
}

impl OidcIssuer {
    /// Starts the issuer.
    pub fn start() -> OidcIssuer {
        let server = block_on(MockServer::start());
        let uri = server.uri();
        block_on(async {
            Mock::given(path("/.well-known/openid-configuration"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "issuer": uri,
                    "jwks_uri": format!("{uri}/.well-known/jwks"),
                    "authorization_endpoint": format!("{uri}/authorize"),
                    "response_types_supported": ["id_token"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                })))
                .mount(&server)
                .await;
            Mock::given(path("/.well-known/jwks"))
                .respond_with(ResponseTemplate::new(200).set_body_json(jwks()))
                .mount(&server)
                .await;
        });
        OidcIssuer { server }
    }

    /// Its address, which is also its `iss`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }
}

/// The test key as a JWK set (`n` and `e` read from its DER).
fn jwks() -> serde_json::Value {
    use base64::Engine as _;
    let pkcs1 = super::jwt::public_key_pkcs1_der();
    let pkcs1 = pkcs1.as_slice();
    let (_, seq) = tlv(pkcs1);
    let (n_len_total, n) = tlv(seq);
    let (_, e) = tlv(&seq[n_len_total..]);
    let trim = |b: &[u8]| -> Vec<u8> { b.iter().copied().skip_while(|x| *x == 0).collect() };
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    json!({ "keys": [{
        "kty": "RSA", "alg": "RS256", "use": "sig", "kid": super::jwt::KEY_ID,
        "n": url.encode(trim(n)), "e": url.encode(trim(e)),
    }]})
}

/// One DER TLV at the start of `b`: (its whole length, its value).
fn tlv(b: &[u8]) -> (usize, &[u8]) {
    let (len, head) = match b[1] {
        l if l < 0x80 => (l as usize, 2),
        0x81 => (b[2] as usize, 3),
        0x82 => (((b[2] as usize) << 8) | b[3] as usize, 4),
        other => panic!("unexpected DER length byte {other:#x}"),
    };
    (head + len, &b[head..head + len])
}
