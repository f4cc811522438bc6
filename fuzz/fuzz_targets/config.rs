//! The YAML config file, with and without an environment selected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packer_vault_fuzz::checks;

fuzz_target!(|text: &str| {
    checks::config(text, None);
    checks::config(text, Some("prod"));
});
