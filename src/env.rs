//! The process environment, as every module reads it, and the CI it says
//! the binary runs in. A leaf: it imports nothing of the crate.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
/// must not sit where neighbours on the runner can read or swap it. Its
/// name carries this process's id (`<prefix><pid>-<random>`), so that
/// directories a killed run (SIGKILL) left behind are found and removed:
/// this sweeps them first.
pub fn private_dir(root: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    sweep_stale(root);
    let mut b = tempfile::Builder::new();
    let prefix = format!("{prefix}{}-", std::process::id());
    b.prefix(&prefix);
    #[cfg(unix)]
    b.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700));
    b.tempdir_in(root)
}

/// Creates `path` with mode 0600 (never wider, whatever the umask) and
/// writes `bytes`: a file in a [`private_dir`].
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Where a run's private directories go: the job's own temporary directory,
/// which the CI removes after the job (GitHub `RUNNER_TEMP`; GitLab
/// `${CI_PROJECT_DIR}.tmp`, where the runner keeps file variables), else
/// the system's.
pub fn private_root(env: &Env) -> PathBuf {
    if let Some(t) = env.get("RUNNER_TEMP") {
        return PathBuf::from(t);
    }
    if env.get("GITLAB_CI") == Some("true")
        && let Some(project) = env.get("CI_PROJECT_DIR")
    {
        let dir = PathBuf::from(format!("{}.tmp", project.trim_end_matches('/')));
        let made = match std::fs::create_dir(&dir) {
            Ok(()) => true,
            Err(e) => e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir(),
        };
        if made {
            return dir;
        }
    }
    std::env::temp_dir()
}

/// Removes the `packer-vault-<kind>-<pid>-*` directories of this user in
/// `root` whose process is gone.
fn sweep_stale(root: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(entries) = std::fs::read_dir(root) else { return };
        // SAFETY: getuid(2) cannot fail.
        let uid = unsafe { libc::getuid() };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = stale_pid(&name) else { continue };
            // SAFETY: kill with signal 0 only asks whether the process exists.
            let gone = unsafe { libc::kill(pid, 0) } != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
            let ours = std::fs::symlink_metadata(entry.path()).is_ok_and(|m| m.is_dir() && m.uid() == uid);
            if gone && ours {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// The process id in a private directory's name (`packer-vault-<kind>-<pid>-<random>`).
fn stale_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("packer-vault-")?;
    let mut parts = rest.splitn(3, '-');
    let (kind, pid, random) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = !kind.is_empty() && kind.chars().all(|c| c.is_ascii_lowercase()) && !random.is_empty();
    ok.then(|| pid.parse().ok()).flatten().filter(|p| *p > 0)
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

/// Writes `bytes` to `path` without following a link: a symbolic link at
/// `path` is refused (a committed link must not make us overwrite another
/// file of the runner's user), and the text goes to a new file beside it
/// (created exclusively), renamed into place. The file is 0644.
pub fn write_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "it is a symbolic link, which is not written through",
        ));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".packer-vault-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Makes this process non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`): its
/// `/proc/<pid>` files (`environ`, `mem`, ...) then belong to root, so a
/// child of the same user (Packer, its plugins and provisioners, `exec`'s
/// command) cannot read back what the parent holds. A child is dumpable
/// again once it execs; root (`CAP_SYS_PTRACE`) still reads everything.
pub fn forbid_dumps() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(2) with PR_SET_DUMPABLE takes plain integers.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Removes `names` from the process environment and overwrites their
/// values in the block the kernel copied onto the stack at exec, which is
/// what `/proc/<pid>/environ` shows whatever libc's table says. What the
/// run needs of them was read into an [`Env`] first. Call while the
/// process has one thread (before the async runtime starts).
pub fn scrub(names: &[String]) {
    for n in names {
        if !n.is_empty() && !n.contains(['=', '\0']) && std::env::var_os(n).is_some() {
            // SAFETY: called from `main_with_args` before any thread exists.
            unsafe { std::env::remove_var(n) };
        }
    }
    #[cfg(target_os = "linux")]
    if let Some((start, end)) = initial_block() {
        // SAFETY: [start, end) is the environment block the kernel placed
        // on this process's stack at exec (`/proc/self/stat` fields 50 and
        // 51); it stays mapped and writable for the life of the process.
        // After `remove_var` no pointer of libc's table refers to the
        // values overwritten here, and no Rust reference ever did.
        let block = unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
        blank_values(block, names);
    }
}

/// The initial environment block, from `/proc/self/stat`.
#[cfg(target_os = "linux")]
fn initial_block() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3; env_start and env_end are fields 50 and 51.
    let start: usize = fields.get(47)?.parse().ok()?;
    let end: usize = fields.get(48)?.parse().ok()?;
    (start != 0 && end > start && end - start <= 16 << 20).then_some((start, end))
}

/// Zeroes the value of every `NAME=VALUE` entry of `block` (NUL-separated)
/// whose name is one of `names`.
fn blank_values(block: &mut [u8], names: &[String]) {
    let mut i = 0;
    while i < block.len() {
        let len = block[i..].iter().position(|&b| b == 0).unwrap_or(block.len() - i);
        let entry = &block[i..i + len];
        if let Some(eq) = entry.iter().position(|&b| b == b'=')
            && names.iter().any(|n| n.as_bytes() == &entry[..eq])
        {
            block[i + eq + 1..i + len].fill(0);
        }
        i += len + 1;
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_never_follow_a_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep").expect("write");
        let link = dir.path().join("report.md");
        std::os::unix::fs::symlink(&victim, &link).expect("symlink");
        let e = write_file(&link, b"report").expect_err("a link is refused");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(std::fs::read_to_string(&victim).expect("read"), "keep");
        let plain = dir.path().join("plain.md");
        write_file(&plain, b"one").expect("write");
        write_file(&plain, b"two").expect("overwrite");
        assert_eq!(std::fs::read_to_string(&plain).expect("read"), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names.len(), 3, "no temporary file left: {names:?}");
    }

    #[test]
    fn private_dirs_of_killed_runs_are_swept() {
        let root = tempfile::tempdir().expect("tempdir");
        // A process id that is not running: a child that has been reaped.
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let dead = child.id();
        child.wait().expect("wait");
        let stale = root.path().join(format!("packer-vault-keys-{dead}-abc123"));
        let alive = root
            .path()
            .join(format!("packer-vault-keys-{}-def456", std::process::id()));
        let other = root.path().join("packer-vault-notes");
        for d in [&stale, &alive, &other] {
            std::fs::create_dir(d).expect("mkdir");
        }
        let made = private_dir(root.path(), "packer-vault-hcp-").expect("private dir");
        assert!(!stale.exists(), "a killed run's directory is removed");
        assert!(alive.exists() && other.exists(), "nothing else is touched");
        let name = made.path().file_name().expect("name").to_string_lossy().into_owned();
        assert_eq!(stale_pid(&name), Some(std::process::id() as i32), "{name}");
    }

    #[test]
    fn blank_values_zeroes_only_the_named_values() {
        let mut block = b"A=1\0TOKEN=s.secret\0TOKEN_X=keep\0B=TOKEN=no\0".to_vec();
        blank_values(&mut block, &["TOKEN".to_string()]);
        assert_eq!(&block[..], b"A=1\0TOKEN=\0\0\0\0\0\0\0\0\0TOKEN_X=keep\0B=TOKEN=no\0");
    }
}
