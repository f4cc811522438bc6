//! Markdown rendering of a [`Report`].

use super::{Report, Status};
use std::fmt::Write;

/// Largest rendered report in bytes (GitHub's step summary takes 1 MiB).
pub const MAX_BYTES: usize = 1000 * 1024;

/// The hidden marker that identifies the sticky comment of one
/// template/bucket pair.
pub fn marker(template: &str, bucket: Option<&str>) -> String {
    // `./images/` and `images` are the same template: one comment.
    let t = template.trim_start_matches("./").trim_end_matches('/');
    let t = if t.is_empty() { "." } else { t };
    format!(
        "<!-- packer-vault:{}:{} -->",
        marker_key(t),
        marker_key(bucket.unwrap_or("-"))
    )
}

/// A name as it may stand inside a hidden marker: as written when it holds
/// only letters, digits, `.`, `_`, `/` and single `-` (what templates and
/// buckets are named), else `h-` and a digest of it, so no text of the
/// pull request's (`-->`, `--!>`, a line break) ever stands in a marker.
pub fn marker_key(name: &str) -> String {
    let plain = !name.is_empty()
        && name.len() <= 200
        && !name.contains("--")
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "._/:-".contains(c));
    if plain {
        return name.to_string();
    }
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("h-{hex}")
}

/// `s` as an HTML `<code>` element, for places where Markdown is not
/// rendered (`<summary>`): every special character escaped and `@` kept
/// from mentioning anyone.
/// `s` as the text of a Markdown link: what could end or nest the link,
/// or render, escaped.
fn link_text(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '[' | ']' | '(' | ')' | '`' | '*' | '_' | '<' | '>' | '\\' | '|' => vec!['\\', c],
            '@' => vec!['@', '\u{200b}'],
            '\n' | '\r' => vec![' '],
            c => vec![c],
        })
        .collect()
}

pub(super) fn html_code(s: &str) -> String {
    let mut o = String::from("<code>");
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '@' => o.push_str("&#64;"),
            '|' => o.push_str("&#124;"),
            '\n' | '\r' => o.push(' '),
            c => o.push(c),
        }
    }
    o.push_str("</code>");
    o
}

pub(super) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', "<br>")
}

/// `s` as one inline code span, whatever backticks it holds: text that the
/// pull request controls (labels, artifact descriptions) renders no
/// mention, link or HTML. Line breaks become spaces; `|` is escaped for a
/// table cell.
pub(super) fn code(s: &str) -> String {
    let s = s.replace(['\n', '\r'], " ").replace('|', "\\|");
    if s.trim().is_empty() {
        return String::new();
    }
    let ticks = "`".repeat(longest_run(&s, '`') + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{ticks}{pad}{s}{pad}{ticks}")
}

/// A fenced `text` block of `lines`: Packer's output, error text and
/// findings come from the template and the build, which the pull request
/// controls, so they are shown, never rendered. The fence is longer than
/// any run of backticks inside.
fn fenced(o: &mut String, lines: impl Iterator<Item = String>) {
    let lines: Vec<String> = lines.map(|l| l.replace('\r', "")).collect();
    let longest = lines.iter().map(|l| longest_run(l, '`')).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    let _ = writeln!(o, "{fence}text");
    for l in &lines {
        let _ = writeln!(o, "{l}");
    }
    let _ = writeln!(o, "{fence}");
}

fn longest_run(s: &str, c: char) -> usize {
    s.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// A list's items inside a fence: `- ` before each, continuation lines indented.
pub(super) fn fenced_list(o: &mut String, items: &[String]) {
    fenced(
        o,
        items.iter().flat_map(|item| {
            item.lines()
                .enumerate()
                .map(|(i, l)| format!("{}{l}", if i == 0 { "- " } else { "  " }))
                .collect::<Vec<_>>()
        }),
    );
}

pub(super) fn secs(d: std::time::Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1} s")
    } else {
        format!("{}m {:02}s", d.as_secs() / 60, d.as_secs() % 60)
    }
}

