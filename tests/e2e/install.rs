//! Packer discovery and verified install (`packer::install::ensure`) against
//! the signed-release stand-in ([`support::releases`]) and the real Debian
//! `packer` on `PATH`.

use std::path::{Path, PathBuf};
use std::process::Command;

use packer_vault::env::Env;
use packer_vault::error::Error;
use packer_vault::packer::install::{self, Installed, Options};

use crate::support::releases::{Releases, VERSION, Variant};
use crate::support::{block_on, scratch_dir};

/// Options as the binary builds them: stand-in URL, the test key file
/// (`PACKER_VAULT_RELEASES_KEY`) and a fresh tool cache.
fn options(rel: &Releases) -> (Options, PathBuf) {
    let cache = scratch_dir("packer-cache");
    let uri = format!("{}/", rel.uri());
    let key = rel.key_file.to_string_lossy().into_owned();
    let env = Env::from([
        ("PACKER_VAULT_RELEASES_URL", uri.as_str()),
        ("PACKER_VAULT_RELEASES_KEY", key.as_str()),
        ("RUNNER_TOOL_CACHE", &*cache.to_string_lossy()),
    ]);
    let opts = Options::from_env(&env).expect("options from the environment");
    assert_eq!(opts.base_url, rel.uri(), "trailing slash trimmed");
    assert_eq!(opts.key.fingerprint(), rel.fingerprint);
    (opts, cache)
}

fn ensure(opts: &Options) -> Result<Installed, Error> {
    block_on(install::ensure(Some(VERSION), opts, &[]))
}

