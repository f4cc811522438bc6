#[path = "../support/mod.rs"]
mod support;

mod action;
mod bad_input;
mod build;
mod exec;
mod github;
mod gitlab;
mod hcp;
mod install;
mod support_smoke;
mod demo;
mod docs;
mod faults;
mod lock;
mod doctor;
mod leaks;
