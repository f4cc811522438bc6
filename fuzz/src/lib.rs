//! Shared properties and structured inputs of the fuzz targets.

pub mod checks;

use arbitrary::Arbitrary;
use packer_vault::lockfile::{Entry, Unlockable};

/// Input of the `redact` target: secrets, text pieces and split points.
#[derive(Debug, Arbitrary)]
pub struct RedactInput {
    /// Secret values.
    pub secrets: Vec<String>,
    /// The text, made of raw bytes and (parts of) forms of the secrets.
    pub pieces: Vec<ArbPiece>,
    /// Where the text is cut into pushes.
    pub splits: Vec<u16>,
}

/// [`checks::Piece`] with small indices, for `arbitrary`.
#[derive(Debug, Arbitrary)]
pub enum ArbPiece {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// A whole form.
    Form(u8, u8),
    /// A prefix of a form.
    Prefix(u8, u8, u8),
    /// A suffix of a form.
    Suffix(u8, u8, u8),
}

impl RedactInput {
    /// Runs the redactor properties on this input.
    pub fn check(&self) {
        let pieces: Vec<checks::Piece> = self
            .pieces
            .iter()
            .map(|p| match p {
                ArbPiece::Raw(b) => checks::Piece::Raw(b.clone()),
                ArbPiece::Form(s, f) => checks::Piece::Form {
                    secret: (*s).into(),
                    form: (*f).into(),
                },
                ArbPiece::Prefix(s, f, l) => checks::Piece::Prefix {
                    secret: (*s).into(),
                    form: (*f).into(),
                    len: (*l).into(),
                },
                ArbPiece::Suffix(s, f, l) => checks::Piece::Suffix {
                    secret: (*s).into(),
                    form: (*f).into(),
                    len: (*l).into(),
                },
            })
            .collect();
        let text = checks::build_text(&self.secrets, &pieces);
        let splits: Vec<usize> = self.splits.iter().map(|&s| s.into()).collect();
        checks::redact(&self.secrets, &text, &splits);
    }
}

/// Input of the `lock` target: lock text, or a lock built from parts whose
/// rendering must load back unchanged.
#[derive(Debug, Arbitrary)]
pub enum LockInput {
    /// Lock file text.
    Text(String),
    /// Pinned secrets (mount, path, version, created time) and unlockables.
    Parts(Vec<(String, String, u64, String)>, Vec<(String, String)>),
}

impl LockInput {
    /// Runs the lock properties on this input.
    pub fn check(&self) {
        match self {
            LockInput::Text(t) => checks::lock_text(t),
            LockInput::Parts(secrets, unlockable) => {
                let secrets = secrets
                    .iter()
                    .map(|(mount, path, version, created_time)| Entry {
                        mount: mount.clone(),
                        path: path.clone(),
                        version: *version,
                        created_time: created_time.clone(),
                        namespace: String::new(),
                    })
                    .collect();
                let unlockable = unlockable
                    .iter()
                    .map(|(path, reason)| Unlockable {
                        path: path.clone(),
                        reason: reason.clone(),
                    })
                    .collect();
                if let Some(lock) = checks::valid_lock(secrets, unlockable) {
                    checks::lock_round_trip(&lock);
                }
            }
        }
    }
}
