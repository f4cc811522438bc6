//! The `packer-vault` binary: parse, resolve, run, exit.

fn main() {
    std::process::exit(packer_vault::main_with_args(std::env::args_os()));
}
