//! The checks behind a Packer install: the trusted OpenPGP key, the detached
//! signature of `SHA256SUMS` (fetched with retries), and a file's SHA-256
//! against its line there.

use super::{MAX_SMALL, SERVICE};
use crate::error::{Error, Result};
use crate::remote::Failure;
use crate::remote::retry::{self, Policy};
use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey, SignedPublicSubKey};
use pgp::packet::SignatureType;
use pgp::types::KeyDetails;
use sha2::{Digest, Sha256};
use std::path::Path;

/// HashiCorp's release signing key, ASCII-armored (a copy of
/// <https://www.hashicorp.com/.well-known/pgp-key.txt>).
const HASHICORP_ASC: &str = include_str!("../hashicorp.asc");

/// Primary fingerprint of HashiCorp's release signing key.
pub const HASHICORP_FINGERPRINT: &str = "C874011F0AB405110D02105534365D9472D7468F";

/// An OpenPGP public key trusted to sign `SHA256SUMS` files: its primary key
/// and every signing subkey bound to it.
#[derive(Debug, Clone)]
pub struct Key {
    cert: SignedPublicKey,
    fingerprint: String,
    origin: String,
}

impl Key {
    /// HashiCorp's key, embedded in the binary.
    pub fn hashicorp() -> Result<Key> {
        Key::parse(HASHICORP_ASC.as_bytes(), "HashiCorp's embedded key")
    }

    /// The public key (armored or binary) in the file at `path`.
    pub fn from_file(path: &Path) -> Result<Key> {
        let bytes = std::fs::read(path)
            .map_err(|e| Error::failed(format!("cannot read the OpenPGP key {}: {e}", path.display())))?;
        Key::parse(&bytes, &path.display().to_string())
    }

    /// Parses a public key (armored or binary); `origin` names it in messages.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Key> {
        let (cert, _) = SignedPublicKey::from_reader_single(bytes)
            .map_err(|e| Error::failed(format!("{origin} is not an OpenPGP public key: {e}")))?;
        let fingerprint = hex_upper(cert.primary_key.fingerprint().as_bytes());
        Ok(Key {
            cert,
            fingerprint,
            origin: origin.to_string(),
        })
    }

    /// Primary fingerprint, upper-case hex without spaces.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Where the key came from (a path, or HashiCorp's embedded key).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// True for HashiCorp's key (by primary fingerprint).
    pub fn is_hashicorp(&self) -> bool {
        self.fingerprint == HASHICORP_FINGERPRINT
    }

    /// True when `signature` (a detached binary or text signature, armored or
    /// binary) over exactly `data` was made by the primary key or by a
    /// signing subkey validly bound to it.
    pub fn verifies(&self, signature: &[u8], data: &[u8]) -> bool {
        let Ok((sig, _)) = DetachedSignature::from_reader_single(signature) else {
            return false;
        };
        if !matches!(sig.signature.typ(), Some(SignatureType::Binary | SignatureType::Text)) {
            return false;
        }
        if sig.verify(&self.cert.primary_key, data).is_ok() {
            return true;
        }
        self.cert
            .public_subkeys
            .iter()
            .filter(|sub| self.can_sign(sub))
            .any(|sub| sig.verify(&sub.key, data).is_ok())
    }

    /// A subkey may sign when a binding signature by the primary key says
    /// so (with a valid back-signature) and no valid revocation exists.
    fn can_sign(&self, sub: &SignedPublicSubKey) -> bool {
        let primary = &self.cert.primary_key;
        let bound = |typ| {
            sub.signatures
                .iter()
                .filter(move |s| s.typ() == Some(typ))
                .filter(|s| s.verify_subkey_binding(primary, &sub.key).is_ok())
        };
        if bound(SignatureType::SubkeyRevocation).next().is_some() {
            return false;
        }
        bound(SignatureType::SubkeyBinding).any(|s| {
            s.key_flags().sign()
                && s.embedded_signature()
                    .is_some_and(|back| back.verify_primary_key_binding(&sub.key, primary).is_ok())
        })
    }
}

