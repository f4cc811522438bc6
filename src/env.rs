//! The process environment, as every module reads it, and the CI it says
//! the binary runs in. A leaf: it imports nothing of the crate.

use std::collections::BTreeMap;
use std::path::Path;

/// Largest file named by an input (config, lock, PEM, JWT), in bytes.
pub const MAX_FILE_SIZE: u64 = 1 << 20;

/// A snapshot of the process environment; an empty value counts as unset
/// (GitHub sets `INPUT_*` to "" for inputs the user left out).
#[derive(Debug, Clone, Default)]
pub struct Env(BTreeMap<String, String>, std::collections::BTreeSet<String>);

impl Env {
    /// The current process environment (variables that are not UTF-8 are skipped).
    pub fn from_process() -> Env {
        let mut env = Env::default();
        for (k, v) in std::env::vars_os() {
            match (k.into_string(), v.into_string()) {
                (Ok(k), Ok(v)) => {
                    env.0.insert(k, v);
                }
                (Ok(k), Err(_)) => {
                    env.1.insert(k);
                }
                _ => {}
            }
        }
        env
    }

    /// True when `name` is set to something that is not UTF-8.
    pub fn is_invalid(&self, name: &str) -> bool {
        self.1.contains(name)
    }

    /// A value, or `None` when unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// Sets a variable (tests and the launcher).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_string(), value.to_string());
    }
}

impl<const N: usize> From<[(&str, &str); N]> for Env {
    fn from(pairs: [(&str, &str); N]) -> Env {
        Env(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            Default::default(),
        )
    }
}

/// The CI, detected from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// `GITHUB_ACTIONS=true`.
    Github,
    /// `GITLAB_CI=true`.
    Gitlab,
    /// Anything else.
    Local,
}

impl Platform {
    /// Detects the platform: `GITHUB_ACTIONS=true` is GitHub, `GITLAB_CI=true` GitLab.
    pub fn detect(env: &Env) -> Platform {
        if env.get("GITHUB_ACTIONS") == Some("true") {
            Platform::Github
        } else if env.get("GITLAB_CI") == Some("true") {
            Platform::Gitlab
        } else {
            Platform::Local
        }
    }

    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Platform::Github => "GitHub Actions",
            Platform::Gitlab => "GitLab CI",
            Platform::Local => "local shell",
        }
    }
}

/// Reads a small UTF-8 text file named by an input (config, lock, PEM,
/// JWT), refusing huge or binary files; the error is the reason alone.
pub fn read_text(path: &Path) -> std::result::Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
    if meta.is_dir() {
        return Err("is a directory, expected a file".into());
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(format!("larger than {} KiB", MAX_FILE_SIZE / 1024));
    }
    let bytes = std::fs::read(path).map_err(|e| io_reason(&e))?;
    String::from_utf8(bytes).map_err(|_| "is not UTF-8 text".to_string())
}

/// A new directory under `root` that only this user can enter (0700 on
/// Unix, whatever the umask), removed when the value is dropped: for what
/// must not sit where neighbours on the runner can read or swap it.
pub fn private_dir(root: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix);
    #[cfg(unix)]
    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    b.tempdir_in(root)
}

/// GitHub's file-command variables: no child inherits them, and no secret
/// may be put under their names.
pub const FILE_COMMANDS: [&str; 5] = [
    "GITHUB_ENV",
    "GITHUB_OUTPUT",
    "GITHUB_PATH",
    "GITHUB_STATE",
    "GITHUB_STEP_SUMMARY",
];

/// The variable with which `dist/packer-vault` names the private directory
/// it copied this binary into.
pub const LAUNCH_DIR: &str = "PACKER_VAULT_LAUNCH_DIR";

/// Removes the launcher's private directory (named by [`LAUNCH_DIR`]) when
/// this very binary runs from it and it is this user's 0700 directory, and
/// drops the variable so no child inherits it. Call first thing in `main`,
/// while the process has one thread.
pub fn forget_launch_copy() {
    let Some(dir) = std::env::var_os(LAUNCH_DIR) else {
        return;
    };
    // SAFETY: called at the start of `main`, before any other thread exists.
    unsafe { std::env::remove_var(LAUNCH_DIR) };
    let dir = Path::new(&dir);
    let (Ok(exe), Ok(dir)) = (std::env::current_exe(), dir.canonicalize()) else {
        return;
    };
    if exe.parent() != Some(dir.as_path()) {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: getuid(2) cannot fail.
        let uid = unsafe { libc::getuid() };
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() && m.uid() == uid && m.mode() & 0o077 == 0 => {}
            _ => return,
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
