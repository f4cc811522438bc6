//! The README stays in step with the code: its inputs table is the one
//! rendered from the inputs table, and its first lines give the two commands.

use std::path::PathBuf;

fn readme() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md")
}

#[test]
fn readme_lists_every_input() {
    let table = packer_vault::config::inputs::markdown_table();
    let text = readme();
    assert!(
        text.contains(&table),
        "README.md's inputs table differs from src/config/inputs.rs; paste this:\n\n{table}"
    );
}

#[test]
fn readme_opens_with_the_demo_and_the_tests() {
    let text = readme();
    let head: String = text.lines().take(25).collect::<Vec<_>>().join("\n");
    assert!(head.contains("./demo"), "the demo command is in the first lines");
    assert!(head.contains(".ci/run"), "the test command is in the first lines");
}