/// Verifies the detached signature of `SHA256SUMS`: `.sig`, then
/// `.72D7468F.sig` (HashiCorp's name for a signature by its current key)
/// when the first is missing or does not verify. Returns the signature
/// that verified, which the cache keeps to prove origin on every later hit.
pub(super) async fn check_signature(
    http: &reqwest::Client,
    base: &str,
    sums_name: &str,
    sums: &[u8],
    key: &Key,
) -> Result<Vec<u8>> {
    if !key.is_hashicorp() {
        crate::log::warn(&format!(
            "verifying Packer downloads with the OpenPGP key {} from {}, not HashiCorp's",
            key.fingerprint(),
            key.origin()
        ));
    }
    let mut published = false;
    for suffix in [".sig", ".72D7468F.sig"] {
        if let Some(sig) = fetch(http, base, &format!("{sums_name}{suffix}"), MAX_SMALL).await? {
            published = true;
            if key.verifies(&sig, sums) {
                return Ok(sig);
            }
        }
    }
    let whose = if key.is_hashicorp() {
        "HashiCorp's key".to_string()
    } else {
        format!("the key from {}", key.origin())
    };
    Err(Error::failed(if published {
        format!(
            "the signature of {sums_name} does not verify against {whose} {}: refusing to install",
            key.fingerprint()
        )
    } else {
        format!("{sums_name} has no signature (.sig or .72D7468F.sig): refusing to install")
    }))
}

/// GETs `<base>/<name>` with retries; `None` on 404.
pub(super) async fn fetch(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    limit: usize,
) -> Result<Option<Vec<u8>>, Failure> {
    let url = format!("{base}/{name}");
    let what = format!("download {name}");
    let (url, what) = (&url, &what);
    retry::run(Policy::default(), || async move {
        let transport = |e: reqwest::Error| Failure::transport(SERVICE, what, &e);
        let mut resp = http.get(url).send().await.map_err(transport)?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let mut f = Failure::status(SERVICE, what, status.as_u16(), Vec::new());
            f.retry_after = crate::remote::retry_after(resp.headers());
            return Err(f);
        }
        let too_big = || {
            Failure::status(
                SERVICE,
                what,
                status.as_u16(),
                vec![format!("larger than {} MiB", limit >> 20)],
            )
        };
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_big());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    })
    .await
}

/// The SHA-256 that `sums` (a `SHA256SUMS` file: `<hex>  <name>` lines)
/// lists for `file`, lower-case.
pub fn sum_for(sums: &[u8], file: &str) -> Option<String> {
    String::from_utf8_lossy(sums).lines().find_map(|line| {
        let mut parts = line.split_whitespace();
        let (hash, name) = (parts.next()?, parts.next()?);
        // `sha256sum -b` marks binary mode with a `*` before the name.
        let name = name.strip_prefix('*').unwrap_or(name);
        (name == file && hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| hash.to_ascii_lowercase())
    })
}

/// SHA-256 of `data`, lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex_lower(&Sha256::digest(data))
}

