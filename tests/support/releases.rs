//! A signed-release stand-in for `releases.hashicorp.com` (wiremock).
//!
//! [`Releases::start`] serves `/packer/9.9.9/` like HashiCorp does: a zip
//! holding a fake `packer` shell script (prints `Packer v9.9.9`) for this
//! machine's OS/arch, `packer_9.9.9_SHA256SUMS`, and its detached binary
//! OpenPGP signature `packer_9.9.9_SHA256SUMS.sig`. The signing keys are
//! throwaway Ed25519 keys generated once per test process with the `pgp`
//! crate: the trusted one (its public key is written to [`Releases::key_file`],
//! for `PACKER_VAULT_RELEASES_KEY`) signs with a signing subkey, as HashiCorp
//! does; the other one stands for an attacker. [`Variant`] picks what goes
//! wrong. Unknown paths answer 404.

use std::path::PathBuf;
use std::sync::OnceLock;

use pgp::composed::{
    ArmorOptions, DetachedSignature, EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedSecretKey,
    SubkeyParamsBuilder,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Password};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::bao::block_on;

/// The version the stand-in publishes.
pub const VERSION: &str = "9.9.9";
/// The `packer` the zip holds.
pub const FAKE_PACKER: &str = "#!/bin/sh\necho \"Packer v9.9.9\"\n";

/// What the stand-in serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// A correct release, binary `.sig`.
    Good,
    /// A correct release whose `.sig` is ASCII-armored.
    GoodArmoredSig,
    /// A correct release with only `.72D7468F.sig` (no plain `.sig`).
    KeyedSigOnly,
    /// The zip changed after `SHA256SUMS` was signed.
    TamperedZip,
    /// `SHA256SUMS` signed by another (untrusted) key.
    BadSignature,
    /// Nothing published for the version (every path 404).
    NotPublished,
}

/// A running stand-in.
pub struct Releases {
    server: MockServer,
    /// Armored public key of the trusted test key.
    pub key_file: PathBuf,
    /// Primary fingerprint of the trusted test key (upper-case hex).
    pub fingerprint: String,
    /// `<os>_<arch>` in HashiCorp's names for this machine.
    pub platform: String,
    /// `packer_9.9.9_<os>_<arch>.zip`.
    pub zip_name: String,
}

/// HashiCorp's OS/arch names for this machine (independent of the product's
/// own mapping on purpose).
pub fn platform() -> String {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{os}_{arch}")
}

/// A throwaway key: certify-only Ed25519 primary plus an Ed25519 signing subkey.
fn generate(uid: &str) -> SignedSecretKey {
    let mut sign = SubkeyParamsBuilder::default();
    sign.key_type(KeyType::Ed25519Legacy)
        .can_sign(true)
        .can_encrypt(EncryptionCaps::None)
        .can_authenticate(false);
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(false)
        .can_encrypt(EncryptionCaps::None)
        .primary_user_id(uid.into())
        .subkeys(vec![sign.build().expect("subkey params")]);
    params
        .build()
        .expect("key params")
        .generate(rand::thread_rng())
        .expect("generate a test OpenPGP key")
}

/// (trusted, untrusted) keys, generated once per process.
fn keys() -> &'static (SignedSecretKey, SignedSecretKey) {
    static KEYS: OnceLock<(SignedSecretKey, SignedSecretKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        (
            generate("packer-vault test releases <releases@test.invalid>"),
            generate("Mallory <mallory@test.invalid>"),
        )
    })
}

/// Detached binary signature over `data` by the signing subkey of `key`.
fn sign(key: &SignedSecretKey, data: &[u8]) -> DetachedSignature {
    DetachedSignature::sign_binary_data(
        rand::thread_rng(),
        &key.secret_subkeys[0].key,
        &Password::empty(),
        HashAlgorithm::Sha256,
        data,
    )
    .expect("sign SHA256SUMS")
}

/// A zip like HashiCorp's: the executable `packer` and a `LICENSE.txt`.
pub fn zip_with_packer(script: &str) -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    w.start_file("LICENSE.txt", opts.unix_permissions(0o644))
        .expect("zip entry");
    w.write_all(b"Test fixture, not HashiCorp's license.\n")
        .expect("zip write");
    w.start_file("packer", opts.unix_permissions(0o755)).expect("zip entry");
    w.write_all(script.as_bytes()).expect("zip write");
    w.finish().expect("finish zip").into_inner()
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

impl Releases {
    /// Starts a stand-in serving `variant`.
    pub fn start(variant: Variant) -> Releases {
        let (trusted, untrusted) = keys();
        let platform = platform();
        let zip_name = format!("packer_{VERSION}_{platform}.zip");
        let sums_name = format!("packer_{VERSION}_SHA256SUMS");

        let mut zip = zip_with_packer(FAKE_PACKER);
        // Other platforms' lines around ours, as in the real file.
        let sums = format!(
            "{}  packer_{VERSION}_darwin_arm64.zip\n{}  {zip_name}\n{}  packer_{VERSION}_windows_386.zip\n",
            "0".repeat(64),
            sha256_hex(&zip),
            "f".repeat(64),
        );
        let signer = if variant == Variant::BadSignature {
            untrusted
        } else {
            trusted
        };
        let sig = sign(signer, sums.as_bytes());
        let sig_bytes = if variant == Variant::GoodArmoredSig {
            sig.to_armored_bytes(ArmorOptions::default())
                .expect("armor the signature")
        } else {
            sig.to_bytes().expect("serialize the signature")
        };
        if variant == Variant::TamperedZip {
            let last = zip.len() - 1;
            zip[last] ^= 0x01;
        }
        let sig_name = if variant == Variant::KeyedSigOnly {
            format!("{sums_name}.72D7468F.sig")
        } else {
            format!("{sums_name}.sig")
        };

        let key_file = super::scratch_dir("releases-key").join("trusted.asc");
        let public = trusted
            .to_public_key()
            .to_armored_string(ArmorOptions::default())
            .expect("armor the public key");
        std::fs::write(&key_file, public).expect("write the test public key");
        let fingerprint: String = trusted
            .fingerprint()
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();

        let files: Vec<(String, Vec<u8>)> = if variant == Variant::NotPublished {
            Vec::new()
        } else {
            vec![
                (sums_name, sums.into_bytes()),
                (sig_name, sig_bytes),
                (zip_name.clone(), zip),
            ]
        };
        let server = block_on(async {
            let server = MockServer::start().await;
            for (name, body) in files {
                Mock::given(method("GET"))
                    .and(path(format!("/packer/{VERSION}/{name}")))
                    .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
                    .mount(&server)
                    .await;
            }
            server
        });
        Releases {
            server,
            key_file,
            fingerprint,
            platform,
            zip_name,
        }
    }

    /// Base URL for `PACKER_VAULT_RELEASES_URL` (`http://127.0.0.1:<port>`).
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Paths of every request received so far, in order.
    pub fn requests(&self) -> Vec<String> {
        block_on(self.server.received_requests())
            .unwrap_or_default()
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect()
    }
}
