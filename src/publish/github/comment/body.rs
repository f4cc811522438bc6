//! The comment's body: the marker, then the report, redacted and within
//! GitHub's limit.

use super::MAX_COMMENT_CHARS;
use crate::report::Report;

/// `body` within GitHub's limit (a hard cut with a note).
pub fn fit(body: &str) -> String {
    if body.chars().count() <= MAX_COMMENT_CHARS {
        return body.to_string();
    }
    const NOTE: &str = "\n\n… (report truncated: the job summary has all of it)\n";
    let mut out: String = body.chars().take(MAX_COMMENT_CHARS - NOTE.chars().count()).collect();
    out.push_str(NOTE);
    out
}

/// The comment body: the marker, the report, redacted, within GitHub's
/// limit (a slimmer report first, then a hard cut).
pub fn body(report: &Report, marker: &str) -> String {
    let full = crate::log::redact(&crate::report::render(report, Some(marker)));
    if full.chars().count() <= MAX_COMMENT_CHARS {
        return full;
    }
    let mut slim = report.clone();
    let drop = slim.tail.len().saturating_sub(40);
    slim.tail.drain(..drop);
    for l in &mut slim.tail {
        *l = l.chars().take(300).collect();
    }
    slim.errors.truncate(20);
    slim.findings.truncate(30);
    slim.warnings.truncate(20);
    fit(&crate::log::redact(&crate::report::render(&slim, Some(marker))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_fit_githubs_limit() {
        let mut r = Report::new("build", "t");
        r.tail = vec!["y".repeat(5000); 400];
        let b = body(&r, "<!-- m -->");
        assert!(b.chars().count() <= MAX_COMMENT_CHARS);
        assert!(b.starts_with("<!-- m -->"));
        r.errors = vec!["e".repeat(60_000); 3];
        r.tail.clear();
        let b = body(&r, "<!-- m -->");
        assert!(b.chars().count() <= MAX_COMMENT_CHARS && b.ends_with("has all of it)\n"));
    }
}
