//! The binary's own log lines (stderr). Every line passes through the
//! process-wide redactor once secrets are known, and is styled for the CI.

use crate::redact::Redactor;
use std::collections::BTreeSet;
use std::sync::{Mutex, RwLock};

/// How warnings and errors are marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `warning:` / `error:` prefixes.
    Plain,
    /// GitHub workflow commands `::warning::` / `::error::` (annotations).
    Github,
}

/// Every value hidden so far, and the redactor built from all of them.
/// Values are only ever added: no caller can narrow what the log hides.
static HIDDEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
static REDACTOR: RwLock<Option<Redactor>> = RwLock::new(None);
static STYLE: RwLock<Style> = RwLock::new(Style::Plain);

/// Adds `values` to what every later line (and [`redact`]) hides, with
/// all their forms; what was hidden before stays hidden.
pub fn hide<I, S>(values: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let Ok(mut hidden) = HIDDEN.lock() else { return };
    let before = hidden.len();
    hidden.extend(
        values
            .into_iter()
            .map(|v| v.as_ref().to_string())
            .filter(|v| !v.is_empty()),
    );
    if hidden.len() == before {
        return;
    }
    let redactor = Redactor::new(hidden.iter());
    if let Ok(mut g) = REDACTOR.write() {
        *g = Some(redactor);
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

/// Prints one log line, redacted; a line of our own annotation (its data
/// escaped with [`escape_data`]) is left as is, any other is neutralized.
fn emit(line: &str) {
    let text = redact(line);
    let text = if line.starts_with("::warning title=packer-vault::") || line.starts_with("::error title=packer-vault::")
    {
        text.replace("##[", "#\u{200b}#[")
    } else {
        neutralize(&text)
    };
    crate::console::err_line(&text);
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

/// `n` and the noun, singular or plural: `1 value`, `2 values`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `text` made safe to print where a CI reads commands from the log: the
/// runner splits lines on CR as well as LF, and acts on a line that starts
/// (after white space) with `::`. CR becomes `%0D`; a line that would start
/// with `::` is prefixed with `> `. Every line the binary prints of its own
/// goes through here (log lines, section titles, `doctor`, `lock`).
pub fn neutralize(text: &str) -> String {
    // The runner's older parser acts on `##[command]` anywhere in a line.
    let text = text.replace('\r', "%0D").replace("##[", "#\u{200b}#[");
    if !text.contains("::") {
        return text;
    }
    text.split('\n')
        .map(|l| {
            if l.trim_start().starts_with("::") {
                format!("> {l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Escapes workflow-command data (`%`, CR, LF) as the runner expects.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_printed_line_can_start_a_workflow_command() {
        let evil = "cve\r::warning::x\n  ::error::y\nplain :: text";
        let safe = neutralize(evil);
        for line in safe.split(['\r', '\n']) {
            assert!(!line.trim_start().starts_with("::"), "{line:?} in {safe:?}");
        }
        assert_eq!(safe, "cve%0D::warning::x\n>   ::error::y\nplain :: text");
        assert_eq!(neutralize("no commands"), "no commands");
    }

    #[test]
    fn counts_say_one_or_many() {
        assert_eq!(count(1, "path", "paths"), "1 path");
        assert_eq!(count(0, "path", "paths"), "0 paths");
        assert_eq!(count(2, "value", "values"), "2 values");
    }

    #[test]
    fn the_log_redactor_only_grows() {
        hide(["first-hidden-value-1f3a"]);
        hide(["second-hidden-value-9c2e"]);
        // Hiding nothing new, or only a part of the set again, narrows nothing.
        hide(Vec::<String>::new());
        hide(["second-hidden-value-9c2e"]);
        assert_eq!(
            redact("a first-hidden-value-1f3a b second-hidden-value-9c2e c"),
            "a *** b *** c"
        );
    }
}
