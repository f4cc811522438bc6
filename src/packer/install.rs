//! Packer itself: the `packer` on `PATH`, or a pinned version installed from
//! HashiCorp's releases (`<base>/packer/<v>/`). An install is refused unless
//! the detached OpenPGP signature of `packer_<v>_SHA256SUMS` verifies against
//! the trusted key and the zip's SHA-256 matches its line there.
//!
//! The tool cache is shared with whoever else runs on the runner (self-hosted
//! runners, a shared volume, a GitLab shell executor), so nothing in it is
//! trusted for being there: a hash file beside a binary proves only that both
//! were written by the same hand. The cache keeps the signed release files
//! (the zip, `SHA256SUMS` and the signature that verified it), and every run
//! verifies them again against the key, then extracts `packer` into a private
//! directory of its own (0700, made by this process, removed when the run
//! ends) and runs it from there: what was verified is what runs, and no
//! neighbour can swap it between the check and the exec. The price is one
//! inflate of the zip per run (a few hundred ms for a 30 MB zip).

mod verify;

pub use verify::{HASHICORP_FINGERPRINT, Key, sha256_hex};

use crate::env::Env;
use crate::error::{Error, Result};
use crate::remote::Failure;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Who answers downloads, in failure messages.
const SERVICE: &str = "HashiCorp releases";
/// Where releases come from unless `PACKER_VAULT_RELEASES_URL` says otherwise.
const DEFAULT_BASE_URL: &str = "https://releases.hashicorp.com";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Whole-request timeout; a Packer zip is ~20-50 MB.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Largest `SHA256SUMS` or signature accepted.
const MAX_SMALL: usize = 1 << 20;
/// Largest zip, and largest extracted binary, accepted.
const MAX_BIG: usize = 1 << 30;
/// How long `packer version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how Packer is installed.
#[derive(Debug, Clone)]
pub struct Options {
    /// Releases server without a trailing slash (`https://releases.hashicorp.com`).
    pub base_url: String,
    /// Cache root; release files go to `<cache_dir>/packer/<v>/<os>_<arch>/`.
    pub cache_dir: PathBuf,
    /// Where the private per-run directory that `packer` runs from is made.
    pub private_root: PathBuf,
    /// The key trusted to sign `SHA256SUMS`.
    pub key: Key,
}

impl Options {
    /// Options from the environment: `PACKER_VAULT_RELEASES_URL` (default
    /// HashiCorp's), the cache under `RUNNER_TOOL_CACHE`, else
    /// `XDG_CACHE_HOME`, else `$HOME/.cache` (then `/packer-vault`), the
    /// private directory under `RUNNER_TEMP` (per job on GitHub), else the
    /// system's temporary directory, and the key in the file
    /// `PACKER_VAULT_RELEASES_KEY` names, else HashiCorp's.
    pub fn from_env(env: &Env) -> Result<Options> {
        let base_url = env
            .get("PACKER_VAULT_RELEASES_URL")
            .unwrap_or(DEFAULT_BASE_URL)
            .trim_end_matches('/');
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(Error::Usage("PACKER_VAULT_RELEASES_URL: must be an http(s) URL".into()));
        }
        let root = env
            .get("RUNNER_TOOL_CACHE")
            .map(PathBuf::from)
            .or_else(|| env.get("XDG_CACHE_HOME").map(PathBuf::from))
            .or_else(|| env.get("HOME").map(|h| Path::new(h).join(".cache")))
            .or_else(|| env.get("LOCALAPPDATA").map(PathBuf::from))
            .unwrap_or_else(std::env::temp_dir);
        let private_root = crate::env::private_root(env);
        let key = match env.get("PACKER_VAULT_RELEASES_KEY") {
            Some(file) => {
                Key::from_file(Path::new(file)).map_err(|e| Error::Usage(format!("PACKER_VAULT_RELEASES_KEY: {e}")))?
            }
            None => Key::hashicorp()?,
        };
        Ok(Options {
            base_url: base_url.to_string(),
            cache_dir: root.join("packer-vault"),
            private_root,
            key,
        })
    }
}

