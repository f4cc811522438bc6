//! Independent secret-leak check for captured output.
//!
//! Deliberately does not use the product's redactor: every encoded form is
//! computed here from scratch, so a bug in the product's list of forms cannot
//! hide itself. Failures name the secret's label and the leaked form, never
//! the value.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// Lines of a multi-line secret shorter than this (after trimming) are not
/// checked on their own (e.g. an empty line or `==`).
pub const MIN_LINE_LEN: usize = 6;
/// Shifted base64 cores shorter than this are not checked (false positives).
const MIN_SHIFTED_CORE: usize = 8;

/// Every form of `value` to look for, as `(form name, text)`; deduplicated,
/// empty forms dropped.
pub fn forms(value: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |name: String, text: String| {
        if !text.is_empty() && !out.iter().any(|(_, t)| *t == text) {
            out.push((name, text));
        }
    };
    push("raw".into(), value.to_owned());
    let bytes = value.as_bytes();
    push("base64 std".into(), STANDARD.encode(bytes));
    push("base64 std unpadded".into(), STANDARD_NO_PAD.encode(bytes));
    push("base64 url".into(), URL_SAFE.encode(bytes));
    push("base64 url unpadded".into(), URL_SAFE_NO_PAD.encode(bytes));
    // The value embedded at byte offset 1 or 2 of a larger base64 blob: only
    // the characters that depend on the value alone are stable.
    for shift in 1..=2usize {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(bytes);
        let start = (8 * shift).div_ceil(6);
        let end = 8 * shifted.len() / 6;
        if end >= start + MIN_SHIFTED_CORE {
            let std = STANDARD_NO_PAD.encode(&shifted);
            let url = URL_SAFE_NO_PAD.encode(&shifted);
            push(format!("base64 std (offset {shift})"), std[start..end].to_owned());
            push(format!("base64 url (offset {shift})"), url[start..end].to_owned());
        }
    }
    const RFC3986: &[u8] = b"-._~";
    const JS_COMPONENT: &[u8] = b"-._~!'()*";
    push("url-encoded (RFC 3986)".into(), percent(value, RFC3986, false, true));
    push(
        "url-encoded (lowercase hex)".into(),
        percent(value, RFC3986, false, false),
    );
    push(
        "url-encoded (alphanumeric only)".into(),
        percent(value, b"", false, true),
    );
    push(
        "url-encoded (encodeURIComponent)".into(),
        percent(value, JS_COMPONENT, false, true),
    );
    push("form-urlencoded".into(), percent(value, b"-._*", true, true));
    let json = serde_json::to_string(value).expect("JSON string");
    push("json-escaped".into(), json[1..json.len() - 1].to_owned());
    push("json-escaped (\\/)".into(), json[1..json.len() - 1].replace('/', "\\/"));
    push("json-escaped (ascii)".into(), json_ascii(value));
    if value.contains('\n') {
        for (i, line) in value.lines().enumerate() {
            let line = line.trim();
            if line.len() >= MIN_LINE_LEN {
                push(format!("line {}", i + 1), line.to_owned());
            }
        }
    }
    out
}

/// Percent-encodes every byte except ASCII alphanumerics and `keep`;
/// `plus_for_space` gives `application/x-www-form-urlencoded`.
fn percent(value: &str, keep: &[u8], plus_for_space: bool, upper: bool) -> String {
    let mut out = String::new();
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else if plus_for_space && b == b' ' {
            out.push('+');
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// JSON string body with every non-alphanumeric ASCII-printable kept except
/// `"` and `\`, and everything else as `\uXXXX`.
fn json_ascii(value: &str) -> String {
    let mut out = String::new();
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out
}

/// Leaks of `value` in `haystack`: `(form, byte offset)` of each form found.
pub fn find_leaks(haystack: &str, value: &str) -> Vec<(String, usize)> {
    forms(value)
        .into_iter()
        .filter_map(|(form, text)| haystack.find(&text).map(|at| (form, at)))
        .collect()
}

/// One line per leak of any form of any `(label, value)` in `haystack`:
/// label, form, byte offset and value length, never the value.
pub fn leak_report(haystack: &str, secrets: &[(&str, &str)]) -> Vec<String> {
    let mut report = Vec::new();
    for (label, value) in secrets {
        if value.is_empty() {
            continue;
        }
        for (form, at) in find_leaks(haystack, value) {
            report.push(format!(
                "secret {label:?} leaked as {form} at byte {at} (value is {} bytes)",
                value.len()
            ));
        }
    }
    report
}

/// Panics with the [`leak_report`] if any secret occurs in `haystack`.
#[track_caller]
pub fn assert_no_labeled_secret(haystack: &str, secrets: &[(&str, &str)]) {
    let report = leak_report(haystack, secrets);
    assert!(
        report.is_empty(),
        "secret leak in output ({} bytes checked):\n  {}",
        haystack.len(),
        report.join("\n  ")
    );
}

/// [`assert_no_labeled_secret`] with labels `secret #<index>`.
#[track_caller]
pub fn assert_no_secret(haystack: &str, secrets: &[&str]) {
    let labels: Vec<String> = (0..secrets.len()).map(|i| format!("secret #{i}")).collect();
    let labeled: Vec<(&str, &str)> = labels.iter().zip(secrets).map(|(l, v)| (l.as_str(), *v)).collect();
    assert_no_labeled_secret(haystack, &labeled);
}
