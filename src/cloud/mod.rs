//! The clouds a golden image is built for, one file each: how its preset
//! maps the secrets engine's answer to the variables Packer's builder reads,
//! the files it writes, and what it waits for before the command starts.
//! The spec only names a preset ([`crate::spec::Preset`]); reading the
//! answer ([`crate::vault::read`]) and handing it to the child
//! ([`crate::child`]) ask here what the preset means.

pub mod aws;
pub mod azure;
pub mod gcp;

use crate::spec::Preset;

/// How a value taken from a secret reaches the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// As the variable's value.
    #[default]
    Value,
    /// Written to a private file ([`gcp::KeyFiles`]) whose path is the
    /// variable's value: a GCP key, which Packer reads from a file.
    File,
    /// Nowhere: a part of another value that must never print either
    /// (a key file's `private_key`, `private_key_id`); masked only.
    Masked,
}

/// One value a preset takes from an engine's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    /// The variable it is bound for (empty for [`Delivery::Masked`]).
    pub env: &'static str,
    /// The key (or part) of the answer it came from.
    pub key: &'static str,
    /// The value.
    pub value: String,
    /// How it reaches the command.
    pub delivery: Delivery,
}

/// A preset's (response key, variable, required) triples: what
/// [`Preset`]'s mapping takes from the answer, and which variables it sets.
pub fn keys(preset: Preset) -> &'static [(&'static str, &'static str, bool)] {
    match preset {
        Preset::Aws => aws::KEYS,
        Preset::Gcp => gcp::KEYS,
        Preset::Azure => azure::KEYS,
    }
}

/// The variables a preset sets, known before anything is read.
pub fn variables(preset: Preset) -> impl Iterator<Item = &'static str> {
    keys(preset).iter().map(|k| k.1)
}
