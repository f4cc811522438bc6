//! Property tests of the input parsers and the redactor: the same properties
//! as the cargo-fuzz targets in `fuzz/` (shared through `fuzz/src/checks.rs`),
//! driven by proptest with a bounded number of cases so that they run in every
//! `cargo test`. Longer runs: `PROPTEST_CASES=100000 cargo test --test e2e props`,
//! or the fuzz targets (README, "Fuzzing").
//!
//! Inputs are mostly generated from each syntax's grammar, then a few edits
//! are made to them, so that many are accepted (and the checks on accepted
//! input run) and the others fail somewhere past the first line; a share is
//! arbitrary text. Crashes found by fuzzing stay here as `regression_*` tests.

#[path = "../../fuzz/src/checks.rs"]
pub(crate) mod checks;

use checks::Piece;
use packer_vault::lockfile::{Entry, Unlockable};
use packer_vault::spec::{LongEntry, Method};
use proptest::prelude::*;
use proptest::sample::Index;
use std::collections::BTreeMap;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
const CASES: u32 = 256;

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(CASES);
    ProptestConfig {
        cases,
        // Failures are reported with their minimal input; copy it into a
        // `regression_*` test rather than keeping proptest's seed files.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One of `items`, as a `String`.
fn one(items: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop::sample::select(items).prop_map(str::to_string)
}

/// Mostly one of `good`, sometimes one of `bad`.
fn pick(good: &'static [&'static str], bad: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop_oneof![12 => one(good), 1 => one(bad)]
}

/// Characters and tokens that break or bend the syntaxes.
const JUNK: &[&str] = &[
    " ", "\n", "\t", "\r", ";", "|", "#", "@", "/", ":", "- ", "'", "\"", "{", "}", "[", "]", ",", "*", "&a ", "*a",
    "!!str ", "~", "é", "\u{85}", "\u{2028}", "\u{0}", "\u{feff}", "\u{7f}",
];

/// `doc` with up to three edits (a token or any character inserted, or a
/// character deleted).
fn mutated(doc: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    let insert = prop_oneof![3 => one(JUNK), 1 => any::<char>().prop_map(String::from)];
    let edit = (any::<Index>(), prop::option::of(insert));
    let edits = prop_oneof![Just(Vec::new()), prop::collection::vec(edit, 1..4)];
    (doc, edits).prop_map(|(mut doc, edits)| {
        for (at, insert) in edits {
            let bounds: Vec<usize> = doc.char_indices().map(|(i, _)| i).chain([doc.len()]).collect();
            let i = bounds[at.index(bounds.len())];
            match insert {
                Some(t) => doc.insert_str(i, &t),
                None if i < doc.len() => {
                    doc.remove(i);
                }
                None => {}
            }
        }
        doc
    })
}

/// Mostly `doc` (edited), sometimes any text.
fn text(doc: impl Strategy<Value = String>) -> impl Strategy<Value = String> {
    prop_oneof![4 => mutated(doc), 1 => any::<String>()]
}

/// A Vault path: segments, some of them odd, sometimes a leading `/`.
fn spec_path() -> impl Strategy<Value = String> {
    let seg = pick(
        &[
            "kv", "secret", "data", "ci", "app", "aws", "creds", "packer", "x", "é", "a*b", "a:b",
        ],
        &["..", ".", "", "v1", "a?b", "a b"],
    );
    (one(&["", "", "", "/"]), prop::collection::vec(seg, 2..5))
        .prop_map(|(lead, segs)| format!("{lead}{}", segs.join("/")))
}

