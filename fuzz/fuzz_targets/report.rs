//! A fan-in report file (`packer-vault report`), read, checked and rendered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packer_vault_fuzz::checks;

fuzz_target!(|text: &str| {
    checks::report(text);
});