/// Renders the report; `marker` goes first (hidden) when given.
pub fn render(r: &Report, marker: Option<&str>) -> String {
    let mut o = String::new();
    if let Some(m) = marker {
        let _ = writeln!(o, "{m}");
    }
    let (icon, word) = match r.status {
        Status::Success => ("✅", "succeeded"),
        Status::Failed => ("❌", "failed"),
        Status::Cancelled => ("⚠️", "was cancelled"),
    };
    match &r.lifecycle {
        Some(l) => {
            let what = if l.dry_run { " (dry run)" } else { "" };
            let _ = writeln!(
                o,
                "### {icon} HCP Packer {}{what} {word}\n\n{}\n",
                l.op,
                cell(&l.outcome)
            );
        }
        None => {
            let _ = writeln!(o, "### {icon} Packer {} of {} {word}\n", r.command, code(&r.template));
        }
    }

    if let Some(h) = &r.hcp {
        match (&h.version_id, &h.url) {
            (Some(id), Some(url)) => {
                let name = h.version_name.as_deref().unwrap_or(id);
                let _ = writeln!(
                    o,
                    "**HCP Packer:** [version {}]({url}) in bucket {}: {}",
                    link_text(name),
                    code(&h.bucket),
                    crate::hcp::versions::describe_status(h.status.as_deref().unwrap_or(""), None)
                );
            }
            _ => {
                let _ = writeln!(
                    o,
                    "**HCP Packer:** bucket {}, no version found for fingerprint {}",
                    code(&h.bucket),
                    code(&h.fingerprint)
                );
            }
        }
        let _ = writeln!(o, "\n- fingerprint: {}", code(&h.fingerprint));
        if let Some((c, action)) = &h.channel {
            let _ = writeln!(o, "- channel: {} ({action})", code(c));
        }
        if let Some((l, c)) = r.lifecycle.as_ref().and_then(|l| Some((l, l.channel.as_ref()?))) {
            let before = l.previous_fingerprint.as_deref().unwrap_or("none");
            let _ = writeln!(o, "- channel {}: was on {}", code(c), code(before));
        }
        for (k, v) in &h.labels {
            let _ = writeln!(o, "- label {} = {}", code(k), code(v));
        }
        o.push('\n');
    }

    if !r.artifacts.is_empty() || r.hcp.as_ref().is_some_and(|h| !h.artifacts.is_empty()) {
        let _ = writeln!(o, "| Build | Artifact | Region | Details |\n|---|---|---|---|");
        if let Some(h) = r.hcp.as_ref().filter(|h| !h.artifacts.is_empty()) {
            for (component, region, id) in &h.artifacts {
                let _ = writeln!(o, "| {} | {} | {} | HCP |", code(component), code(id), code(region));
            }
        } else {
            for a in &r.artifacts {
                let (region, id) = match a.id.split_once(':') {
                    Some((reg, id)) if !reg.is_empty() && !reg.contains(' ') => (reg, id),
                    _ => ("", a.id.as_str()),
                };
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} |",
                    code(&a.build),
                    code(id),
                    code(region),
                    code(a.description.lines().next().unwrap_or(""))
                );
            }
        }
        o.push('\n');
    }

    if !r.findings.is_empty() {
        let _ = writeln!(o, "**Findings**\n");
        fenced_list(&mut o, &r.findings);
        o.push('\n');
    }
    if !r.errors.is_empty() {
        let _ = writeln!(o, "**Errors**\n");
        fenced_list(&mut o, &r.errors[..r.errors.len().min(20)]);
        o.push('\n');
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(o, "**Warnings**\n");
        fenced_list(&mut o, &r.warnings);
        o.push('\n');
    }

    let _ = writeln!(
        o,
        "<details><summary>Secrets: {} values, digest <code>{}</code></summary>\n",
        r.secrets.len(),
        r.secrets_digest
    );
    if r.accessor.is_empty() {
        let _ = writeln!(o, "No Vault login: nothing was read from Vault.\n");
    } else {
        let policies = if r.policies.is_empty() {
            "none".to_string()
        } else {
            code(&r.policies.join(", "))
        };
        let _ = writeln!(
            o,
            "Vault role {}, token accessor `{}`, policies {policies}\n",
            code(&r.role),
            r.accessor,
        );
    }
    if !r.secrets.is_empty() {
        // A namespace column only where a namespace is in play.
        let spaced = r.secrets.iter().any(|s| s.namespace.is_some());
        let _ = writeln!(
            o,
            "| {}Path | Key | Variable | Engine | Version | Lease TTL |\n|{}---|---|---|---|---|---|",
            if spaced { "Namespace | " } else { "" },
            if spaced { "---|" } else { "" }
        );
        for s in &r.secrets {
            if spaced {
                let _ = write!(o, "| `{}` ", crate::namespace::shown(s.namespace.as_deref()));
            }
            let version = match (s.version, s.locked) {
                (Some(v), true) => format!("{v} (locked)"),
                (Some(v), false) => v.to_string(),
                (None, _) => "–".into(),
            };
            let ttl = s.lease_ttl.map(|t| format!("{t} s")).unwrap_or_else(|| "–".into());
            let _ = writeln!(
                o,
                "| {} | {} | `{}` | {} | {version} | {ttl} |",
                code(&s.path),
                code(&s.key),
                s.env,
                s.engine
            );
        }
    }
    let _ = writeln!(o, "\n</details>\n");

    if !r.phases.is_empty() {
        let phases: Vec<String> = r
            .phases
            .iter()
            .map(|p| format!("{} {}{}", p.name, secs(p.duration), if p.ok { "" } else { " ✗" }))
            .collect();
        let version = r
            .packer_version
            .as_deref()
            .map(|v| format!("Packer {v} · "))
            .unwrap_or_default();
        let _ = writeln!(o, "<sub>{version}{}</sub>\n", phases.join(" · "));
    }

    if !r.tail.is_empty() {
        let _ = writeln!(o, "<details><summary>Last lines of Packer's output</summary>\n");
        fenced(&mut o, r.tail.iter().cloned());
        let _ = writeln!(o, "</details>\n");
    }
    if let Some(url) = &r.run_url {
        let _ = writeln!(o, "[Run log]({url})");
    }
    if o.len() > MAX_BYTES {
        let mut cut = MAX_BYTES - 64;
        while !o.is_char_boundary(cut) {
            cut -= 1;
        }
        o.truncate(cut);
        o.push_str("\n\n… (report truncated)\n");
    }
    o
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    /// What a template's name (the pull request's) renders as: a code
    /// span it cannot leave, and a marker it never stands in.
    #[test]
    fn a_hostile_template_name_stays_in_its_code_span_and_out_of_the_marker() {
        for name in [
            "a` @acme/admins <img src=x> [x](https://evil.example) `b",
            "images/--->\n/approve",
            "x --!> <script>",
            "``` ` ``",
        ] {
            let mut r = Report::new("build", name);
            r.role = "ci` @role".into();
            r.status = Status::Failed;
            let m = marker(name, Some("golden"));
            assert!(
                m.starts_with("<!-- packer-vault:h-") && m.ends_with(":golden -->"),
                "{m}"
            );
            assert_eq!(
                m.matches("--").count(),
                2,
                "nothing of the name closes the comment: {m}"
            );
            let md = render(&r, Some(&m));
            let title = md.lines().nth(1).expect("the title");
            let span = title
                .trim_start_matches("### ❌ Packer build of ")
                .trim_end_matches(" failed");
            let ticks = span.chars().take_while(|c| *c == '`').count();
            assert!(ticks >= 1 && span.ends_with(&"`".repeat(ticks)), "{title}");
            let inner = &span[ticks..span.len() - ticks];
            assert!(
                !inner.contains(&"`".repeat(ticks)),
                "the span cannot be closed early: {title}"
            );
            assert!(md.lines().all(|l| !l.starts_with('/')), "{md}");
        }
        assert_eq!(
            marker("images/app", None),
            "<!-- packer-vault:images/app:- -->",
            "plain names as they are"
        );
    }

    #[test]
    fn renders_hcp_link_artifacts_and_secrets() {
        let mut r = Report::new("build", "examples/null");
        r.hcp = Some(HcpVersion {
            bucket: "golden".into(),
            fingerprint: "abc-1-1".into(),
            version_id: Some("01HV".into()),
            version_name: Some("v3".into()),
            status: Some("VERSION_ACTIVE".into()),
            url: Some("https://portal/versions/01HV".into()),
            channel: Some(("dev".into(), "created".into())),
            artifacts: vec![("amazon-ebs.ubuntu".into(), "us-east-1".into(), "ami-0abc".into())],
            labels: vec![("secrets-digest".into(), "sha256:00ff".into())],
        });
        r.secrets = vec![SecretRow {
            path: "secret/ci/hcp".into(),
            namespace: None,
            key: "client_id".into(),
            env: "HCP_CLIENT_ID".into(),
            engine: "kv2",
            version: Some(3),
            locked: true,
            lease_ttl: None,
        }];
        r.secrets_digest = digest(&r.secrets);
        let md = render(&r, Some(&marker("examples/null", Some("golden"))));
        assert!(md.starts_with("<!-- packer-vault:examples/null:golden -->"));
        assert_eq!(
            marker("./examples/null/", Some("golden")),
            marker("examples/null", Some("golden"))
        );
        assert_eq!(marker("./", None), "<!-- packer-vault:.:- -->");
        assert!(md.contains("[version v3](https://portal/versions/01HV)"));
        assert!(md.contains("`ami-0abc` | `us-east-1`"), "{md}");
        assert!(md.contains("channel: `dev` (created)"));
        assert!(md.contains("| `secret/ci/hcp` | `client_id` | `HCP_CLIENT_ID` | kv2 | 3 (locked) |"));
        assert!(md.contains("- label `secrets-digest` = `sha256:00ff`"), "{md}");
        assert!(md.contains(&r.secrets_digest));
    }

    #[test]
    fn digest_ignores_order_and_env_names() {
        let a = SecretRow {
            path: "p".into(),
            namespace: None,
            key: "k".into(),
            env: "A".into(),
            engine: "kv2",
            version: Some(1),
            locked: false,
            lease_ttl: None,
        };
        let mut b = a.clone();
        b.key = "j".into();
        let mut c = a.clone();
        c.env = "B".into();
        assert_eq!(digest(&[a.clone(), b.clone()]), digest(&[b.clone(), a.clone()]));
        assert_eq!(digest(std::slice::from_ref(&a)), digest(&[c]));
        let mut v2 = a.clone();
        v2.version = Some(2);
        assert_ne!(digest(std::slice::from_ref(&a)), digest(&[v2]));
        let mut elsewhere = a.clone();
        elsewhere.namespace = Some("admin/team-a".into());
        assert_ne!(digest(&[a]), digest(&[elsewhere]), "another namespace, another secret");
    }

    #[test]
    fn text_the_pull_request_controls_is_shown_never_rendered() {
        let mut r = Report::new("build", "t");
        let evil = "@acme/admins see <img src=x onerror=alert(1)> [click](https://evil.example)";
        r.errors = vec![format!("{evil}\n``` escaped?")];
        r.findings = vec![evil.into()];
        r.tail = vec!["````".into(), evil.into()];
        r.artifacts = vec![Artifact {
            build: "b".into(),
            index: 0,
            builder_id: "x".into(),
            id: "us-east-1:ami-1".into(),
            description: format!("`{evil}`"),
        }];
        let md = render(&r, None);
        // Every line holding the text is inside a fence or a code span.
        let mut fence: Option<String> = None;
        for line in md.lines() {
            let t = line.trim_start();
            match &fence {
                Some(f) if t.starts_with(f.as_str()) && t.trim_end().chars().all(|c| c == '`') => fence = None,
                Some(_) => continue,
                None if t.starts_with("```") => {
                    fence = Some(t.chars().take_while(|&c| c == '`').collect());
                    continue;
                }
                None => {}
            }
            if line.contains("@acme/admins") {
                assert!(line.starts_with("| `"), "rendered outside code: {line}\n{md}");
            }
        }
        assert!(fence.is_none(), "every fence is closed:\n{md}");
        assert!(md.contains("| `b` | `ami-1` | `us-east-1` | `` `@acme/admins"), "{md}");
    }

    #[test]
    fn huge_reports_are_truncated() {
        let mut r = Report::new("build", "t");
        r.tail = vec!["x".repeat(1000); 2000];
        assert!(render(&r, None).len() <= MAX_BYTES);
    }
}