/// The one-line spec syntax: entries, separators and comments.
fn spec_doc() -> impl Strategy<Value = String> {
    let entry = (
        spec_path(),
        pick(
            &["", "", "@1", "@3"],
            &["@0", "@x", "@+2", "@18446744073709551616", "@"],
        ),
        prop::option::of(pick(
            &["k", "db-pass", "api.key", "*", "1st", "é", "client_id", "a.b-c"],
            &["\u{1}"],
        )),
        prop::option::of(pick(
            &["| NAME", "|X_1", "| aws", "| gcp", "| azure", "| _"],
            &["| 9X", "|", "| A-B", "| A | B", "| oci"],
        )),
        one(&[";", " ;", "\n", " ; # note\n", "\r\n", "; ", "#\n"]),
    )
        .prop_map(|(path, version, key, name, sep)| {
            let key = key.map(|k| format!(" {k}")).unwrap_or_default();
            let name = name.map(|n| format!(" {n}")).unwrap_or_default();
            format!("{path}{version}{key}{name}{sep}")
        });
    prop::collection::vec(entry, 0..6).prop_map(|e| e.concat())
}

/// A `- path: ...` item of the long form, indented by `indent`.
fn long_entry_yaml(indent: &'static str) -> impl Strategy<Value = String> {
    (
        spec_path(),
        prop::option::of(pick(&["1", "4"], &["0", "-1", "x"])),
        prop::option::of(pick(&["POST", "GET", "get"], &["PUT", "[]"])),
        prop::option::of(one(&["{ ttl: 1h }", "[1]", "~", "{}"])),
        prop::option::of(one(&[
            "{ client_id: HCP_CLIENT_ID, client_secret: X }",
            "{'*': ''}",
            "{k: 9X}",
            "{}",
            "[a]",
        ])),
        prop::option::of(one(&["aws", "gcp", "azure", "oci"])),
        prop::option::of(one(&["keyz: {}", "extra: 1"])),
    )
        .prop_map(move |(path, version, method, body, keys, preset, extra)| {
            let mut s = format!("{indent}- path: {path}\n");
            let fields = [
                ("version", version),
                ("method", method),
                ("body", body),
                ("keys", keys),
                ("preset", preset),
            ];
            for (k, v) in fields {
                if let Some(v) = v {
                    s.push_str(&format!("{indent}  {k}: {v}\n"));
                }
            }
            if let Some(e) = extra {
                s.push_str(&format!("{indent}  {e}\n"));
            }
            s
        })
}

/// The long form of the spec, a YAML list.
fn long_doc() -> impl Strategy<Value = String> {
    prop::collection::vec(long_entry_yaml(""), 0..4).prop_map(|e| e.concat())
}

/// A config file: inputs (mostly known ones) with values of every shape, a
/// long-form `secrets:` list, `environments:` overrides.
fn config_doc() -> impl Strategy<Value = String> {
    let names: Vec<&'static str> = packer_vault::config::inputs::INPUTS
        .iter()
        .map(|i| i.name)
        .filter(|n| *n != "config")
        .collect();
    let name =
        prop_oneof![20 => prop::sample::select(names), 1 => prop::sample::select(&["vault_addr", "config", "rol"][..])];
    let value = one(&[
        "x",
        "true",
        "1",
        "1.5",
        "~",
        "''",
        "https://vault:8200",
        "[a, 'b c']",
        "{region: eu-west-1, n: 2}",
        "{}",
        "[]",
        "|\n  multi\n  line",
        "\"a\\nb\"",
        "[{a: 1}]",
        "kv/app k | K",
    ]);
    let line = (name, value).prop_map(|(k, v)| format!("{k}: {v}\n"));
    let lines = prop::collection::vec(line.clone(), 0..5).prop_map(|l| l.concat());
    let env_body = prop::collection::vec(line, 0..3).prop_map(|l| l.iter().map(|l| format!("    {l}")).collect());
    let envs = prop::option::of((one(&["prod", "dev", "''", "1"]), env_body))
        .prop_map(|e| e.map(|(name, body): (String, String)| format!("environments:\n  {name}:\n{body}")));
    let secrets = prop::option::of(prop::collection::vec(long_entry_yaml("  "), 0..3))
        .prop_map(|s| s.map(|s| format!("secrets:\n{}", s.concat())));
    (lines, secrets, envs).prop_map(|(a, b, c)| format!("{a}{}{}", b.unwrap_or_default(), c.unwrap_or_default()))
}

