//! `packer-vault report FILE...`: fans the JSON reports of a matrix of
//! builds back in. One job summary and one sticky PR comment / MR note
//! (its own marker per workflow, so it never overwrites a build's) with a
//! row per image. Logs in nowhere.

use crate::config::report::ReportConfig;
use crate::env::{Env, Platform};
use crate::error::{EXIT_FAILED, EXIT_OK};
use crate::report::check::{Trusted, check};
use crate::report::fanin::{self, Entry};
use crate::report::json::JsonReport;
use std::path::{Path, PathBuf};

/// Runs `report`; exit 0 when it published (a failed image does not change
/// that: its own job failed already), 1 when nothing could be read or the
/// summary could not be written.
pub async fn report(cfg: ReportConfig, env: Env) -> i32 {
    let entries = read_reports(&cfg, &trusted(&cfg, &env));
    if !entries.iter().any(|e| e.1.is_ok()) {
        crate::log::error("no report could be read: nothing to publish");
        return EXIT_FAILED;
    }
    let name = match cfg.platform {
        Platform::Github => env.get("GITHUB_WORKFLOW").unwrap_or("workflow").to_string(),
        Platform::Gitlab => env.get("CI_JOB_NAME").unwrap_or("pipeline").to_string(),
        Platform::Local => "local".to_string(),
    };
    let marker = crate::log::redact(&fanin::marker(&name));
    let markdown = crate::log::redact(&fanin::render(&entries, None));
    let body = crate::log::redact(&fanin::render(&entries, Some(&marker)));
    let failed = entries
        .iter()
        .any(|e| e.1.as_ref().map_or(true, |r| r.result != "success"));
    let mut code = EXIT_OK;
    match cfg.platform {
        Platform::Local => println!(
            "{}",
            crate::log::neutralize(&crate::report::terminal::render(&markdown))
        ),
        Platform::Github => {
            if cfg.summary {
                let text = crate::publish::github::cap(&markdown, crate::publish::github::MAX_SUMMARY_BYTES);
                if let Err(e) = crate::export::append_file(&env, "GITHUB_STEP_SUMMARY", &text) {
                    crate::log::error(&e.to_string());
                    code = EXIT_FAILED;
                }
            }
            if let Some(want) = crate::publish::github::comment::Want::decide(cfg.comment, failed) {
                let body = crate::publish::github::comment::fit(&body);
                crate::publish::github::comment::post(
                    &env,
                    (cfg.github_token.as_ref(), cfg.comment_author.as_deref()),
                    want,
                    &marker,
                    &body,
                    crate::publish::BUDGET,
                )
                .await;
            }
        }
        Platform::Gitlab => {
            if cfg.summary {
                crate::publish::gitlab::write_report(&env, &markdown);
            }
            let in_mr = crate::publish::gitlab::in_merge_request(&env);
            if let (Some(want), Some(token)) = (
                crate::publish::gitlab::Want::decide(cfg.comment, failed, in_mr),
                cfg.gitlab_token.as_ref().filter(|t| !t.is_empty()),
            ) {
                crate::publish::gitlab::note(&env, token, &marker, &body, want).await;
            }
        }
    }
    code
}

/// Where links in a report may point. Reports are written by other jobs (or
/// committed by a pull request): links may point only at the HCP portal and
/// this CI's server.
fn trusted(cfg: &ReportConfig, env: &Env) -> Trusted {
    Trusted {
        portals: crate::hcp::Endpoints::from_env(env)
            .ok()
            .map(|e| e.portal)
            .into_iter()
            .chain(
                [
                    "https://portal.cloud.hashicorp.com",
                    "https://portal.cloud.eu.hashicorp.com",
                ]
                .map(String::from),
            )
            .collect(),
        ci_server: match cfg.platform {
            Platform::Github => env.get("GITHUB_SERVER_URL"),
            Platform::Gitlab => env.get("CI_SERVER_URL"),
            Platform::Local => None,
        }
        .map(|u| u.trim_end_matches('/').to_string()),
    }
}

/// Every report the patterns name, read and checked, each logged in a line;
/// a pattern that matches no file is an entry of its own.
fn read_reports(cfg: &ReportConfig, trusted: &Trusted) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for pattern in &cfg.reports {
        let files = expand(pattern);
        if files.is_empty() {
            entries.push((pattern.clone(), Err("no such file".into())));
        }
        for f in files {
            let shown = f.display().to_string();
            let parsed = crate::env::read_text(&f)
                .and_then(|t| JsonReport::parse(&t))
                .and_then(|r| check(&r, trusted).map(|()| r));
            entries.push((shown, parsed));
        }
    }
    for (name, r) in &entries {
        match r {
            Ok(r) => crate::log::info(&format!(
                "{}: {} of `{}` {}",
                name.escape_debug(),
                r.command,
                r.template.escape_debug(),
                r.result
            )),
            Err(why) => crate::log::warn(&format!("{}: not a packer-vault report: {why}", name.escape_debug())),
        }
    }
    entries
}

/// The files `pattern` names: itself, or with `*` / `?` in its file name,
/// the matching files of its folder, sorted.
fn expand(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !name.contains(['*', '?']) {
        return if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_file() && matches(&name, &e.file_name().to_string_lossy()))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// Whether `name` matches the wildcard `pattern` (`*` any run, `?` one character).
fn matches(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_file_names() {
        assert!(matches("*.json", "a.json"));
        assert!(matches("report-?.json", "report-1.json"));
        assert!(!matches("report-?.json", "report-10.json"));
        assert!(matches("*-*.json", "a-b-c.json"));
        assert!(!matches("*.json", "a.json.bak"));
        let dir = tempfile::tempdir().expect("tempdir");
        for n in ["a.json", "b.json", "c.txt"] {
            std::fs::write(dir.path().join(n), "{}").expect("write");
        }
        let got = expand(&dir.path().join("*.json").display().to_string());
        assert_eq!(got, vec![dir.path().join("a.json"), dir.path().join("b.json")]);
        assert!(expand(&dir.path().join("none.json").display().to_string()).is_empty());
    }
}
