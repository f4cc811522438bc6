#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod build;
mod exec;
mod hcp;
mod install;
mod support_smoke;