/// Lock file text as `packer-vault lock` writes it, with odd values.
fn lock_doc() -> impl Strategy<Value = String> {
    let entry = (
        pick(
            &["\"secret/\"", "secret/", "kv/", "\"a\\u007f/\""],
            &["/", "\"\"", "a", "[]"],
        ),
        pick(
            &["\"ci/hcp\"", "ci/x", "\"ci/a: \\\"odd\\\"\"", "'q'", "é"],
            &["\"\"", "/x", "*a", "{}"],
        ),
        pick(
            &["1", "3", "18446744073709551615"],
            &["0", "-1", "two", "18446744073709551616"],
        ),
        prop::option::of(pick(&["\"2026-11-02T09:14:03.51Z\""], &["~", "1"])),
    )
        .prop_map(|(m, p, v, t)| {
            let t = t.map(|t| format!("    created_time: {t}\n")).unwrap_or_default();
            format!("  - mount: {m}\n    path: {p}\n    version: {v}\n{t}")
        });
    let unlockable = (pick(&["\"aws/creds/x\"", "x"], &["~"]), one(&["\"dynamic\"", "r"]))
        .prop_map(|(p, r)| format!("  - path: {p}\n    reason: {r}\n"));
    (
        one(&["# packer-vault.lock\n", ""]),
        pick(&["lock-version: 1\n"], &["lock-version: 2\n", "", "lock-version: x\n"]),
        pick(&["digest: sha256:777d02\n", ""], &["digest: ~\n"]),
        prop::collection::vec(entry, 0..4),
        prop::option::of(prop::collection::vec(unlockable, 0..3)),
    )
        .prop_map(|(head, version, digest, secrets, unlockable)| {
            let secrets = if secrets.is_empty() {
                "secrets: []\n".to_string()
            } else {
                format!("secrets:\n{}", secrets.concat())
            };
            let unlockable = unlockable
                .map(|u| format!("not-lockable:\n{}", u.concat()))
                .unwrap_or_default();
            format!("{head}{version}{digest}{secrets}{unlockable}")
        })
}

/// Path-like strings, as Vault mounts and secret names in a lock are, and
/// strings YAML treats specially.
fn lock_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z/]{0,6}",
        1 => "[a-z]{1,3}/",
        1 => any::<String>(),
        1 => one(&["*a", "&a", "!x", "- x", "a: b", "#x", "'", "\"", "~", "null", "1", "\u{85}", "\u{feff}", "\u{7f}"]),
    ]
}

fn long_entry() -> impl Strategy<Value = LongEntry> {
    let name = one(&["k", "*", "token", " x", "", "é"]);
    let env = one(&["K", "TOKEN", "", "9X", "A-B", "_"]);
    let body = prop::option::of(prop_oneof![
        Just(serde_json::json!({"ttl": "30m"})),
        Just(serde_json::json!([1])),
        Just(serde_json::Value::Null),
    ]);
    (
        spec_path(),
        prop::option::of(0u64..4),
        prop_oneof![Just(Method::Get), Just(Method::Post)],
        body,
        prop::collection::btree_map(name, env, 0..3),
        prop::option::of(one(&["aws", "gcp", "azure", "oci"])),
        prop::option::of(one(&["admin", "admin/team-a", "/admin", "a/../b", "a b"])),
    )
        .prop_map(|(path, version, method, body, keys, preset, namespace)| LongEntry {
            path,
            version,
            method,
            body,
            keys: keys.into_iter().collect::<BTreeMap<_, _>>(),
            preset,
            namespace,
        })
}

/// Secrets of `len` characters over an alphabet that makes forms of
/// different secrets overlap and contain encoders' special characters and `*`.
fn secret(len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        6 => prop::sample::select(&b"abc/+ =\n*\"\\%"[..]).prop_map(char::from),
        1 => any::<char>(),
    ];
    prop::collection::vec(ch, len).prop_map(|c| c.into_iter().collect())
}

