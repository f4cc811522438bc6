//! Credentials a command reads from a file rather than a variable (a GCP
//! service-account key, which Packer's googlecompute takes through
//! `GOOGLE_APPLICATION_CREDENTIALS`): written into a private directory of
//! this run's (0700, each file 0600) and removed with it when the run ends,
//! whichever way it ends.

use crate::env::Env;
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::vault::read::{Delivery, Read};
use std::io::Write;
use std::path::Path;

/// The files of one run, and the variables that name them.
#[derive(Debug, Default)]
pub struct KeyFiles {
    dir: Option<tempfile::TempDir>,
    /// `NAME` = the file's path, for the command's environment.
    pub vars: Vec<(String, Secret)>,
}

impl KeyFiles {
    /// Writes every [`Delivery::File`] item of `reads` into a new private
    /// directory under `RUNNER_TEMP` (the system's temporary directory
    /// elsewhere); nothing, and no directory, when there is none.
    pub fn write(reads: &[Read], env: &Env) -> Result<KeyFiles> {
        let items: Vec<_> = reads
            .iter()
            .flat_map(|r| r.items.iter())
            .filter(|i| i.delivery == Delivery::File)
            .collect();
        if items.is_empty() {
            return Ok(KeyFiles::default());
        }
        let root = crate::env::private_root(env);
        let dir = crate::env::private_dir(&root, "packer-vault-keys-")
            .map_err(|e| Error::failed(format!("cannot create a private directory in {}: {e}", root.display())))?;
        let mut vars = Vec::new();
        for (n, item) in items.iter().enumerate() {
            let path = dir.path().join(format!("{}-{n}.json", item.env.to_ascii_lowercase()));
            write_private(&path, item.value.expose().as_bytes())
                .map_err(|e| Error::failed(format!("cannot write {}: {e}", path.display())))?;
            vars.push((item.env.clone(), Secret::new(path.display().to_string())));
        }
        Ok(KeyFiles { dir: Some(dir), vars })
    }

    /// The private directory, when files were written.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(tempfile::TempDir::path)
    }
}

/// Creates `path` with mode 0600 (never wider, whatever the umask) and writes `bytes`.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
