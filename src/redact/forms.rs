//! The forms of a secret: every string that would reveal it in a log
//! (the value, its lines, base64, URL and JSON encodings).

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Values (and trimmed lines) shorter than this many characters get no derived
/// forms. The base64/URL/JSON forms of a one- or two-character value are only
/// a few characters long (`YQ`, `YWI`, `%2F`, ...) and occur all over ordinary
/// output, so masking them would destroy unrelated log text while protecting
/// almost nothing: a value that short is guessable anyway.
const MIN_DERIVED_CHARS: usize = 3;

/// `application/x-www-form-urlencoded` (WHATWG URL standard): alphanumerics
/// and `*-._` stay, space becomes `+` (space is left alone here and replaced
/// after encoding), everything else is `%XX`.
const WHATWG_FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b' ');

/// RFC 3986 unreserved characters kept (`-._~`): what `encodeURIComponent`-
/// like encoders, Python's `quote(safe='')` and Go's `url.QueryEscape` produce.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Every form of every secret, deduplicated and in bytewise order (which
/// the matcher relies on): what a [`Redactor`](super::Redactor) hides, and what GitHub is
/// told to mask.
pub fn patterns<I, S>(secrets: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut set = BTreeSet::new();
    for secret in secrets {
        set.extend(forms(secret.as_ref()));
    }
    set.into_iter().collect()
}

/// Returns every string that must be masked for one secret value.
///
/// These are the value itself (if it has no newline), each line of a
/// multi-line value that has at least three characters besides surrounding
/// white space (with a trailing `\r` stripped, plus its whitespace-trimmed
/// variant), its base64 and base64url encodings (padded and unpadded), its
/// percent-encodings (`NON_ALPHANUMERIC`, form-urlencoded with `+` for space,
/// and RFC 3986 style) and its JSON string escaping. The result is
/// deduplicated, contains no empty string and no string containing `\n`.
///
/// Values shorter than three characters are masked only as themselves (see
/// `MIN_DERIVED_CHARS`). A blank (whitespace-only) value or line is not
/// masked at all: it reveals nothing and masking it would garble indentation.
/// Only whole-value encodings are produced: a secret embedded inside a longer
/// base64 text is not detectable by substring matching.
pub fn forms(secret: &str) -> Vec<String> {
    let mut out = Vec::new();
    if secret.contains('\n') {
        // A line shorter than the derived-form minimum (`{`, `}`, `]`) is no
        // secret of its own; the value it belongs to is masked by its longer
        // lines and its encodings.
        for line in secret.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().chars().count() >= MIN_DERIVED_CHARS {
                add_line(&mut out, line);
            }
        }
    } else {
        add_line(&mut out, secret);
    }
    // The decode direction: a value holding escape sequences (a JSON-escaped
    // PEM stored on one line) comes out decoded from `echo` under `sh`,
    // `printf "$X"` or a JSON parser, one line per `\n`: each line of the
    // decoded value is masked too, as a multi-line value's lines are.
    if let Some(decoded) = unescaped(secret) {
        for line in decoded.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().chars().count() >= MIN_DERIVED_CHARS {
                add_line(&mut out, line);
            }
        }
    }
    if secret.chars().count() < MIN_DERIVED_CHARS || secret.trim().is_empty() {
        return out;
    }
    let bytes = secret.as_bytes();
    add(&mut out, STANDARD.encode(bytes));
    add(&mut out, STANDARD_NO_PAD.encode(bytes));
    add(&mut out, URL_SAFE.encode(bytes));
    add(&mut out, URL_SAFE_NO_PAD.encode(bytes));
    let percent = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    add(&mut out, percent.replace("%20", "+"));
    add(&mut out, percent);
    add(
        &mut out,
        utf8_percent_encode(secret, WHATWG_FORM).to_string().replace(' ', "+"),
    );
    let rfc3986 = utf8_percent_encode(secret, RFC3986).to_string();
    add(&mut out, rfc3986.replace("%20", "+"));
    add(&mut out, rfc3986);
    if let Ok(json) = serde_json::to_string(secret) {
        let inner = json.strip_prefix('"').and_then(|j| j.strip_suffix('"'));
        if let Some(inner) = inner {
            add(&mut out, inner.to_owned());
        }
    }
    out
}

/// `secret` with its C-style escapes (`\n`, `\r`, `\t`, `\\`, `\"`)
/// decoded, when it holds a line-breaking one; `None` otherwise.
/// What GitHub is told to mask (`::add-mask::`) for `secrets`: each line of
/// each value (as written, trimmed, and with literal `\n` escapes decoded),
/// and the encodings the runner does not derive on its own. The runner
/// masks a value's standard base64 (also shifted), its JSON escape and its
/// `Uri.EscapeDataString` form itself; it masks substrings, so the unpadded
/// base64 covers the padded one. What remains: unpadded base64 and
/// base64url, and the stricter percent encodings (every non-alphanumeric
/// byte, `+` for a space). Everything we print goes through the redactor,
/// which knows every form of [`forms`]; these masks are for what others
/// print in the job's log.
pub fn mask_patterns<I, S>(secrets: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut set = BTreeSet::new();
    for secret in secrets {
        let secret = secret.as_ref();
        let mut out = Vec::new();
        for text in std::iter::once(secret.to_string()).chain(unescaped(secret)) {
            for line in text.split('\n') {
                let line = line.strip_suffix('\r').unwrap_or(line);
                if !text.contains('\n') || line.trim().chars().count() >= MIN_DERIVED_CHARS {
                    add_line(&mut out, line);
                }
            }
        }
        if secret.chars().count() >= MIN_DERIVED_CHARS && !secret.trim().is_empty() {
            let bytes = secret.as_bytes();
            add(&mut out, STANDARD_NO_PAD.encode(bytes));
            add(&mut out, URL_SAFE_NO_PAD.encode(bytes));
            let percent = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
            for form in [percent.replace("%20", "+"), percent] {
                if form != secret {
                    add(&mut out, form);
                }
            }
        }
        set.extend(out);
    }
    set.into_iter().collect()
}

fn unescaped(secret: &str) -> Option<String> {
    if !(secret.contains("\\n") || secret.contains("\\r")) {
        return None;
    }
    let mut out = String::with_capacity(secret.len());
    let mut chars = secret.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other @ ('\\' | '"')) => out.push(other),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    Some(out)
}

/// Adds one line of a secret (or a whole single-line secret) and, if it has
/// surrounding whitespace, its trimmed variant.
fn add_line(out: &mut Vec<String>, line: &str) {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return;
    }
    add(out, line.to_owned());
    if trimmed.len() != line.len() && trimmed.chars().count() >= MIN_DERIVED_CHARS {
        add(out, trimmed.to_owned());
    }
}

/// Adds a form unless it is empty, contains a newline or is already present.
fn add(out: &mut Vec<String>, form: String) {
    if !form.is_empty() && !form.contains('\n') && !out.contains(&form) {
        out.push(form);
    }
}
