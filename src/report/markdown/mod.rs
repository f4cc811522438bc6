//! Markdown rendering of a [`Report`].

use super::{HcpVersion, Report, Status};
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
    heading(&mut o, r);
    if let Some(h) = &r.hcp {
        hcp(&mut o, r, h);
    }
    artifacts(&mut o, r);
    for (title, items) in [
        ("Findings", &r.findings[..]),
        ("Errors", &r.errors[..r.errors.len().min(20)]),
        ("Warnings", &r.warnings[..]),
    ] {
        if !items.is_empty() {
            let _ = writeln!(o, "**{title}**\n");
            fenced_list(&mut o, items);
            o.push('\n');
        }
    }
    secrets(&mut o, r);
    footer(&mut o, r);
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

/// The title line: what ran (the build, or the lifecycle command and its
/// outcome) and how it ended.
fn heading(o: &mut String, r: &Report) {
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
}

/// The HCP Packer version: its link, fingerprint, channel and labels.
fn hcp(o: &mut String, r: &Report, h: &HcpVersion) {
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

/// The artifacts table: HCP's when it has them, else Packer's own.
fn artifacts(o: &mut String, r: &Report) {
    let from_hcp = r.hcp.as_ref().filter(|h| !h.artifacts.is_empty());
    if r.artifacts.is_empty() && from_hcp.is_none() {
        return;
    }
    let _ = writeln!(o, "| Build | Artifact | Region | Details |\n|---|---|---|---|");
    if let Some(h) = from_hcp {
        for (component, region, id) in &h.artifacts {
            let _ = writeln!(o, "| {} | {} | {} | HCP |", code(component), code(id), code(region));
        }
    } else {
        for a in &r.artifacts {
            let (region, id) = match a.id.split_once(':') {
                Some((reg, id)) if !reg.is_empty() && !reg.contains(' ') => (reg, id),
                _ => ("", a.id.as_str()),
            };
            let details = a.description.lines().next().unwrap_or("");
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} |",
                code(&a.build),
                code(id),
                code(region),
                code(details)
            );
        }
    }
    o.push('\n');
}

/// The folded secrets section: the login, then one row per value (names,
/// never values), with a namespace column only where one is in play.
fn secrets(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "<details><summary>Secrets: {} values, digest <code>{}</code></summary>\n",
        r.secrets.len(),
        r.secrets_digest
    );
    if r.accessor.is_empty() {
        let _ = writeln!(o, "No Vault login: nothing was read from Vault.\n");
    } else {
        let policies = match r.policies.is_empty() {
            true => "none".to_string(),
            false => code(&r.policies.join(", ")),
        };
        let (role, accessor) = (code(&r.role), &r.accessor);
        let _ = writeln!(
            o,
            "Vault role {role}, token accessor `{accessor}`, policies {policies}\n"
        );
    }
    if !r.secrets.is_empty() {
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
            let (path, key, env, engine) = (code(&s.path), code(&s.key), &s.env, &s.engine);
            let _ = writeln!(o, "| {path} | {key} | `{env}` | {engine} | {version} | {ttl} |");
        }
    }
    let _ = writeln!(o, "\n</details>\n");
}

/// Packer's version and phases, the last lines of its output, the run link.
fn footer(o: &mut String, r: &Report) {
    if !r.phases.is_empty() {
        let phases: Vec<String> = (r.phases.iter())
            .map(|p| format!("{} {}{}", p.name, secs(p.duration), if p.ok { "" } else { " ✗" }))
            .collect();
        let version = (r.packer_version.as_deref())
            .map(|v| format!("Packer {v} · "))
            .unwrap_or_default();
        let _ = writeln!(o, "<sub>{version}{}</sub>\n", phases.join(" · "));
    }
    if !r.tail.is_empty() {
        let _ = writeln!(o, "<details><summary>Last lines of Packer's output</summary>\n");
        fenced(o, r.tail.iter().cloned());
        let _ = writeln!(o, "</details>\n");
    }
    if let Some(url) = &r.run_url {
        let _ = writeln!(o, "[Run log]({url})");
    }
}

#[cfg(test)]
mod tests;