/// The Packer a run uses.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The executable.
    pub path: PathBuf,
    /// Its version, e.g. `1.11.2` (no `v`).
    pub version: String,
    /// True when this call downloaded it (false: found on `PATH` or cached).
    pub installed: bool,
    /// The private directory a pinned Packer runs from; removed when the
    /// last clone of this value is dropped.
    private: Option<std::sync::Arc<tempfile::TempDir>>,
}

impl PartialEq for Installed {
    fn eq(&self, other: &Installed) -> bool {
        (&self.path, &self.version, self.installed) == (&other.path, &other.version, other.installed)
    }
}

impl Installed {
    /// The private directory a pinned Packer runs from (`None` for the
    /// `packer` on `PATH`).
    pub fn private_dir(&self) -> Option<&Path> {
        self.private.as_deref().map(tempfile::TempDir::path)
    }
}

/// The Packer to run: without `version`, the `packer` on `PATH`; with one,
/// that release, verified from the cache (downloaded and verified when the
/// cache lacks it or fails the check) and extracted into a private
/// directory. `remove` names variables the `packer version` probe must not
/// inherit (our own credentials, as for every child).
pub async fn ensure(version: Option<&str>, opts: &Options, remove: &[String]) -> Result<Installed> {
    let Some(version) = version else {
        let path = find_on_path(std::env::var_os("PATH")).ok_or_else(|| {
            Error::input(
                "packer-version",
                "packer is not on PATH: install it or set packer-version",
            )
        })?;
        let version = version_of(&path, remove).await?;
        return Ok(Installed {
            path,
            version,
            installed: false,
            private: None,
        });
    };
    if !is_release_version(version) {
        return Err(Error::input("packer-version", "must be a version such as 1.11.2"));
    }
    let (os, arch) = platform()?;
    let names = Names::new(version, os, arch);
    let dir = opts.cache_dir.join("packer").join(version).join(format!("{os}_{arch}"));
    let key = opts.key.clone();
    let (cache, cached_names) = (dir.clone(), names.clone());
    let hit = tokio::task::spawn_blocking(move || from_cache(&cache, &cached_names, &key))
        .await
        .map_err(|e| Error::failed(format!("reading the Packer cache stopped: {e}")))?;
    let (zip, installed) = match hit {
        Some(zip) => (zip, false),
        None => {
            let release = download(&names, opts).await?;
            store(&dir, &names, &release);
            crate::log::info(&format!(
                "downloaded and verified Packer {version} ({os}_{arch}), cached in {}",
                dir.display()
            ));
            (release.zip, true)
        }
    };
    let root = opts.private_root.clone();
    let zip_name = names.zip.clone();
    let private = tokio::task::spawn_blocking(move || extract_private(&zip, &zip_name, &root))
        .await
        .map_err(|e| Error::failed(format!("extracting Packer stopped: {e}")))??;
    Ok(Installed {
        path: private.path().join(exe_name()),
        version: version.to_string(),
        installed,
        private: Some(std::sync::Arc::new(private)),
    })
}

/// The version `packer version` prints (`Packer v1.6.6` → `1.6.6`).
pub async fn version_of(packer: &Path, remove: &[String]) -> Result<String> {
    let shown = packer.display();
    let mut attempt = 0;
    let out = loop {
        let mut cmd = tokio::process::Command::new(packer);
        for v in remove {
            cmd.env_remove(v);
        }
        let run = cmd
            .arg("version")
            .env("CHECKPOINT_DISABLE", "1")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        match tokio::time::timeout(VERSION_TIMEOUT, run).await {
            Err(_) => return Err(Error::failed(format!("`{shown} version` did not finish within 30 s"))),
            // A just-written binary can be briefly busy while a concurrent
            // fork still holds its write handle.
            Ok(Err(e)) if text_file_busy(&e) && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Err(e)) => return Err(Error::failed(format!("cannot run {shown}: {e}"))),
            Ok(Ok(out)) => break out,
        }
    };
    if !out.status.success() {
        return Err(Error::failed(format!("`{shown} version` failed ({})", out.status)));
    }
    parse_version(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| Error::failed(format!("`{shown} version` printed no `Packer v<version>` line")))
}

/// True when Packer `version` is `min` or later (`1.14.2` ≥ (1, 14, 2)).
pub fn at_least(version: &str, min: (u64, u64, u64)) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u64>().unwrap_or(0));
    let v = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    v >= min
}

