//! What a report read back from a file must look like before anything
//! renders it. Fan-in reports are written by other jobs, and a pull request
//! can commit one or forge one in its own job: every field is untrusted.
//! Names and identifiers must match their pattern, numbers their range, and
//! links must point at the configured HCP portal or the CI's own server;
//! a report that breaks a rule is named as unreadable and never rendered.

use super::json::JsonReport;

/// Where a report's links may point: URL prefixes (`scheme://host[:port]`
/// with an optional path), no trailing `/`.
#[derive(Debug, Clone, Default)]
pub struct Trusted {
    /// HCP portal bases (`HCP_PORTAL_URL`, HCP's US and EU portals).
    pub portals: Vec<String>,
    /// The CI's server (`GITHUB_SERVER_URL`, `CI_SERVER_URL`).
    pub ci_server: Option<String>,
}

/// Longest duration a report may state: 30 days, in seconds.
const MAX_SECONDS: f64 = 30.0 * 24.0 * 3600.0;

/// Checks every field of `r`; the first one that breaks its rule, named.
pub fn check(r: &JsonReport, trusted: &Trusted) -> Result<(), String> {
    one_of(
        "command",
        &r.command,
        &["build", "validate", "promote", "revoke", "restore", "cascade"],
    )?;
    one_of("result", &r.result, &["success", "failed", "cancelled"])?;
    if let Some(c) = r.exit_code
        && !(0..=255).contains(&c)
    {
        return Err(format!("`exit_code` {c} is not an exit code"));
    }
    text("template", &r.template, 512)?;
    opt(&r.bucket, |b| name("bucket", b))?;
    opt(&r.packer_version, |v| {
        pattern("packer_version", v, 64, |c| {
            c.is_ascii_alphanumeric() || "._+-".contains(c)
        })
    })?;
    seconds("duration_seconds", r.duration_seconds)?;
    for p in &r.phases {
        text("phases.name", &p.name, 64)?;
        seconds("phases.seconds", p.seconds)?;
    }
    if !r.secrets_digest.is_empty() {
        let hex = r.secrets_digest.strip_prefix("sha256:").unwrap_or("");
        if hex.is_empty() || hex.len() > 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("`secrets_digest` is not `sha256:` and hex digits".into());
        }
    }
    for s in &r.secrets {
        text("secrets.path", &s.path, 1024)?;
        text("secrets.key", &s.key, 256)?;
        pattern("secrets.env", &s.env, 256, |c| c.is_ascii_alphanumeric() || c == '_')?;
        opt(&s.namespace, |n| text("secrets.namespace", n, 256))?;
        one_of("secrets.engine", &s.engine, &["kv2", "kv1", "dynamic"])?;
    }
    for a in &r.artifacts {
        text("artifacts.build", &a.build, 256)?;
        text("artifacts.id", &a.id, 1024)?;
        opt(&a.region, |g| text("artifacts.region", g, 128))?;
    }
    if let Some(h) = &r.hcp {
        name("hcp.bucket", &h.bucket)?;
        name("hcp.fingerprint", &h.fingerprint)?;
        opt(&h.version_id, |v| {
            pattern("hcp.version_id", v, 64, |c| c.is_ascii_alphanumeric())
        })?;
        opt(&h.version_name, |v| name("hcp.version_name", v))?;
        opt(&h.status, |v| {
            pattern("hcp.status", v, 64, |c| c.is_ascii_uppercase() || c == '_')
        })?;
        opt(&h.channel, |v| name("hcp.channel", v))?;
        opt(&h.url, |u| {
            let mut tried = trusted.portals.iter().map(|p| link("hcp.url", u, Some(p)));
            tried
                .find(Result::is_ok)
                .unwrap_or_else(|| link("hcp.url", u, trusted.portals.first().map(String::as_str)))
        })?;
        for (k, v) in &h.labels {
            text("hcp.labels", k, 256)?;
            text("hcp.labels", v, 1024)?;
        }
    }
    opt(&r.run_url, |u| link("run_url", u, trusted.ci_server.as_deref()))?;
    opt(&r.job, |j| text("job", j, 256))?;
    opt(&r.lifecycle, |l| text("lifecycle", l, 1024))?;
    for (field, list) in [("errors", &r.errors), ("warnings", &r.warnings)] {
        if list.len() > 200 {
            return Err(format!("`{field}` has more than 200 entries"));
        }
        for e in list.iter() {
            if e.len() > 8192 || e.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Err(format!(
                    "`{field}` holds an entry over 8 KiB or with control characters"
                ));
            }
        }
    }
    Ok(())
}

fn opt<T>(v: &Option<T>, f: impl FnOnce(&T) -> Result<(), String>) -> Result<(), String> {
    v.as_ref().map_or(Ok(()), f)
}

fn one_of(field: &str, v: &str, allowed: &[&str]) -> Result<(), String> {
    if allowed.contains(&v) {
        Ok(())
    } else {
        Err(format!("`{field}` is not one of {}", allowed.join(", ")))
    }
}

