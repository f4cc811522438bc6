//! The report for a terminal: what `build` prints locally. The Markdown of
//! the summary and the comment is read there as text: headings, emphasis,
//! links and the HTML the comment uses (`<details>`, `<summary>`, `<sub>`,
//! `<code>`, entities) become plain lines; tables and fenced blocks stay,
//! since they read well as they are.

/// `markdown` (as [`super::render`] writes it) as plain terminal text.
pub fn render(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    for line in markdown.lines() {
        let t = line.trim();
        if t == "<details>" || t == "</details>" {
            continue;
        }
        let mut l = line.to_string();
        if let Some(rest) = l.strip_prefix("### ") {
            l = rest.to_string();
        }
        for (from, to) in [
            ("<details>", ""),
            ("</details>", ""),
            ("<summary>", ""),
            ("</summary>", ":"),
            ("<sub>", ""),
            ("</sub>", ""),
            ("<code>", ""),
            ("</code>", ""),
            ("<br>", " "),
            ("**", ""),
        ] {
            l = l.replace(from, to);
        }
        out.push_str(&links(&entities(&l)));
        out.push('\n');
    }
    out
}

/// The HTML entities the report writes, decoded.
fn entities(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#64;", "@")
        .replace("&#124;", "|")
        .replace("&amp;", "&")
}

/// `[text](url)` as `text (url)`.
fn links(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|e| close + e) else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&rest[open + 1..close]);
        out.push_str(" (");
        out.push_str(&rest[close + 2..end]);
        out.push(')');
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_html_become_plain_lines() {
        let md = "### ✅ Packer build of `images/a` succeeded\n\n**HCP Packer:** [version v3](https://portal/v/1) in bucket `golden`\n\n\
                  <details><summary>Secrets: 2 values, digest <code>sha256:00</code></summary>\n\n| Path | Key |\n|---|---|\n\n</details>\n\n\
                  <sub>Packer 1.6.6 · build 1.0 s</sub>\n";
        let text = render(md);
        assert!(text.starts_with("✅ Packer build of `images/a` succeeded\n"), "{text}");
        assert!(
            text.contains("HCP Packer: version v3 (https://portal/v/1) in bucket `golden`"),
            "{text}"
        );
        assert!(text.contains("Secrets: 2 values, digest sha256:00:"), "{text}");
        assert!(text.contains("Packer 1.6.6 · build 1.0 s"), "{text}");
        assert!(!text.contains('<') && !text.contains("**"), "{text}");
        assert!(text.contains("| Path | Key |"), "tables stay: {text}");
    }
}
