//! The fan-in report of `packer-vault report`: one table with a row per
//! image of a matrix (failed images first), then each image's details
//! folded, from the JSON reports of its jobs.

use super::json::JsonReport;
use super::markdown::{cell, code, fenced_list, html_code, secs};
use std::fmt::Write;
use std::time::Duration;

/// One file given to `report`: its name and what it held.
pub type Entry = (String, Result<JsonReport, String>);

/// The hidden marker of the fan-in comment of workflow (or job) `name`:
/// never a build's marker, so it never overwrites one. The name is the
/// repository's (a pull request can rename the workflow): it is shown only
/// through [`super::marker_key`], never as written.
pub fn marker(name: &str) -> String {
    format!("<!-- packer-vault-report:{} -->", super::markdown::marker_key(name))
}

fn rank(e: &Entry) -> u8 {
    match &e.1 {
        Ok(r) if r.result == "success" => 2,
        Ok(_) => 0,
        Err(_) => 1,
    }
}

/// How a row names its image: the bucket when there is one, else the template.
fn image(r: &JsonReport) -> String {
    match &r.bucket {
        Some(b) => format!("{} (bucket {})", code(&r.template), code(b)),
        None => code(&r.template),
    }
}

/// Renders the fan-in report; `marker` goes first when given: a heading
/// with the counts, one row per image (failures first), then each image's
/// details.
pub fn render(entries: &[Entry], marker: Option<&str>) -> String {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by_key(|e| (rank(e), e.0.clone()));
    let mut o = String::new();
    if let Some(m) = marker {
        let _ = writeln!(o, "{m}");
    }
    heading(&mut o, entries);
    let _ = writeln!(
        o,
        "\n\n| Image | Result | Version | Fingerprint | Channel | Duration |\n|---|---|---|---|---|---|"
    );
    for (name, r) in &sorted {
        match r {
            Err(why) => {
                let _ = writeln!(o, "| {} | ⚠️ unreadable: {} | | | | |", code(name), code(why));
            }
            Ok(r) => row(&mut o, r),
        }
    }
    o.push('\n');
    for (_, r) in &sorted {
        if let Ok(r) = r {
            details(&mut o, r);
        }
    }
    o
}

/// `### ✅ packer-vault: N images, F failed, U unreadable reports`.
fn heading(o: &mut String, entries: &[Entry]) {
    let images = entries.iter().filter(|e| e.1.is_ok()).count();
    let failed = (entries.iter())
        .filter(|e| e.1.as_ref().is_ok_and(|r| r.result != "success"))
        .count();
    let unreadable = entries.len() - images;
    let icon = if failed + unreadable == 0 { "✅" } else { "❌" };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let _ = write!(o, "### {icon} packer-vault: {images} image{}", plural(images));
    if failed > 0 {
        let _ = write!(o, ", {failed} failed");
    }
    if unreadable > 0 {
        let _ = write!(o, ", {unreadable} unreadable report{}", plural(unreadable));
    }
}

/// One image's row of the table.
fn row(o: &mut String, r: &JsonReport) {
    let result = match (r.result.as_str(), r.exit_code) {
        ("success", _) => "✅ succeeded".to_string(),
        (word, Some(c)) => format!("❌ {word} (exit {c})"),
        (word, None) => format!("❌ {word}"),
    };
    let hcp = r.hcp.as_ref();
    let link = hcp.and_then(|h| Some((h.url.as_ref()?, h.version_name.as_ref().or(h.version_id.as_ref())?)));
    let version = match link {
        Some((url, name)) => format!("[{}]({url})", cell(name)),
        None => "–".into(),
    };
    let fingerprint = hcp.map(|h| code(&h.fingerprint)).unwrap_or_else(|| "–".into());
    let channel = (hcp.and_then(|h| h.channel.as_deref()))
        .map(code)
        .unwrap_or_else(|| "–".into());
    let duration = secs(Duration::try_from_secs_f64(r.duration_seconds).unwrap_or_default());
    let _ = writeln!(
        o,
        "| {} | {result} | {version} | {fingerprint} | {channel} | {duration} |",
        image(r)
    );
}

/// One image's folded details: errors, artifacts, secrets, job link.
fn details(o: &mut String, r: &JsonReport) {
    let icon = if r.result == "success" { "✅" } else { "❌" };
    let _ = writeln!(o, "<details><summary>{icon} {}</summary>\n", html_code(&r.template));
    if !r.errors.is_empty() {
        let _ = writeln!(o, "**Errors**\n");
        fenced_list(o, &r.errors);
        o.push('\n');
    }
    if !r.artifacts.is_empty() {
        let _ = writeln!(o, "| Build | Artifact | Region |\n|---|---|---|");
        for a in &r.artifacts {
            let region = code(a.region.as_deref().unwrap_or(""));
            let _ = writeln!(o, "| {} | {} | {region} |", code(&a.build), code(&a.id));
        }
        o.push('\n');
    }
    let packer = (r.packer_version.as_deref())
        .map(|v| format!(" · Packer {}", cell(v)))
        .unwrap_or_default();
    let (n, digest) = (r.secrets.len(), &r.secrets_digest);
    let _ = writeln!(o, "Secrets: {n} values, digest `{digest}`{packer}\n");
    if let Some(url) = &r.run_url {
        let _ = writeln!(o, "[Job log]({url})\n");
    }
    let _ = writeln!(o, "</details>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::{FORMAT, JsonHcp};

    fn report(template: &str, result: &str) -> JsonReport {
        JsonReport {
            format: FORMAT,
            command: "build".into(),
            template: template.into(),
            bucket: None,
            result: result.into(),
            exit_code: Some(if result == "success" { 0 } else { 1 }),
            packer_version: Some("1.11.2".into()),
            hcp: None,
            artifacts: Vec::new(),
            secrets_digest: "sha256:00".into(),
            secrets: Vec::new(),
            phases: Vec::new(),
            duration_seconds: 12.5,
            errors: Vec::new(),
            warnings: Vec::new(),
            run_url: None,
            job: None,
            lifecycle: None,
        }
    }

    #[test]
    fn failed_images_come_first_and_unreadable_files_are_named() {
        let mut ok = report("images/a", "success");
        ok.bucket = Some("a".into());
        ok.hcp = Some(JsonHcp {
            bucket: "a".into(),
            fingerprint: "fp-a".into(),
            version_id: Some("01HV".into()),
            version_name: Some("v3".into()),
            url: Some("https://portal/v/01HV".into()),
            channel: Some("dev".into()),
            ..Default::default()
        });
        let mut bad = report("images/b", "failed");
        bad.errors = vec!["@acme/admins <img src=x>".into()];
        let entries = vec![
            ("a.json".to_string(), Ok(ok)),
            ("b.json".to_string(), Ok(bad)),
            ("c.json".to_string(), Err("not JSON (expected value)".to_string())),
        ];
        let md = render(&entries, Some(&marker("images")));
        assert!(md.starts_with("<!-- packer-vault-report:images -->"));
        assert!(md.contains("2 images, 1 failed, 1 unreadable report"), "{md}");
        let (b, c, a) = (
            md.find("`images/b`").unwrap(),
            md.find("`c.json`").unwrap(),
            md.find("`images/a`").unwrap(),
        );
        assert!(b < c && c < a, "failed, unreadable, then succeeded:\n{md}");
        assert!(
            md.contains("[v3](https://portal/v/01HV)") && md.contains("`dev`"),
            "{md}"
        );
        assert!(md.contains("❌ failed (exit 1)"));
        assert!(md.contains("```text\n- @acme/admins <img src=x>\n```"), "fenced:\n{md}");
    }
}