/// One line of printable text, at most `max` bytes.
fn text(field: &str, v: &str, max: usize) -> Result<(), String> {
    if v.len() > max || v.chars().any(char::is_control) {
        return Err(format!(
            "`{field}` is longer than {max} bytes or holds control characters"
        ));
    }
    Ok(())
}

fn pattern(field: &str, v: &str, max: usize, ok: impl Fn(char) -> bool) -> Result<(), String> {
    if v.is_empty() || v.len() > max || !v.chars().all(ok) {
        return Err(format!("`{field}` does not have the form of one"));
    }
    Ok(())
}

/// An HCP name (bucket, channel, fingerprint, version name).
fn name(field: &str, v: &str) -> Result<(), String> {
    pattern(field, v, 128, |c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

fn seconds(field: &str, v: f64) -> Result<(), String> {
    if !v.is_finite() || !(0.0..=MAX_SECONDS).contains(&v) {
        return Err(format!("`{field}` is not a number of seconds from 0 to 30 days"));
    }
    Ok(())
}

/// A link that starts with the trusted `base` (and `/` after it).
fn link(field: &str, v: &str, base: Option<&str>) -> Result<(), String> {
    let Some(base) = base else {
        return Err(format!("`{field}`: no link is expected here"));
    };
    let under = v.strip_prefix(base).is_some_and(|rest| rest.starts_with('/'));
    // No markup, and no `@`: a portal or run link never holds one, and the
    // fuzzer showed one rendered beside the link text.
    let plain = v.chars().all(|c| c.is_ascii_graphic() && !"<>\"'`()[]\\@".contains(c));
    if !under || !plain {
        return Err(format!("`{field}` does not point at {base}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::json::{FORMAT, JsonHcp, JsonPhase};

    fn report() -> JsonReport {
        JsonReport::parse(&format!(
            r#"{{"format":{FORMAT},"command":"build","template":"images/a","result":"success",
               "secrets_digest":"sha256:0a1b","duration_seconds":12.5,
               "run_url":"https://github.com/acme/app/actions/runs/1"}}"#
        ))
        .expect("a report")
    }

    fn trusted() -> Trusted {
        Trusted {
            portals: vec!["https://portal.cloud.hashicorp.com".into()],
            ci_server: Some("https://github.com".into()),
        }
    }

    #[test]
    fn a_report_of_ours_passes() {
        let mut r = report();
        r.hcp = Some(JsonHcp {
            bucket: "a".into(),
            fingerprint: "0123456789ab-42-1".into(),
            version_id: Some("01HV7".into()),
            version_name: Some("v3".into()),
            url: Some("https://portal.cloud.hashicorp.com/services/packer/x".into()),
            channel: Some("dev".into()),
            status: Some("VERSION_ACTIVE".into()),
            ..Default::default()
        });
        r.phases = vec![JsonPhase {
            name: "packer build".into(),
            seconds: 3.0,
            ok: true,
        }];
        assert_eq!(check(&r, &trusted()), Ok(()));
    }

    #[test]
    fn forged_fields_are_named() {
        type Forge = Box<dyn Fn(&mut JsonReport)>;
        let cases: Vec<(&str, Forge)> = vec![
            ("duration_seconds", Box::new(|r| r.duration_seconds = 1e300)),
            ("duration_seconds", Box::new(|r| r.duration_seconds = f64::NAN)),
            ("duration_seconds", Box::new(|r| r.duration_seconds = -1.0)),
            ("result", Box::new(|r| r.result = "success @acme/admins".into())),
            ("template", Box::new(|r| r.template = "a\n/approve".into())),
            (
                "secrets_digest",
                Box::new(|r| r.secrets_digest = "[x](https://evil)".into()),
            ),
            (
                "packer_version",
                Box::new(|r| r.packer_version = Some("<img src=x>".into())),
            ),
            (
                "run_url",
                Box::new(|r| r.run_url = Some("https://evil.example/x".into())),
            ),
            (
                "run_url",
                Box::new(|r| r.run_url = Some("https://github.com.evil.example/x".into())),
            ),
            (
                "run_url",
                Box::new(|r| r.run_url = Some("https://github.com/a)](https://evil".into())),
            ),
            ("exit_code", Box::new(|r| r.exit_code = Some(-7))),
            (
                "hcp.url",
                Box::new(|r| {
                    r.hcp = Some(JsonHcp {
                        bucket: "a".into(),
                        fingerprint: "f".into(),
                        url: Some("javascript:alert(1)".into()),
                        ..Default::default()
                    })
                }),
            ),
            (
                "hcp.version_name",
                Box::new(|r| {
                    r.hcp = Some(JsonHcp {
                        bucket: "a".into(),
                        fingerprint: "f".into(),
                        version_name: Some("v1](https://evil)".into()),
                        ..Default::default()
                    })
                }),
            ),
        ];
        for (field, forge) in cases {
            let mut r = report();
            forge(&mut r);
            let e = check(&r, &trusted()).expect_err(field);
            assert!(e.contains(&format!("`{field}`")), "{field}: {e}");
        }
    }
}
