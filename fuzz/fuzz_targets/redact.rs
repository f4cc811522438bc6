//! The redactor: any secrets, any text, any split into pushes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use packer_vault_fuzz::RedactInput;

fuzz_target!(|input: RedactInput| input.check());
