//! The secrets spec: the one-line syntax and the YAML long form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packer_vault_fuzz::checks;

fuzz_target!(|text: &str| {
    checks::spec_text(text);
    checks::spec_long(text);
});
