#[path = "../support/mod.rs"]
mod support;

mod support_smoke;
mod exec;
mod bad_input;
mod hcp;
mod install;
