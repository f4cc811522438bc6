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
