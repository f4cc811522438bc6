#[path = "../support/mod.rs"]
mod support;

mod act;
mod action;
mod bad_input;
mod build;
mod child_env;
mod demo;
mod docs;
mod doctor;
mod dynamic;
mod exec;
mod faults;
mod gaps;
mod github;
mod gitlab;
mod hcp;
mod install;
mod launcher;
mod leaks;
mod lifecycle;
mod lock;
mod neighbours;
mod props;
mod support_smoke;
mod tls;
mod waves;
