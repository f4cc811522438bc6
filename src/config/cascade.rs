//! The inputs of `packer-vault cascade`, validated before any request: the
//! golden image's channel, the window, the limits, the targets.

use super::Sources;
use super::sources::name_input;
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::time::Duration;

/// Where a child is rebuilt: its own repository's pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `github:OWNER/REPO:WORKFLOW@REF`: a `workflow_dispatch`.
    Github {
        /// `OWNER/REPO`.
        repo: String,
        /// The workflow file (or id).
        workflow: String,
        /// The branch or tag to run on.
        git_ref: String,
    },
    /// `gitlab:PROJECT_PATH@REF`: a pipeline trigger.
    Gitlab {
        /// `group/subgroup/project`.
        project: String,
        /// The branch or tag to run on.
        git_ref: String,
    },
}

impl Target {
    /// Parses `github:OWNER/REPO:WORKFLOW@REF` or `gitlab:PROJECT@REF` (a
    /// ref may hold `/`); the reason when it is neither.
    pub fn parse(text: &str) -> std::result::Result<Target, String> {
        let text = text.trim();
        let bad = |why: &str| format!("`{text}` {why} (want github:OWNER/REPO:WORKFLOW@REF or gitlab:PROJECT@REF)");
        let name_ok = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        let ref_ok = |r: &str| {
            !r.is_empty()
                && !r.starts_with(['/', '-'])
                && !r.contains("..")
                && r.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        };
        if let Some(rest) = text.strip_prefix("github:") {
            let (what, git_ref) = rest.split_once('@').ok_or_else(|| bad("has no @REF"))?;
            let (repo, workflow) = what.split_once(':').ok_or_else(|| bad("has no :WORKFLOW"))?;
            let (owner, name) = repo.split_once('/').ok_or_else(|| bad("has no OWNER/REPO"))?;
            if !name_ok(owner) || !name_ok(name) || !name_ok(workflow) || !ref_ok(git_ref) {
                return Err(bad("holds a character a GitHub name or ref cannot"));
            }
            return Ok(Target::Github {
                repo: repo.to_string(),
                workflow: workflow.to_string(),
                git_ref: git_ref.to_string(),
            });
        }
        if let Some(rest) = text.strip_prefix("gitlab:") {
            let (project, git_ref) = rest.split_once('@').ok_or_else(|| bad("has no @REF"))?;
            if project.split('/').count() < 2 || !project.split('/').all(name_ok) || !ref_ok(git_ref) {
                return Err(bad("is no GROUP/PROJECT path with a ref"));
            }
            return Ok(Target::Gitlab {
                project: project.to_string(),
                git_ref: git_ref.to_string(),
            });
        }
        Err(bad("starts with neither github: nor gitlab:"))
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Github {
                repo,
                workflow,
                git_ref,
            } => write!(f, "github:{repo}:{workflow}@{git_ref}"),
            Target::Gitlab { project, git_ref } => write!(f, "gitlab:{project}@{git_ref}"),
        }
    }
}

/// The validated inputs of `cascade`.
#[derive(Debug, Clone)]
pub struct Cascade {
    /// The golden image's channel that moved (`channel`).
    pub channel: String,
    /// Rebuilds at once.
    pub parallel: usize,
    /// Failed or timed-out rebuilds after which no more start.
    pub max_failures: usize,
    /// How long one rebuild may take.
    pub timeout: Duration,
    /// Between two looks at the running rebuilds.
    pub poll: Duration,
    /// `cascade-targets`: bucket → target text (checked when used, so a bad
    /// line fails its child only).
    pub targets: BTreeMap<String, String>,
    /// Rebuild `UNDETERMINED` children too.
    pub undetermined: bool,
    /// GitHub workflow inputs, `{placeholders}` unexpanded.
    pub inputs: Vec<(String, String)>,
    /// `cascade-token`.
    pub token: Option<Secret>,
    /// Print the plan, start nothing.
    pub dry_run: bool,
}

/// Reads and checks the cascade's inputs; `bucket` is `hcp-bucket`.
pub fn resolve(src: &Sources, bucket: Option<&str>) -> Result<Cascade> {
    if bucket.is_none() {
        return Err(Error::input("hcp-bucket", "cascade needs the golden image's bucket"));
    }
    let channel = name_input(src, "channel")?
        .ok_or_else(|| Error::input("channel", "cascade needs the golden image's channel that moved"))?;
    let number = |name: &str, default: u64, min: u64, max: u64| -> Result<u64> {
        match src.text(name)? {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| Error::input(name, format!("`{v}` is not a whole number from {min} to {max}"))),
        }
    };
    let mut targets = BTreeMap::new();
    for line in lines(src.text("cascade-targets")?) {
        let (bucket, target) = line
            .split_once('=')
            .ok_or_else(|| Error::input("cascade-targets", format!("`{line}` is not BUCKET=TARGET")))?;
        targets.insert(bucket.trim().to_string(), target.trim().to_string());
    }
    let mut inputs = Vec::new();
    for line in lines(src.text("cascade-inputs")?) {
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| Error::input("cascade-inputs", format!("`{line}` is not NAME=VALUE")))?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)) {
            return Err(Error::input(
                "cascade-inputs",
                format!("`{name}` is no workflow input name"),
            ));
        }
        inputs.push((name.to_string(), value.trim().to_string()));
    }
    if inputs.len() > 25 {
        return Err(Error::input(
            "cascade-inputs",
            "GitHub takes at most 25 workflow inputs",
        ));
    }
    Ok(Cascade {
        channel,
        parallel: number("cascade-parallel", 4, 1, 256)? as usize,
        max_failures: number("cascade-max-failures", 1, 1, 100_000)? as usize,
        timeout: Duration::from_secs(number("cascade-timeout", 21_600, 1, 7 * 24 * 3600)?),
        poll: Duration::from_secs(number("cascade-poll", 30, 1, 3600)?),
        targets,
        undetermined: src.flag("cascade-undetermined", false)?,
        inputs,
        token: src.text("cascade-token")?.map(Secret::new),
        dry_run: src.flag("dry-run", false)?,
    })
}

fn lines(text: Option<String>) -> Vec<String> {
    text.unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_slashed_refs_and_refuse_the_rest() {
        assert_eq!(
            Target::parse("github:acme/app-x:image.yml@release/v2"),
            Ok(Target::Github {
                repo: "acme/app-x".into(),
                workflow: "image.yml".into(),
                git_ref: "release/v2".into()
            })
        );
        assert_eq!(
            Target::parse("gitlab:acme/images/app-y@main"),
            Ok(Target::Gitlab {
                project: "acme/images/app-y".into(),
                git_ref: "main".into()
            })
        );
        for bad in [
            "github:acme/app-x@main",
            "github:acme:image.yml@main",
            "gitlab:app@main",
            "bitbucket:a/b@main",
            "github:acme/app x:image.yml@main",
            "github:acme/app:image.yml@../x",
            "github:acme/app:image.yml@",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        let t = Target::parse("github:acme/app-x:image.yml@release/v2").expect("target");
        assert_eq!(t.to_string(), "github:acme/app-x:image.yml@release/v2");
    }
}
