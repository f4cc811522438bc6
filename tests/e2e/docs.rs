//! The README stays in step with the code: its inputs table is the one
//! rendered from the inputs table, and its first lines give the two commands.

use std::path::PathBuf;

fn readme() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md")).expect("README.md")
}

#[test]
fn readme_lists_every_input() {
    let table = packer_vault::config::inputs::markdown_table();
    let text = readme();
    assert!(
        text.contains(&table),
        "README.md's inputs table differs from src/config/inputs/table.rs; paste this:\n\n{table}"
    );
}

#[test]
fn readme_opens_with_the_demo_and_the_tests() {
    let text = readme();
    let head: String = text.lines().take(25).collect::<Vec<_>>().join("\n");
    assert!(head.contains("./demo"), "the demo command is in the first lines");
    assert!(head.contains(".ci/run"), "the test command is in the first lines");
}

/// The `path` lines of the heredoc after `vault policy write <name> - <<'EOF'`.
fn policy_block(text: &str, name: &str) -> Vec<String> {
    let head = format!("vault policy write {name} - <<'EOF'\n");
    let at = text.find(&head).unwrap_or_else(|| panic!("a `{head}` block")) + head.len();
    let body = &text[at..at + text[at..].find("\nEOF").expect("the block's EOF")];
    body.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("path "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn the_readme_least_privilege_role_renews_and_revokes() {
    use crate::exec::{accessor, revoked};
    use crate::support::{self, Fixture, bao, gitlab_env};

    // What packer-vault needs for its own token, as README.md grants it
    // (every line but the secrets) and as the GitLab example does.
    let readme = readme();
    let at = readme.find("own='\n").expect("the README's `own` policy lines") + "own='\n".len();
    let own: Vec<String> = readme[at..at + readme[at..].find("\n'").expect("its end")]
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("path \"auth/") || l.starts_with("path \"sys/"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(own.len() >= 3, "{own:?}");
    let example =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/gitlab/vault-setup.sh"))
            .expect("examples/gitlab/vault-setup.sh");
    let example_own: Vec<String> = policy_block(&example, "packer-vault")
        .into_iter()
        .filter(|l| l.starts_with("path \"auth/") || l.starts_with("path \"sys/"))
        .collect();
    assert_eq!(example_own, own, "the example grants what the README does");
    assert!(readme.contains("\"token_no_default_policy\": true"));

    // A role with only that and the secrets, and a TTL the command outlives.
    let f = Fixture::new("docs_lean_role");
    let policy = format!("lean-{}", f.id);
    let mut hcl = format!("path \"{}/data/*\" {{ capabilities = [\"read\"] }}\n", f.kv2_mount);
    for l in &own {
        hcl.push_str(l);
        hcl.push('\n');
    }
    bao().policy(&policy, &hcl);
    let (status, body) = bao().api(
        "POST",
        &f.role_path("lean"),
        Some(serde_json::json!({
            "role_type": "jwt",
            "user_claim": "sub",
            "bound_audiences": [f.gitlab_aud],
            "token_policies": [policy],
            "token_no_default_policy": true,
            "token_ttl": 3,
            "token_max_ttl": 60,
        })),
    );
    assert!(status < 300, "create role: {status} {body}");
    let dir = support::scratch_dir("docs_lean_role");
    let mut cmd = support::bin();
    cmd.envs(gitlab_env(&f, &dir))
        .env("VAULT_AUTH_ROLE", "lean")
        .env("VAULT_AUTH_PATH", f.auth_path())
        .env(
            "PACKER_VAULT_SECRETS",
            format!("{}/ci/packer api_token | API_TOKEN", f.kv2_mount),
        )
        .args(["exec", "--", "sh", "-c", "sleep 5; echo \"done with $API_TOKEN\""]);
    let out = support::run(cmd);
    out.assert_success();
    assert!(
        out.stderr.contains("policies lean-"),
        "no default policy: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("default"), "{}", out.stderr);
    assert!(out.stderr.contains("renewed the token"), "{}", out.stderr);
    assert!(out.stderr.contains("revoked the Vault token"), "{}", out.stderr);
    assert!(revoked(&accessor(&out)));
    f.assert_no_secret(&out.combined());
}

/// ARCHITECTURE.md names every top-level module of `src/` in its layers
/// table, and every file it points at exists.
#[test]
fn architecture_names_every_module_and_only_files_that_exist() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let layers = text
        .split("## Layers")
        .nth(1)
        .and_then(|t| t.split("\n## ").next())
        .expect("a Layers section");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(root.join("src")).expect("src/").flatten() {
        let name = entry.file_name().to_string_lossy().trim_end_matches(".rs").to_string();
        if ["lib", "main", "layers"].contains(&name.as_str()) || name.ends_with(".asc") {
            continue;
        }
        if !layers.contains(&format!("`{name}`")) {
            missing.push(name);
        }
    }
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "ARCHITECTURE.md's layers table misses {missing:?}");
    let named: Vec<&str> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| t.ends_with(".rs") || (t.ends_with('/') && !t.contains(' ')))
        .collect();
    assert!(named.len() > 10, "found only {named:?}");
    for path in named {
        let at = if path.starts_with("src/") || path.starts_with("tests/") {
            root.join(path)
        } else {
            root.join("src").join(path)
        };
        assert!(at.exists(), "ARCHITECTURE.md names `{path}`, which does not exist");
    }
}

/// Every place a user pins this project (README, examples, the GitLab
/// template and component, action.yml's usage note) names a tag that the
/// release workflow creates for Cargo.toml's version: `vX.Y.Z` or the
/// major tag `vX` it moves.
#[test]
fn every_pin_names_a_tag_the_release_workflow_creates() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let version = env!("CARGO_PKG_VERSION");
    let major = version.split('.').next().expect("a major version");
    let release = std::fs::read_to_string(root.join(".github/workflows/release.yml")).expect("release.yml");
    assert!(
        release.contains(r#"major=${TAG%%.*}"#) && release.contains(r#"tags: ["v*.*.*"]"#),
        "the release workflow still tags vX.Y.Z and moves vX"
    );
    let allowed = [format!("v{version}"), format!("v{major}")];
    let mut files = vec![
        root.join("README.md"),
        root.join(".gitlab-ci-template.yml"),
        root.join("templates/packer-vault.yml"),
        root.join("action.yml"),
    ];
    for sub in ["examples/github", "examples/gitlab"] {
        for e in std::fs::read_dir(root.join(sub)).expect("examples").flatten() {
            files.push(e.path());
        }
    }
    let patterns: [(&str, &str); 4] = [
        ("packer-vault/packer-vault-action@", ""),
        ("packer-vault-action/", "/.gitlab-ci-template.yml"),
        ("packer-vault-action/packer-vault@", ""),
        ("PACKER_VAULT_REF: ", ""),
    ];
    let mut seen = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        for (before, after) in patterns {
            for (at, _) in text.match_indices(before) {
                let rest = &text[at + before.len()..];
                let end = if after.is_empty() {
                    rest.find(|c: char| c.is_whitespace() || "`'\")".contains(c))
                        .unwrap_or(rest.len())
                } else {
                    match rest.find(after) {
                        Some(e) if !rest[..e].contains(char::is_whitespace) => e,
                        _ => continue,
                    }
                };
                let pin = &rest[..end];
                if pin.is_empty() || pin.starts_with('$') || pin == "vX.Y.Z" {
                    continue;
                }
                seen += 1;
                assert!(
                    allowed.iter().any(|a| a == pin),
                    "{}: `{before}{pin}` is no tag the release workflow creates (want one of {allowed:?})",
                    file.display()
                );
            }
        }
    }
    assert!(seen >= 20, "the pins were found ({seen})");
}