/// True when Packer `version` has `packer init` (1.7.0 and later).
pub fn supports_init(version: &str) -> bool {
    let mut parts = version
        .trim_start_matches('v')
        .split(|c: char| !c.is_ascii_digit())
        .map(str::parse::<u64>);
    match (parts.next(), parts.next()) {
        (Some(Ok(major)), Some(Ok(minor))) => (major, minor) >= (1, 7),
        _ => false,
    }
}

/// HashiCorp's names for this machine's OS and architecture
/// (`linux`/`darwin`/`windows`, `amd64`/`arm64`/`386`/`arm`).
pub fn platform() -> Result<(&'static str, &'static str)> {
    use std::env::consts::{ARCH, OS};
    let os = match OS {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "windows",
        _ => return Err(unsupported(OS, ARCH)),
    };
    let arch = match ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        _ => return Err(unsupported(OS, ARCH)),
    };
    Ok((os, arch))
}

fn unsupported(os: &str, arch: &str) -> Error {
    Error::failed(format!(
        "HashiCorp publishes no Packer for {os}/{arch}: install packer and leave packer-version empty"
    ))
}

fn exe_name() -> &'static str {
    if cfg!(windows) { "packer.exe" } else { "packer" }
}

/// `X.Y.Z` with an optional `-suffix` (letters, digits, dots): safe as a path part.
fn is_release_version(v: &str) -> bool {
    let (core, suffix) = v.split_once('-').unwrap_or((v, "a"));
    let nums: Vec<&str> = core.split('.').collect();
    nums.len() == 3
        && nums
            .iter()
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && !suffix.is_empty()
        && suffix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
}