/// A piece of redactor input: raw bytes, or (part of) a form of a secret.
fn piece() -> impl Strategy<Value = Piece> {
    let at = (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(s, f, l)| (usize::from(s), usize::from(f), l.into()));
    prop_oneof![
        2 => prop::collection::vec(prop::sample::select(&b"abc/+ =\n*\xff"[..]), 0..8).prop_map(Piece::Raw),
        2 => at.clone().prop_map(|(secret, form, _)| Piece::Form { secret, form }),
        1 => at.clone().prop_map(|(secret, form, len)| Piece::Prefix { secret, form, len }),
        1 => at.prop_map(|(secret, form, len)| Piece::Suffix { secret, form, len }),
    ]
}

/// A fan-in report: the seeds' reports with fields replaced by values that
/// bend them (numbers out of range, links elsewhere, markup in names).
fn report_doc() -> impl Strategy<Value = String> {
    let seeds: Vec<String> = ["success", "failed", "hostile-template", "cascade", "duration-1e300"]
        .iter()
        .map(|n| {
            std::fs::read_to_string(
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/seeds/report/{n}.json")),
            )
            .expect("a report seed")
        })
        .collect();
    let field = one(&[
        "template",
        "result",
        "command",
        "bucket",
        "packer_version",
        "run_url",
        "secrets_digest",
        "job",
        "lifecycle",
    ]);
    let value = prop_oneof![
        one(&[
            "@acme/admins",
            "<img src=x>",
            "[x](https://evil.example)",
            "/approve",
            "a`b``c",
            "##[error]x",
            "ok",
            ""
        ])
        .prop_map(serde_json::Value::String),
        prop::sample::select(vec![1e300, -1.0, f64::MAX, 0.0, 12.5]).prop_map(|n| serde_json::json!(n)),
        any::<String>().prop_map(serde_json::Value::String),
    ];
    (prop::sample::select(seeds), prop::collection::vec((field, value), 0..4)).prop_map(|(seed, edits)| {
        let mut v: serde_json::Value = serde_json::from_str(&seed).expect("seed JSON");
        for (k, x) in edits {
            v[k] = x;
        }
        v.to_string()
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fan_in_report(text in text(report_doc())) {
        checks::report(&text);
    }

    #[test]
    fn spec_parser(text in text(spec_doc())) {
        checks::spec_text(&text);
    }

    #[test]
    fn spec_long_form_yaml(text in text(long_doc())) {
        checks::spec_long(&text);
    }

    #[test]
    fn spec_long_form_entries(entries in prop::collection::vec(long_entry(), 0..4)) {
        checks::long_entries(&entries);
    }

    #[test]
    fn config_file(text in text(config_doc()), env in prop::option::of(one(&["prod", "dev", ""]))) {
        checks::config(&text, env.as_deref());
    }

    #[test]
    fn lock_file_text(text in text(lock_doc())) {
        checks::lock_text(&text);
    }

    #[test]
    fn lock_render_round_trip(
        secrets in prop::collection::vec(
            (one(&["", "admin", "admin/team-a", "/x", "a/../b"]), lock_string(), lock_string(), 0u64..4, lock_string()),
            0..4,
        ),
        unlockable in prop::collection::vec((lock_string(), lock_string()), 0..3),
    ) {
        let secrets = secrets
            .into_iter()
            .map(|(namespace, mount, path, version, created_time)| Entry { namespace, mount, path, version, created_time })
            .collect();
        let unlockable = unlockable.into_iter().map(|(path, reason)| Unlockable { path, reason }).collect();
        if let Some(lock) = checks::valid_lock(secrets, unlockable) {
            checks::lock_round_trip(&lock);
        }
    }

    #[test]
    fn redactor(
        secrets in prop::collection::vec(secret(0..10), 0..4),
        pieces in prop::collection::vec(piece(), 0..24),
        splits in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let text = checks::build_text(&secrets, &pieces);
        checks::redact(&secrets, &text, &splits);
    }

    /// Secrets that overlap in every way: windows of one string over a
    /// small alphabet (so prefix/suffix chains, containment and repeated
    /// characters are the rule), in a text made of more windows, split
    /// anywhere. The output must equal the naive union of all occurrences.
    #[test]
    fn redactor_overlapping_secrets(
        base in "[abc]{6,24}",
        windows in prop::collection::vec((any::<usize>(), 3usize..12), 1..5),
        text_windows in prop::collection::vec((any::<usize>(), 1usize..16, "[abc -]{0,3}"), 0..16),
        splits in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let window = |start: usize, len: usize| {
            let start = start % base.len();
            base[start..(start + len).min(base.len())].to_string()
        };
        let secrets: Vec<String> = windows.iter().map(|&(s, l)| window(s, l)).collect();
        let mut text = String::new();
        for (s, l, sep) in &text_windows {
            text.push_str(&window(*s, *l));
            text.push_str(sep);
        }
        checks::redact(&secrets, text.as_bytes(), &splits);
    }

    /// Enough secrets for more than 64 patterns, where the redactor takes
    /// another matcher (and, past 2 KiB of patterns, another automaton).
    #[test]
    fn redactor_many_secrets(
        secrets in prop::collection::vec(secret(3..40), 8..24),
        pieces in prop::collection::vec(piece(), 0..48),
        splits in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let text = checks::build_text(&secrets, &pieces);
        checks::redact(&secrets, &text, &splits);
    }
}

/// Every byte a separate push, and every two-way split, on one dense input.
#[test]
fn redactor_every_split() {
    let secrets: Vec<String> = ["abc", "abcabcX", "a*b c", "p@ss w/rd\"\\?>", "multi\nline-value\r\n"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let pieces: Vec<Piece> = (0..5)
        .flat_map(|secret| {
            (0..12).flat_map(move |form| {
                [
                    Piece::Form { secret, form },
                    Piece::Raw(b" ".to_vec()),
                    Piece::Prefix {
                        secret,
                        form,
                        len: 2 + form,
                    },
                ]
            })
        })
        .collect();
    let text = checks::build_text(&secrets, &pieces);
    let every: Vec<usize> = (0..text.len()).collect();
    checks::redact(&secrets, &text, &every);
    let r = packer_vault::redact::Redactor::new(&secrets);
    let whole = r.redact_bytes(&text);
    for i in 0..=text.len() {
        let mut s = r.stream();
        let mut out = Vec::new();
        s.push(&text[..i], &mut out);
        s.push(&text[i..], &mut out);
        s.finish(&mut out);
        assert!(out == whole, "split at {i}");
    }
}

/// A secret form containing `*` can reappear in the output, made of input
/// text next to a `***`. Nothing of the secret is revealed (the `abc` was in
/// the input as plain text), but a scan of the output for the form finds it.
#[test]
fn regression_star_form_next_to_mask() {
    let r = packer_vault::redact::Redactor::new(["abc*"]);
    assert_eq!(r.redact("abcabc*"), "abc***");
    checks::redact(&["abc*".to_string()], b"abcabc*", &[3]);
}

/// Found by the `lock` fuzz target: a DEL (or another character YAML does not
/// allow unescaped) in a rendered lock made it unreadable.
#[test]
fn regression_lock_render_escapes_control_characters() {
    let lock = checks::valid_lock(
        vec![Entry {
            namespace: String::new(),
            mount: "kv\u{7f}/".into(),
            path: "a\u{85}b\u{fffe}".into(),
            version: 1,
            created_time: "\u{2028}".into(),
        }],
        vec![Unlockable {
            path: "\u{7f}".into(),
            reason: String::new(),
        }],
    )
    .expect("a valid lock");
    checks::lock_round_trip(&lock);
}

/// A report with `"duration_seconds": 1e300` aborted `report` with a panic
/// (Duration::from_secs_f64); now it is named unreadable. A hostile
/// template renders inert.
#[test]
fn regression_report_duration_1e300_and_a_hostile_template() {
    // An `@` in a portal link rendered outside code (found by the fuzzer).
    for n in ["duration-1e300", "hostile-template", "regression-at-in-link"] {
        let seed = std::fs::read_to_string(
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/seeds/report/{n}.json")),
        )
        .expect("seed");
        checks::report(&seed);
    }
}
