//! Decoding a server's answer into a typed struct without quoting it.
//!
//! serde's error text quotes the value it choked on (`invalid type: string
//! "…", expected u64`). From a server's answer that value may be a secret
//! the redactor does not know yet, so an error names the field's path and
//! what was expected, never what was found.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Decodes `v` as `T`; the error names the field (`data.metadata.version`)
/// and the expected shape only.
pub fn value<T: DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_path_to_error::deserialize(v).map_err(|e| describe(&e))
}

/// Decodes the JSON text `text` as `T`, with errors as in [`value`]; a body
/// that is not JSON says so, with the position only.
pub fn text<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| describe(&e))
}

fn describe(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = e.inner();
    if inner.is_syntax() || inner.is_eof() {
        return format!("not JSON (at line {} column {})", inner.line(), inner.column());
    }
    let path = e.path().to_string();
    let at = if path.is_empty() || path == "." {
        "the answer".to_string()
    } else {
        format!("field `{path}`")
    };
    let msg = inner.to_string();
    // `missing field `x``: names only our own field.
    if let Some(field) = msg.strip_prefix("missing field ") {
        let field = field.split(" at line").next().unwrap_or(field);
        return format!("{at}: missing field {field}");
    }
    // `invalid type: <what was found>, expected <what we expect>`: keep the
    // expectation, which comes from our own types.
    match msg.rsplit_once(", expected ") {
        Some((_, expected)) => {
            let expected = expected.split(" at line").next().unwrap_or(expected);
            format!("{at}: unexpected value, expected {expected}")
        }
        None => format!("{at}: unexpected value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Meta {
        #[allow(dead_code)]
        version: u64,
    }

    #[derive(Debug, Deserialize)]
    struct Answer {
        #[allow(dead_code)]
        metadata: Meta,
    }

    #[test]
    fn errors_name_the_field_never_the_value() {
        let secret = "s3cr3t-value-that-must-not-show";
        let e = value::<Answer>(serde_json::json!({"metadata": {"version": secret}})).unwrap_err();
        assert!(!e.contains(secret), "{e}");
        assert_eq!(e, "field `metadata.version`: unexpected value, expected u64");
        let e = value::<Answer>(serde_json::json!({"metadata": {}})).unwrap_err();
        assert_eq!(e, "field `metadata`: missing field `version`");
        let e = text::<Answer>(&format!("{{\"metadata\": {secret}")).unwrap_err();
        assert!(!e.contains(secret) && e.starts_with("not JSON"), "{e}");
        let e = text::<Answer>(&format!("{{\"metadata\": {{\"version\": \"{secret}\"}}}}")).unwrap_err();
        assert!(!e.contains(secret), "{e}");
    }
}
