//! Tests of `lockfile`.

use super::*;

#[test]
fn render_then_load_round_trips() {
    let lock = LockFile {
        lock_version: FORMAT,
        digest: "sha256:abc".into(),
        secrets: vec![
            Entry {
                namespace: String::new(),
                mount: "secret/".into(),
                path: "ci/z".into(),
                version: 2,
                created_time: "2026-01-01T00:00:00Z".into(),
            },
            Entry {
                namespace: String::new(),
                mount: "secret/".into(),
                path: "ci/a: \"odd\"".into(),
                version: 7,
                created_time: String::new(),
            },
            Entry {
                namespace: "admin/team-a".into(),
                mount: "secret/".into(),
                path: "ci/z".into(),
                version: 4,
                created_time: String::new(),
            },
        ],
        not_lockable: vec![Unlockable {
            path: "aws/creds/x".into(),
            reason: "dynamic".into(),
        }],
    };
    let text = lock.render();
    assert!(text.starts_with("# packer-vault.lock"));
    assert!(text.find("ci/a").unwrap() < text.rfind("ci/z").unwrap(), "sorted");
    assert!(
        text.find("admin/team-a").unwrap() < text.find("ci/a").unwrap(),
        "sorted by namespace first"
    );
    let dir = std::env::temp_dir().join(format!("pv-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("packer-vault.lock");
    std::fs::write(&path, &text).unwrap();
    let back = LockFile::load(&path).unwrap();
    assert_eq!(back.get("", "secret/", "ci/a: \"odd\"").map(|e| e.version), Some(7));
    assert_eq!(back.get("", "secret/", "ci/z").map(|e| e.version), Some(2));
    assert_eq!(back.get("admin/team-a", "secret/", "ci/z").map(|e| e.version), Some(4));
    assert!(
        text.contains("  - namespace: \"admin/team-a\"\n    mount: \"secret/\""),
        "{text}"
    );
    assert_eq!(back.digest, "sha256:abc");
    for (bad, want) in [
        (
            "lock-version: 1\nsecrets:\n  - mount: secret/\n    path: x\n    version: 0\n",
            "version 0",
        ),
        (
            "lock-version: 1\nsecrets:\n  - mount: secret/\n    path: x\n    version: two\n",
            "malformed",
        ),
        ("lock-version: 2\n", "lock-version 2"),
        (
            "lock-version: 1\nsecrets:\n  - {namespace: /admin, mount: a/, path: x, version: 1}\n",
            "namespace",
        ),
        ("lock-version: 1\nsecret: []\n", "malformed"),
        (
            "lock-version: 1\nsecrets:\n  - {mount: a/, path: x, version: 1}\n  - {mount: a/, path: x, version: 2}\n",
            "twice",
        ),
    ] {
        std::fs::write(&path, bad).unwrap();
        let e = LockFile::load(&path).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("lock-file") && e.to_string().contains(want),
            "{bad}: {e}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Found by fuzzing (`fuzz/`, target `lock`): a DEL in a rendered string
/// made the written lock unreadable.
#[test]
fn render_escapes_what_yaml_cannot_hold() {
    let odd = "a\u{7f}b\u{85}c\u{9f}\u{2028}\u{2029}\u{feff}\u{fffe}\u{ffff}\t\"\\é😀\u{0}";
    let lock = LockFile {
        lock_version: FORMAT,
        digest: "sha256:abc".into(),
        secrets: vec![Entry {
            namespace: String::new(),
            mount: format!("{odd}/"),
            path: odd.into(),
            version: 1,
            created_time: odd.into(),
        }],
        not_lockable: vec![Unlockable {
            path: odd.into(),
            reason: odd.into(),
        }],
    };
    let text = lock.render();
    assert!(
        text.contains(r#""a\u007fb\u0085c\u009f\u2028\u2029\ufeff\ufffe\uffff\u0009\"\\é😀\u0000""#),
        "{text}"
    );
    assert_eq!(LockFile::parse(&text, "t.lock").unwrap(), lock);
}
