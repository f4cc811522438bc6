//! The one table of inputs. CLI flags, `INPUT_*` / `PACKER_VAULT_*` readers,
//! config-file keys, `action.yml`, the GitLab template and the README table all
//! derive from (or are tested against) this list.

/// What values an input accepts; checked by `config::resolve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Free text on one line.
    Text,
    /// Text that may span several lines (secrets spec, `NAME=VALUE` lines, PEM).
    Multiline,
    /// `true` or `false` (also `1/0`, `yes/no`, `on/off`).
    Bool,
    /// An `http://` or `https://` URL.
    Url,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    /// A file-system path.
    Path,
    /// A secret value (never printed).
    Secret,
}

/// The definition of one input.
#[derive(Debug)]
pub struct Input {
    /// The kebab-case name: `--NAME`, `INPUT_NAME`, `PACKER_VAULT_NAME`, config key.
    pub name: &'static str,
    /// Variables read when no other source sets the input, first found wins.
    pub fallback_env: &'static [&'static str],
    /// The fallback as documented (README, `action.yml`).
    pub fallback: &'static str,
    /// Accepted values.
    pub kind: Kind,
    /// One-line description.
    pub doc: &'static str,
}

impl Input {
    /// The step-input variable GitHub sets: `INPUT_` + upper-cased name, hyphens kept.
    pub fn input_var(&self) -> String {
        format!("INPUT_{}", self.name.to_ascii_uppercase())
    }

    /// The `PACKER_VAULT_` variable: upper-cased, `-` to `_`.
    pub fn env_var(&self) -> String {
        format!("PACKER_VAULT_{}", self.name.to_ascii_uppercase().replace('-', "_"))
    }
}

/// Inputs that decide where the job's identity token and secrets go, or
/// whom it trusts. The CI's settings (flag, step input, `PACKER_VAULT_*`,
/// and the fallback variables such as `VAULT_ADDR`) outrank the
/// repository's config file for these: a pull request can edit the file,
/// not the CI's protected settings.
pub const PROTECTED: &[&str] = &[
    "vault-addr",
    "vault-namespace",
    "auth-method",
    "auth-path",
    "role",
    "jwt-audience",
    "id-token-variable",
    "ca-cert",
    "tls-skip-verify",
];

/// Privileged inputs: they widen what is handed out (a Vault token for
/// Packer, secrets exported to later steps, a kept token, an identity token
/// sent to another provider) or whose comment is edited. Only the CI's
/// settings (flags, step inputs, CI variables) may set them: in the
/// repository's config file, which a pull request edits, they are refused.
pub const PRIVILEGED: &[&str] = &[
    "comment-author",
    "packer-vault-token",
    "packer-vault-token-policies",
    "hcp-workload-identity-provider",
    "hcp-jwt-audience",
    "hcp-id-token-variable",
    "export-env",
    "revoke",
    "github-token",
    "gitlab-token",
    "cascade-token",
    "cascade-targets",
];

/// Values of the `comment` input.
pub const COMMENT_MODES: &[&str] = &["auto", "always", "never", "on-failure"];
/// Values of the `auth-method` input.
pub const AUTH_METHODS: &[&str] = &["jwt", "token"];

mod table;

pub use table::INPUTS;

/// The definition of the input called `name`.
pub fn find(name: &str) -> Option<&'static Input> {
    INPUTS.iter().find(|i| i.name == name)
}

/// The README's table of inputs, rendered from [`INPUTS`] (a test keeps the
/// README in step with it).
pub fn markdown_table() -> String {
    let mut out = String::from("| input | fallback | meaning |\n|---|---|---|\n");
    for i in INPUTS {
        out.push_str(&format!("| `{}` | {} | {} |\n", i.name, i.fallback, i.doc));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_kebab_case() {
        let mut seen = std::collections::HashSet::new();
        for i in INPUTS {
            assert!(seen.insert(i.name), "duplicate input {}", i.name);
            assert!(
                i.name.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{} is not kebab-case",
                i.name
            );
            assert!(!i.doc.is_empty());
        }
        assert_eq!(
            find("vault-addr").map(|i| i.env_var()).as_deref(),
            Some("PACKER_VAULT_VAULT_ADDR")
        );
        assert_eq!(
            find("vault-addr").map(|i| i.input_var()).as_deref(),
            Some("INPUT_VAULT-ADDR")
        );
    }
}