pub(super) fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packer_embedded_hashicorp_key_has_the_published_fingerprint() {
        let key = Key::hashicorp().expect("the embedded key parses");
        assert_eq!(key.fingerprint(), "C874011F0AB405110D02105534365D9472D7468F");
        assert!(key.is_hashicorp());
        assert!(key.cert.verify_bindings().is_ok(), "every self-signature verifies");
        // HashiCorp signs releases with the subkey 374E C75B 4859 1360 4A83 1CC7 C820 C6D5 CD27 AB87.
        let signer = key
            .cert
            .public_subkeys
            .iter()
            .find(|s| hex_upper(s.key.fingerprint().as_bytes()) == "374EC75B485913604A831CC7C820C6D5CD27AB87")
            .expect("the release signing subkey is present");
        assert!(key.can_sign(signer), "the signing subkey is validly bound");
    }

    /// A real release: `terraform-provider-aws_5.2.0_SHA256SUMS` and its
    /// detached signature by HashiCorp's subkey 374E C75B ... CD27 AB87
    /// (2023-06-09), base64-encoded (also checked with `gpg --verify`).
    const REAL_SUMS_B64: &str = "MGU0ODQ0OWU5ZjI5YjY0NjYzZTdmZjY0MWEzYmExZGE0MzQ2MDg0NjBjMzNhMjBiZGI0NWVmZWIx\
ZTA2N2Q0YSAgdGVycmFmb3JtLXByb3ZpZGVyLWF3c181LjIuMF9mcmVlYnNkX2FtZDY0LnppcAow\
ZWM2NTdhMWU1ODYwODczNjhjYzMwNTFjY2I4YmRmNjdlODc2M2U1MGVlY2U3NmI4ZGM0Njk1Zjhk\
MzQ5ZWJiICB0ZXJyYWZvcm0tcHJvdmlkZXItYXdzXzUuMi4wX3dpbmRvd3NfMzg2LnppcAoxY2Zm\
NTQxZTc5MjQ3N2M0ZGM4Yjg0MDVhNmY3NmE1NmQxMjkyZTIzZDZmYzM2Nzk5M2VmZWQyYjM5ODhj\
MjA4ICB0ZXJyYWZvcm0tcHJvdmlkZXItYXdzXzUuMi4wX29wZW5ic2RfYW1kNjQuemlwCjMxMmU3\
YzBjNTY3NDJjYjgzZDE4Y2IyYTNmMmRhMzVmNGQ5MjQ4MTM1M2IwYWMyYjU0ZDYzMzNkZjkxYzIz\
OTkgIHRlcnJhZm9ybS1wcm92aWRlci1hd3NfNS4yLjBfb3BlbmJzZF9hcm0uemlwCjM1MmJjOGE3\
M2ZkYjgyOTMwNmMxNDFmZmZjYjE3MDE3MmM3ODYwYzlmZmYwZTAyMjM5ZWY4Yzc3MWIzNDY4YTMg\
IHRlcnJhZm9ybS1wcm92aWRlci1hd3NfNS4yLjBfZGFyd2luX2FtZDY0LnppcAo0ZDU0MDNmOGQ1\
YThkYTRkYjZiY2Y5ZDhiNjBmYzc5MGIyZjJlMWNmNDk0MzhiYjJjM2Y2YzJjY2JmYTY3MmNiICB0\
ZXJyYWZvcm0tcHJvdmlkZXItYXdzXzUuMi4wX2ZyZWVic2RfYXJtLnppcAo0ZDkwYzlhNzU5Nzc4\
YTU1Mjc0ZjA1ZjY5YzhiMzhhMmQwZDFkZWY3OTJiYjU1NmFjNjE5NGU1OTc5NjUzZjU1ICB0ZXJy\
YWZvcm0tcHJvdmlkZXItYXdzXzUuMi4wX2xpbnV4X2FybTY0LnppcAo5MDMzZDAzZTA4OTY3YmYx\
ZWJiNDIwY2IxZjZlNzc3NTBhN2FhNzUwMzZhNTNhMGI2NzA5ZmRjMTA3YTgyOWQ5ICB0ZXJyYWZv\
cm0tcHJvdmlkZXItYXdzXzUuMi4wX2ZyZWVic2RfMzg2LnppcAo5YjEyYWY4NTQ4NmE5NmFlZGQ4\
ZDc5ODRiMGZmODExYTRiNDJlM2Q4OGRhZDFhM2ZiNGMwYjU4MGQwNGZhNDI1ICB0ZXJyYWZvcm0t\
cHJvdmlkZXItYXdzXzUuMi4wX21hbmlmZXN0Lmpzb24KYThjYmZmZWNmNWYxMjgwODFjZjYyZGJk\
NmUyZDY4MTA1MDMxZDA4YzM0OTllMzRkY2I2NjkyY2MxNDdkZWM5ZCAgdGVycmFmb3JtLXByb3Zp\
ZGVyLWF3c181LjIuMF9saW51eF8zODYuemlwCmJmMDc3OGFhMGI1M2UzZTY1YzI1ZmRjNGYxYjYz\
OWY0MDgyYTAxMjI2NDAwOTU4ZTQxMzU2MzBlMmQxMzJkNTYgIHRlcnJhZm9ybS1wcm92aWRlci1h\
d3NfNS4yLjBfbGludXhfYXJtLnppcApjOWRhMWFlNjhmYWE0YmM5ZjU4NWQxNzVlYjY2NmNiZmNk\
ZGFmY2RjZmQ2YTE4ZjNlY2QwNzE2MzFmYjRkNGM1ICB0ZXJyYWZvcm0tcHJvdmlkZXItYXdzXzUu\
Mi4wX29wZW5ic2RfMzg2LnppcApjYmMwNGVkZDdhODY4Y2YyNzEzZmQzMDFjYTM1N2FkYjk0MDAw\
M2QwYzAyZjUzNTFjOTg3ZTJhYjZlYWQyYTQ2ICB0ZXJyYWZvcm0tcHJvdmlkZXItYXdzXzUuMi4w\
X3dpbmRvd3NfYW1kNjQuemlwCmRhZTY0ZjMwNDdmMThmYWJlN2M1ZTlkNmJjY2ZiN2Y0YjQ3OTM5\
OTRjZWEwOTQ3ZGMxYWMxN2UxOTIyYmY3MTUgIHRlcnJhZm9ybS1wcm92aWRlci1hd3NfNS4yLjBf\
bGludXhfYW1kNjQuemlwCmY3YmFkMzk4MzQ3OWFmOTViNWIxY2JlNDMzMDVmYTY0OTIyMjJjYzRm\
MTdhNTEyNjc3ZGZhYjdjOThjYzQ4MGMgIHRlcnJhZm9ybS1wcm92aWRlci1hd3NfNS4yLjBfZGFy\
d2luX2FybTY0LnppcAo=";
    const REAL_SIG_B64: &str = "wsFzBAABCAAnBQJkg4UzCRDIIMbVzSerhxYhBDdOx1tIWRNgSoMcx8ggxtXNJ6uHAABwow/8CK+K\
FeWZemkJ2aC/RMZjlujvyd4vk/JGgK9dCnsvzTPcAqcbNSBRfzQFU6T54MZd3Hf1EcAaTqzpSSf7\
7sFF6IQBGKEt5bBkqwGc36XX8+KUteq2ZO81Z+pDC4n3ODttUXODi0JUup6dKMMJris7bEwVzgXF\
Ijp0sypILncmaVgScOF+U7IM4XDKveJuFQ+DwQCKA/64FB7qsd8pi8aUBtCThDxh0Z7xfEfyLULU\
QIDpma59ve6XgNBkBZLA85ba+SoVn+Tnue3opIeNLxo0ffXckEGuKn5Ez4NJc87J8TwqIsPZZwuR\
k2jNCQ//pauYUXzPFtM+j10aJyWwtV8GRnHQexMk1OfIT/d5o3lC3daYbcQoEzmMW7eB7bVQ0p7P\
GuqzoeYFVWqDAIzLO2BJgZE3KB7oeeRjzoagbIaGnara3Q4Cukz0EpZ3uDmqrK/hYe20tbHA2LlE\
x9d1qo6p7fkFE/ZEihlX2piV+9D6MrgvIthXHmHYiG9uD6KvA6UGXHRn6qmiBSBG8/3Rbh6GrTsx\
Xn6MMb4aV5AsdW11GJX4SnH3LVLWO7i/em706ths0weld2KkXa1B/gUe6ucFfM0xh3JfIoD6mVh6\
LISZ9LVjefyodjylJxUWlY8FMkg5UxM1o+SRmAIsxEHiaGrlEQ9HplZa7GxiQ2IQb2lL6NA=";

    fn b64(text: &str) -> Vec<u8> {
        use base64::Engine;
        let clean: String = text.split_whitespace().collect();
        base64::engine::general_purpose::STANDARD.decode(clean).expect("base64")
    }

    #[test]
    fn packer_real_hashicorp_signature_verifies_with_the_embedded_key() {
        let key = Key::hashicorp().expect("the embedded key parses");
        let (sums, sig) = (b64(REAL_SUMS_B64), b64(REAL_SIG_B64));
        assert!(key.verifies(&sig, &sums), "HashiCorp's own signature verifies");
        assert!(sum_for(&sums, "terraform-provider-aws_5.2.0_linux_amd64.zip").is_some());
        let mut tampered = sums.clone();
        tampered[0] ^= 1;
        assert!(!key.verifies(&sig, &tampered), "one changed byte breaks it");
    }

    #[test]
    fn packer_garbage_signature_does_not_verify() {
        let key = Key::hashicorp().expect("the embedded key parses");
        assert!(!key.verifies(b"not a signature", b"data"));
        assert!(!key.verifies(b"", b"data"));
    }

    #[test]
    fn packer_sum_for_finds_the_exact_name() {
        let a = "a".repeat(64);
        let b = "B".repeat(64);
        let sums =
            format!("{a}  packer_1.0.0_linux_amd64.zip\n{b} *packer_1.0.0_linux_arm64.zip\nzz  packer_1.0.0_x.zip\n");
        assert_eq!(sum_for(sums.as_bytes(), "packer_1.0.0_linux_amd64.zip"), Some(a));
        assert_eq!(
            sum_for(sums.as_bytes(), "packer_1.0.0_linux_arm64.zip"),
            Some("b".repeat(64))
        );
        assert_eq!(sum_for(sums.as_bytes(), "packer_1.0.0_linux_amd6.zip"), None);
        assert_eq!(sum_for(sums.as_bytes(), "packer_1.0.0_x.zip"), None);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
