//! The checks behind a Packer install: the trusted OpenPGP key, the detached
//! signature of `SHA256SUMS`, and a file's SHA-256 against its line there.

use crate::error::{Error, Result};
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

fn hex_lower(bytes: &[u8]) -> String {
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