fn parse_version(out: &str) -> Option<String> {
    let first = out.lines().map(str::trim).find(|l| !l.is_empty())?;
    let v = first.strip_prefix("Packer v")?.split_whitespace().next()?;
    let ok = v.starts_with(|c: char| c.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+'));
    ok.then(|| v.to_string())
}

/// The `packer` that the process's `PATH` finds, if any.
pub fn on_path() -> Option<PathBuf> {
    find_on_path(std::env::var_os("PATH"))
}

fn find_on_path(path: Option<OsString>) -> Option<PathBuf> {
    std::env::split_paths(&path?)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(exe_name()))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else { return false };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

fn text_file_busy(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::ETXTBSY)
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// The file names of one release for one platform.
#[derive(Debug, Clone)]
struct Names {
    version: String,
    sums: String,
    sig: String,
    zip: String,
}

impl Names {
    fn new(version: &str, os: &str, arch: &str) -> Names {
        let sums = format!("packer_{version}_SHA256SUMS");
        Names {
            version: version.to_string(),
            sig: format!("{sums}.sig"),
            sums,
            zip: format!("packer_{version}_{os}_{arch}.zip"),
        }
    }
}

/// A release as downloaded and verified.
struct Release {
    sums: Vec<u8>,
    sig: Vec<u8>,
    zip: Vec<u8>,
}

/// The zip of the cached release in `dir`, when its `SHA256SUMS` verifies
/// against `key` and the zip matches its line there; `None` (and a warning
/// when something was there but failed) otherwise.
fn from_cache(dir: &Path, names: &Names, key: &Key) -> Option<Vec<u8>> {
    let read = |name: &str, limit: usize| -> Option<Vec<u8>> {
        let file = std::fs::File::open(dir.join(name)).ok()?;
        let mut bytes = Vec::new();
        file.take(limit as u64 + 1).read_to_end(&mut bytes).ok()?;
        (bytes.len() <= limit).then_some(bytes)
    };
    let (Some(sums), Some(sig)) = (read(&names.sums, MAX_SMALL), read(&names.sig, MAX_SMALL)) else {
        return None;
    };
    let refuse = |why: &str| {
        crate::log::warn(&format!(
            "the cached Packer {} in {} {why}: downloading it again",
            names.version,
            dir.display()
        ));
        None
    };
    if !key.verifies(&sig, &sums) {
        return refuse(&format!("is not signed by the key {}", key.fingerprint()));
    }
    let want = verify::sum_for(&sums, &names.zip)?;
    let zip = read(&names.zip, MAX_BIG)?;
    if verify::sha256_hex(&zip) != want {
        return refuse(&format!("does not match its signed {}", names.sums));
    }
    Some(zip)
}

/// Downloads and verifies one release (signature, then the zip's sum).
async fn download(names: &Names, opts: &Options) -> Result<Release> {
    let http = crate::remote::client_builder(crate::remote::is_https(&opts.base_url), Vec::new())
        .map_err(Error::failed)?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!("packer-vault/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Failure::transport(SERVICE, "set up the HTTP client for HashiCorp releases", &e))?;
    let version = &names.version;
    let base = format!("{}/packer/{version}", opts.base_url);
    let platform = names
        .zip
        .trim_start_matches(&format!("packer_{version}_"))
        .trim_end_matches(".zip");
    let not_published = || Error::failed(format!("Packer {version} is not published for {platform}"));

    let sums = verify::fetch(&http, &base, &names.sums, MAX_SMALL)
        .await?
        .ok_or_else(not_published)?;
    let sig = verify::check_signature(&http, &base, &names.sums, &sums, &opts.key).await?;
    let want = verify::sum_for(&sums, &names.zip).ok_or_else(|| {
        Error::failed(format!(
            "{} has no line for {}: Packer {version} is not published for {platform}",
            names.sums, names.zip
        ))
    })?;
    let zip = verify::fetch(&http, &base, &names.zip, MAX_BIG)
        .await?
        .ok_or_else(not_published)?;
    // Hashing tens of MB is CPU work: off the runtime, where it would hold
    // up every other task (the signal handler's among them).
    let zip = tokio::task::spawn_blocking(move || (verify::sha256_hex(&zip) == want).then_some(zip))
        .await
        .map_err(|e| Error::failed(format!("checking Packer stopped: {e}")))?
        .ok_or_else(|| Error::failed(format!("{} does not match SHA256SUMS: refusing to install", names.zip)))?;
    Ok(Release { sums, sig, zip })
}

/// Keeps a verified release in the cache for the next run; a cache that
/// cannot be written costs only the next download.
fn store(dir: &Path, names: &Names, release: &Release) {
    let write = || -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::failed(format!("cannot create {}: {e}", dir.display())))?;
        write_atomically(&dir.join(&names.zip), &release.zip)?;
        write_atomically(&dir.join(&names.sig), &release.sig)?;
        write_atomically(&dir.join(&names.sums), &release.sums)
    };
    if let Err(e) = write() {
        crate::log::warn(&format!("cannot cache Packer {}: {e}", names.version));
    }
}

/// Extracts the `packer` entry of the verified `zip` into a new private
/// directory under `root` (0700, this process's), mode 0700.
fn extract_private(zip: &[u8], zip_name: &str, root: &Path) -> Result<tempfile::TempDir> {
    let bad = |e: &dyn std::fmt::Display| Error::failed(format!("{zip_name} cannot be read: {e}"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).map_err(|e| bad(&e))?;
    let mut entry = archive
        .by_name(exe_name())
        .map_err(|_| Error::failed(format!("{zip_name} holds no `{}`", exe_name())))?;
    let dir = crate::env::private_dir(root, "packer-vault-packer-")
        .map_err(|e| Error::failed(format!("cannot create a private directory in {}: {e}", root.display())))?;
    let dest = dir.path().join(exe_name());
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o700);
    let mut file = options
        .open(&dest)
        .map_err(|e| Error::failed(format!("cannot write {}: {e}", dest.display())))?;
    let copied = std::io::copy(&mut (&mut entry).take(MAX_BIG as u64 + 1), &mut file).map_err(|e| bad(&e))?;
    if copied > MAX_BIG as u64 {
        return Err(bad(&"the packer binary is larger than 1 GiB"));
    }
    file.sync_all().map_err(|e| bad(&e))?;
    Ok(dir)
}

fn write_atomically(dest: &Path, bytes: &[u8]) -> Result<()> {
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dest.with_file_name(format!(".{name}.tmp-{}-{:016x}", std::process::id(), fastrand::u64(..)));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, dest)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::failed(format!("cannot write {}: {e}", dest.display()))
    })
}

#[cfg(test)]
mod tests;
