//! Packer: finding or installing it, running it, and reading its output.

pub mod install;
pub mod machine;
pub mod run;
