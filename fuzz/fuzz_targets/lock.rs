//! The lock file: parsing, and render -> parse round trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packer_vault_fuzz::LockInput;

fuzz_target!(|input: LockInput| input.check());
