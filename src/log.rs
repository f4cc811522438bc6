//! The binary's own log lines (stderr). Every line passes through the
//! process-wide redactor once secrets are known, and is styled for the CI.

use crate::redact::Redactor;
use std::io::Write;
use std::sync::RwLock;

/// How warnings and errors are marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `warning:` / `error:` prefixes.
    Plain,
    /// GitHub workflow commands `::warning::` / `::error::` (annotations).
    Github,
}

static REDACTOR: RwLock<Option<Redactor>> = RwLock::new(None);
static STYLE: RwLock<Style> = RwLock::new(Style::Plain);

/// Sets the redactor applied to every later line (and to [`redact`]).
pub fn set_redactor(r: Redactor) {
    if let Ok(mut g) = REDACTOR.write() {
        *g = Some(r);
    }
}

/// Sets the style of warnings and errors.
pub fn set_style(s: Style) {
    if let Ok(mut g) = STYLE.write() {
        *g = s;
    }
}

/// `text` with every known secret form replaced by `***`.
pub fn redact(text: &str) -> String {
    match REDACTOR.read().ok().as_ref().and_then(|g| g.as_ref()) {
        Some(r) => r.redact(text),
        None => text.to_string(),
    }
}

fn style() -> Style {
    STYLE.read().map(|s| *s).unwrap_or(Style::Plain)
}

fn emit(line: &str) {
    let text = redact(line);
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// An informational line.
pub fn info(msg: &str) {
    emit(&format!("packer-vault: {msg}"));
}

/// A warning (a GitHub annotation on GitHub).
pub fn warn(msg: &str) {
    match style() {
        Style::Github => emit(&format!("::warning title=packer-vault::{}", escape_data(msg))),
        Style::Plain => emit(&format!("packer-vault: warning: {msg}")),
    }
}

/// An error (a GitHub annotation on GitHub).
pub fn error(msg: &str) {
    match style() {
        Style::Github => emit(&format!("::error title=packer-vault::{}", escape_data(msg))),
        Style::Plain => emit(&format!("packer-vault: error: {msg}")),
    }
}

/// Escapes workflow-command data (`%`, CR, LF) as the runner expects.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}
