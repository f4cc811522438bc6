//! packer-vault as users get it: a release made here, and a loopback server
//! that serves its assets as a GitHub release does.
//!
//! [`Release::make`] copies this repository's files (what `git ls-files`
//! lists, tracked or new) into a scratch checkout and runs the real
//! `dist/release` there over the test build of the binary
//! (`PACKER_VAULT_RELEASE_BINARY`), so the checkout carries `dist/VERSION`
//! and `dist/SHA256SUMS` exactly as a release commit does, and no `dist/bin`.
//! Its asset `packer-vault-<os>-<arch>` is served at
//! `<Release::download_url>/<asset>` (wiremock); any other path is a 404, as
//! on GitHub. [`bare_path`] is a `PATH` without cargo (and, on request,
//! without curl, with busybox's `wget` as on Alpine).

use std::path::{Path, PathBuf};
use std::process::Command;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::bao::block_on;

/// The asset name the launcher derives from `uname` on this machine.
pub fn asset_name() -> String {
    let os = if cfg!(target_os = "macos") { "darwin" } else { "linux" };
    let arch = if cfg!(target_arch = "aarch64") { "arm64" } else { "x64" };
    format!("packer-vault-{os}-{arch}")
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A release checkout and the server of its assets.
pub struct Release {
    /// The checkout (a copy of this repository with the release files).
    pub checkout: PathBuf,
    /// `dist/VERSION`.
    pub version: String,
    /// The asset's bytes as `dist/release` wrote them.
    pub asset: Vec<u8>,
    server: MockServer,
}

/// Copies the files `git ls-files` lists (tracked, and new but not ignored)
/// of this repository into `to`.
pub fn copy_repository(to: &Path) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("git")
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .current_dir(&root)
        .output()
        .expect("git ls-files");
    assert!(out.status.success(), "git ls-files: {out:?}");
    for name in out.stdout.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let from = root.join(&name);
        if !from.is_file() {
            continue; // listed but deleted in the work tree
        }
        let dest = to.join(&name);
        std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&from, &dest).unwrap_or_else(|e| panic!("copy {name}: {e}"));
    }
}

impl Release {
    /// A release of the test build in a new scratch checkout, served from
    /// loopback.
    pub fn make(kind: &str) -> Release {
        let checkout = super::scratch_dir(kind).join("packer-vault-action");
        copy_repository(&checkout);
        let out = Command::new("bash")
            .arg(checkout.join("dist/release"))
            .env("PACKER_VAULT_RELEASE_BINARY", env!("CARGO_BIN_EXE_packer-vault"))
            .output()
            .expect("dist/release");
        assert!(
            out.status.success(),
            "dist/release: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // What a release commit carries and a user's checkout has: no target/.
        let assets = checkout.join("target/release-assets");
        let asset = std::fs::read(assets.join(asset_name())).expect("the asset");
        std::fs::remove_dir_all(checkout.join("target")).expect("rm target");
        let version = std::fs::read_to_string(checkout.join("dist/VERSION"))
            .expect("dist/VERSION")
            .trim()
            .to_string();
        let release = Release {
            checkout,
            version,
            server: block_on(MockServer::start()),
            asset: asset.clone(),
        };
        release.serve(asset);
        release
    }

    /// Serves `bytes` as the asset from now on (a tampered release).
    pub fn serve(&self, bytes: Vec<u8>) {
        block_on(async {
            self.server.reset().await;
            Mock::given(method("GET"))
                .and(path(format!("/v{}/{}", self.version, asset_name())))
                .respond_with(
                    ResponseTemplate::new(200)
                        .insert_header("content-type", "application/octet-stream")
                        .set_body_bytes(bytes),
                )
                .mount(&self.server)
                .await;
        });
    }

    /// `PACKER_VAULT_DOWNLOAD_URL` for this release (the folder of its assets).
    pub fn download_url(&self) -> String {
        format!("{}/v{}", self.server.uri(), self.version)
    }

    /// Requests the server has answered, as `METHOD /path`.
    pub fn requests(&self) -> Vec<String> {
        block_on(self.server.received_requests())
            .unwrap_or_default()
            .iter()
            .map(|r| format!("{} {}", r.method, r.url.path()))
            .collect()
    }

    /// The launcher of the checkout.
    pub fn launcher(&self) -> PathBuf {
        self.checkout.join("dist/packer-vault")
    }

    /// Where the launcher caches the binary under the cache root `cache`
    /// (`RUNNER_TOOL_CACHE` or `XDG_CACHE_HOME`).
    pub fn cached(&self, cache: &Path) -> PathBuf {
        let platform = asset_name().trim_start_matches("packer-vault-").to_string();
        cache.join(format!("packer-vault/{}/{platform}/packer-vault", self.version))
    }
}

/// A directory of links to every program in `/usr/local/bin`, `/usr/bin` and
/// `/bin` except cargo and rustc (and, with `no_curl`, curl, with `wget`,
/// `sha256sum`, `awk`, `grep` and the other tools the launcher uses being
/// busybox's where it is installed): the `PATH` of a runner with no Rust
/// toolchain, or of an Alpine image.
pub fn bare_path(dir: &Path, no_curl: bool) -> String {
    let bin = dir.join(if no_curl { "bare-bin-no-curl" } else { "bare-bin" });
    std::fs::create_dir_all(&bin).expect("mkdir");
    let skip = |name: &str| matches!(name, "cargo" | "rustc" | "rustup") || (no_curl && name == "curl");
    for from in ["/usr/local/bin", "/usr/bin", "/bin"] {
        let Ok(entries) = std::fs::read_dir(from) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let link = bin.join(&name);
            if skip(&name) || link.symlink_metadata().is_ok() {
                continue;
            }
            let _ = std::os::unix::fs::symlink(entry.path(), &link);
        }
    }
    if no_curl && Path::new("/usr/bin/busybox").exists() {
        // As on Alpine: busybox's wget, and its versions of the tools the
        // launcher and the template's script use.
        for tool in [
            "wget",
            "sha256sum",
            "awk",
            "grep",
            "sed",
            "cut",
            "head",
            "mktemp",
            "mv",
            "cp",
            "chmod",
            "rm",
            "mkdir",
            "uname",
            "dirname",
            "cat",
            "sleep",
            "printf",
        ] {
            let link = bin.join(tool);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink("/usr/bin/busybox", &link).expect("link a busybox tool");
        }
    }
    bin.display().to_string()
}

/// `git ARGS` in `dir` as a test user; panics with git's stderr on failure;
/// returns stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-C"])
        .arg(dir)
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Copies the tree `from` into `to` (files and folders; links are followed).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display())) {
        let entry = entry.expect("entry");
        let dest = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest).unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}
