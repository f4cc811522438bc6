//! The `packer-vault` binary: parse, resolve, run, exit.

fn main() {
    // Before any thread exists: the launcher's private copy of this binary
    // is removed (the running image stays), and descendants that outlive
    // their parent are adopted, so that every exit path can end them.
    packer_vault::env::forget_launch_copy();
    // No child of ours reads this process's environment or memory back.
    packer_vault::env::forbid_dumps();
    packer_vault::process::adopt_orphans();
    std::process::exit(packer_vault::main_with_args(std::env::args_os()));
}