#[track_caller]
fn refused(result: Result<Installed, Error>) -> String {
    match result {
        Err(e @ Error::Failed(_)) => {
            assert_eq!(e.exit_code(), 1);
            e.to_string()
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Runs `path` (retrying while a concurrent fork still holds the freshly
/// written file open: ETXTBSY) and returns its stdout.
fn run(path: &Path) -> String {
    for _ in 0..50 {
        match Command::new(path).output() {
            Ok(out) => {
                assert!(out.status.success(), "{path:?}: {out:?}");
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(50))
            }
            Err(e) => panic!("run {path:?}: {e}"),
        }
    }
    panic!("{path:?} stayed busy")
}

/// The cache directory of the test release on this platform.
fn cache_dir(cache: &Path, rel: &Releases) -> PathBuf {
    cache.join("packer-vault/packer").join(VERSION).join(&rel.platform)
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn install_verified_release_then_reuse_the_cache() {
    let rel = Releases::start(Variant::Good);
    let (opts, cache) = options(&rel);

    let got = ensure(&opts).expect("install the signed release");
    assert!(got.installed);
    assert_eq!(got.version, VERSION);
    assert_eq!(run(&got.path).trim(), "Packer v9.9.9");
    assert_eq!(block_on(install::version_of(&got.path, &[])).expect("version"), VERSION);
    // Packer runs from a private directory of this run's, not from the cache.
    let private = got.private_dir().expect("a private directory").to_path_buf();
    assert!(
        got.path.starts_with(&private) && !got.path.starts_with(&cache),
        "{got:?}"
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode(&private), 0o700);
        assert_eq!(mode(&got.path), 0o700);
    }
    let dir = cache_dir(&cache, &rel);
    assert_eq!(
        names(&dir),
        [
            "packer_9.9.9_SHA256SUMS".to_string(),
            "packer_9.9.9_SHA256SUMS.sig".to_string(),
            rel.zip_name.clone()
        ],
        "the signed release files, no binary and no temp files"
    );
    let requests = rel.requests();
    assert!(requests.iter().any(|p| p.ends_with(&rel.zip_name)), "{requests:?}");

    // Second call: the cache, verified again, no network at all; a new
    // private directory.
    let again = ensure(&opts).expect("cached");
    assert!(!again.installed);
    assert_eq!(run(&again.path).trim(), "Packer v9.9.9");
    assert_ne!(again.private_dir(), Some(private.as_path()));
    assert_eq!(rel.requests().len(), requests.len(), "no new requests");
    // The private directory goes with the last handle on it.
    drop(got);
    assert!(!private.exists(), "removed when the run ends");
}

#[test]
fn a_packer_planted_in_the_cache_never_runs() {
    let rel = Releases::start(Variant::Good);
    let (opts, cache) = options(&rel);
    let dir = cache_dir(&cache, &rel);
    let evidence = cache.join("planted-ran");
    let planted = format!(
        "#!/bin/sh\necho planted > '{}'\necho 'Packer v9.9.9'\n",
        evidence.display()
    );
    // What the review planted: a binary and a matching `.sha256`, as the
    // old cache layout trusted them.
    std::fs::create_dir_all(&dir).expect("mkdir");
    crate::support::executable(&dir.join("packer"), &planted);
    std::fs::write(
        dir.join("packer.sha256"),
        format!("{}\n", sha256_hex(planted.as_bytes())),
    )
    .expect("plant sum");
    let got = ensure(&opts).expect("installs afresh");
    assert!(got.installed, "the planted files proved nothing: downloaded");
    assert_eq!(run(&got.path).trim(), "Packer v9.9.9");
    assert!(!evidence.exists(), "the planted binary never ran");

    // A neighbour who rewrites the cached zip and its SHA256SUMS to match
    // cannot sign them: the next run downloads again.
    let zip = packer_vault_zip(&planted);
    std::fs::write(dir.join(&rel.zip_name), &zip).expect("swap the zip");
    std::fs::write(
        dir.join("packer_9.9.9_SHA256SUMS"),
        format!("{}  {}\n", sha256_hex(&zip), rel.zip_name),
    )
    .expect("swap the sums");
    let before = rel.requests().len();
    let again = ensure(&opts).expect("installs afresh");
    assert!(again.installed);
    assert!(rel.requests().len() > before);
    assert_eq!(run(&again.path).trim(), "Packer v9.9.9");
    assert!(!evidence.exists(), "the planted zip never ran");
}

fn packer_vault_zip(script: &str) -> Vec<u8> {
    crate::support::releases::zip_with_packer(script)
}

fn sha256_hex(bytes: &[u8]) -> String {
    packer_vault::packer::install::sha256_hex(bytes)
}

#[test]
fn install_redownloads_a_corrupted_cache() {
    let rel = Releases::start(Variant::Good);
    let (opts, cache) = options(&rel);
    ensure(&opts).expect("install");
    let before = rel.requests().len();
    std::fs::write(cache_dir(&cache, &rel).join(&rel.zip_name), "not a zip").expect("corrupt the cache");
    let again = ensure(&opts).expect("reinstall");
    assert!(again.installed, "reinstalled after a mismatch");
    assert!(rel.requests().len() > before);
    assert_eq!(run(&again.path).trim(), "Packer v9.9.9");
}

#[test]
fn install_accepts_armored_and_keyed_signatures() {
    for variant in [Variant::GoodArmoredSig, Variant::KeyedSigOnly] {
        let rel = Releases::start(variant);
        let (opts, _cache) = options(&rel);
        let got = ensure(&opts).unwrap_or_else(|e| panic!("{variant:?}: {e}"));
        assert!(got.installed);
        assert_eq!(run(&got.path).trim(), "Packer v9.9.9");
    }
}

#[test]
fn install_refuses_a_tampered_zip() {
    let rel = Releases::start(Variant::TamperedZip);
    let (opts, cache) = options(&rel);
    let msg = refused(ensure(&opts));
    assert_eq!(
        msg,
        format!(
            "packer_9.9.9_{}.zip does not match SHA256SUMS: refusing to install",
            rel.platform
        )
    );
    assert!(names(&cache_dir(&cache, &rel)).is_empty(), "nothing cached");
}

#[test]
fn install_refuses_a_signature_by_another_key() {
    let rel = Releases::start(Variant::BadSignature);
    let (opts, cache) = options(&rel);
    let msg = refused(ensure(&opts));
    assert!(
        msg.starts_with("the signature of packer_9.9.9_SHA256SUMS does not verify against"),
        "{msg}"
    );
    assert!(msg.contains(&rel.fingerprint), "{msg}");
    assert!(names(&cache_dir(&cache, &rel)).is_empty(), "nothing cached");
    let requests = rel.requests();
    assert!(
        !requests.iter().any(|p| p.ends_with(".zip")),
        "the zip is never fetched: {requests:?}"
    );
}

#[test]
fn install_reports_an_unpublished_version() {
    let rel = Releases::start(Variant::NotPublished);
    let (opts, _cache) = options(&rel);
    let msg = refused(ensure(&opts));
    assert_eq!(msg, format!("Packer 9.9.9 is not published for {}", rel.platform));
}

#[test]
fn install_finds_packer_on_path() {
    let opts = Options::from_env(&Env::from([("HOME", "/nonexistent")])).expect("options");
    let got = block_on(install::ensure(None, &opts, &[])).expect("packer on PATH");
    assert!(!got.installed);
    assert!(got.path.ends_with("packer"), "{got:?}");
    let out = Command::new(&got.path)
        .arg("version")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("packer version");
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(first, format!("Packer v{}", got.version));
    if got.path == Path::new("/usr/bin/packer") {
        assert_eq!(got.version, "1.6.6", "Debian's packer");
        assert!(!install::supports_init(&got.version));
    }
}

#[test]
fn install_refuses_the_test_release_under_hashicorps_key() {
    let rel = Releases::start(Variant::Good);
    let (mut opts, cache) = options(&rel);
    opts.key = install::Key::hashicorp().expect("embedded key");
    let msg = refused(ensure(&opts));
    assert_eq!(
        msg,
        "the signature of packer_9.9.9_SHA256SUMS does not verify against HashiCorp's key \
         C874011F0AB405110D02105534365D9472D7468F: refusing to install"
    );
    assert!(names(&cache_dir(&cache, &rel)).is_empty(), "nothing cached");
}
