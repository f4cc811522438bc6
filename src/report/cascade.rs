//! The cascade's report: a row per child image (bucket, target, run link,
//! result, time), the plan's totals, and the `cascade` and `matrix` outputs.

use super::markdown::{code, secs};
use serde::Serialize;
use std::fmt::Write;
use std::time::Duration;

/// What became of one child.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Dry run: it would be rebuilt.
    Planned,
    /// Its rebuild succeeded.
    Succeeded,
    /// Its rebuild failed (the CI's word).
    Failed(String),
    /// It ran past `cascade-timeout` and was cancelled.
    TimedOut,
    /// Cancelled with the cascade (SIGINT, SIGTERM).
    Cancelled,
    /// Not started: the cascade stopped after too many failures.
    NotStarted,
    /// No target, or one that does not parse: why.
    NoTarget(String),
    /// The CI refused to start it: why.
    NotDispatched(String),
}

impl Outcome {
    /// Whether it makes the cascade exit 1.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Outcome::Planned | Outcome::Succeeded)
    }

    fn word(&self) -> String {
        match self {
            Outcome::Planned => "🔵 to rebuild".into(),
            Outcome::Succeeded => "✅ rebuilt".into(),
            Outcome::Failed(c) => format!("❌ failed ({})", code(c)),
            Outcome::TimedOut => "⏱️ timed out (cancelled)".into(),
            Outcome::Cancelled => "⚠️ cancelled".into(),
            Outcome::NotStarted => "⏸️ not started".into(),
            Outcome::NoTarget(why) => format!("❌ no target: {}", code(why)),
            Outcome::NotDispatched(why) => format!("❌ not started: {}", code(why)),
        }
    }
}

/// One child image of the golden one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The child's bucket.
    pub bucket: String,
    /// Where it is rebuilt (`github:...`, `gitlab:...`), as written.
    pub target: Option<String>,
    /// The run that rebuilds it.
    pub run_url: Option<String>,
    /// What became of it.
    pub outcome: Outcome,
    /// How long its rebuild took, in seconds.
    pub seconds: Option<f64>,
}

/// The whole cascade.
#[derive(Debug, Clone, Default)]
pub struct Cascade {
    /// The golden bucket.
    pub bucket: String,
    /// Its channel that moved.
    pub channel: String,
    /// The version the channel holds now.
    pub fingerprint: Option<String>,
    /// A row per child to rebuild.
    pub rows: Vec<Row>,
    /// Child buckets already built from what the channel holds.
    pub up_to_date: Vec<String>,
    /// Child buckets HCP cannot say about (left alone without `cascade-undetermined`).
    pub undetermined: Vec<String>,
    /// A dry run.
    pub dry_run: bool,
}

impl Cascade {
    /// Whether the cascade exits 1.
    pub fn failed(&self) -> bool {
        self.rows.iter().any(|r| r.outcome.is_failure())
    }

    /// The `cascade` output: the rows as JSON.
    pub fn rows_json(&self) -> String {
        serde_json::to_string(&self.rows).unwrap_or_else(|_| "[]".into())
    }

    /// The `matrix` output: `{"include": [{bucket, target}...]}` of the
    /// children to rebuild that have a target.
    pub fn matrix_json(&self) -> String {
        let include: Vec<serde_json::Value> = self
            .rows
            .iter()
            .filter(|r| !matches!(r.outcome, Outcome::NoTarget(_)))
            .filter_map(|r| Some(serde_json::json!({"bucket": r.bucket, "target": r.target.as_ref()?})))
            .collect();
        serde_json::json!({ "include": include }).to_string()
    }

    /// The Markdown of the summary (GitHub) or report file (GitLab).
    pub fn render(&self) -> String {
        let mut o = String::new();
        let icon = if self.failed() { "❌" } else { "✅" };
        let what = if self.dry_run { "plan" } else { "cascade" };
        let _ = writeln!(
            o,
            "### {icon} packer-vault {what}: {} of {} {}\n",
            code(&self.channel),
            code(&self.bucket),
            self.fingerprint
                .as_deref()
                .map(|f| format!("(now {})", code(f)))
                .unwrap_or_default()
        );
        let count = |f: &dyn Fn(&Outcome) -> bool| self.rows.iter().filter(|r| f(&r.outcome)).count();
        let _ = writeln!(
            o,
            "{} out of date, {} up to date, {} undetermined{}; {} rebuilt, {} failed, {} not started\n",
            self.rows.len(),
            self.up_to_date.len(),
            self.undetermined.len(),
            if self.undetermined.is_empty() {
                ""
            } else {
                " (left alone: set `cascade-undetermined` to rebuild them)"
            },
            count(&|o| *o == Outcome::Succeeded),
            count(&|o| matches!(o, Outcome::Failed(_) | Outcome::TimedOut | Outcome::NotDispatched(_))),
            count(&|o| matches!(o, Outcome::NotStarted | Outcome::NoTarget(_) | Outcome::Cancelled)),
        );
        if self.rows.is_empty() {
            let _ = writeln!(o, "Nothing to rebuild.");
            return o;
        }
        let _ = writeln!(
            o,
            "| Child bucket | Target | Run | Result | Time |\n|---|---|---|---|---|"
        );
        for r in &self.rows {
            let run = r
                .run_url
                .as_deref()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .map(|u| format!("[run]({u})"))
                .unwrap_or_else(|| "–".into());
            let time = r
                .seconds
                .and_then(|s| Duration::try_from_secs_f64(s).ok())
                .map(secs)
                .unwrap_or_else(|| "–".into());
            let _ = writeln!(
                o,
                "| {} | {} | {run} | {} | {time} |",
                code(&r.bucket),
                r.target.as_deref().map(code).unwrap_or_else(|| "–".into()),
                r.outcome.word()
            );
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_render_and_the_matrix_holds_what_has_a_target() {
        let c = Cascade {
            bucket: "golden".into(),
            channel: "production".into(),
            fingerprint: Some("fp-2".into()),
            rows: vec![
                Row {
                    bucket: "app-a".into(),
                    target: Some("github:acme/app-a:image.yml@main".into()),
                    run_url: Some("https://github.com/acme/app-a/actions/runs/7".into()),
                    outcome: Outcome::Succeeded,
                    seconds: Some(61.0),
                },
                Row {
                    bucket: "app-b".into(),
                    target: None,
                    run_url: None,
                    outcome: Outcome::NoTarget("no packer-vault-rebuild label".into()),
                    seconds: None,
                },
            ],
            up_to_date: vec!["app-c".into()],
            undetermined: vec![],
            dry_run: false,
        };
        let md = c.render();
        assert!(
            md.contains("2 out of date, 1 up to date, 0 undetermined; 1 rebuilt"),
            "{md}"
        );
        assert!(
            md.contains("[run](https://github.com/acme/app-a/actions/runs/7)"),
            "{md}"
        );
        assert!(md.contains("1m 01s"), "{md}");
        assert!(c.failed());
        assert_eq!(
            c.matrix_json(),
            r#"{"include":[{"bucket":"app-a","target":"github:acme/app-a:image.yml@main"}]}"#
        );
        let rows: serde_json::Value = serde_json::from_str(&c.rows_json()).expect("json");
        assert_eq!(rows[1]["outcome"]["no_target"], "no packer-vault-rebuild label");
    }
}
