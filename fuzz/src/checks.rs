//! Properties shared by the cargo-fuzz targets (`fuzz/fuzz_targets/`) and the
//! proptest suite (`tests/e2e/props.rs`, which includes this file by path).
//! Each function panics when a property fails; it never panics otherwise.
//! It only uses `packer_vault`, `serde_json`, `serde_saphyr` and `std`, which
//! both crates have.

use packer_vault::config::file::ConfigFile;
use packer_vault::config::inputs::INPUTS;
use packer_vault::lockfile::{Entry, FORMAT, LockFile, Unlockable};
use packer_vault::redact::{Redactor, forms};

#[path = "../../src/redact/tests/reference.rs"]
mod reference;
use packer_vault::spec::{self, LongEntry, Method, Request, Selector};
use reference::{contains, naive_redact};

/// The secrets spec parser: no panic; what it accepts is well formed, and
/// writing it back in the one-line syntax parses to the same requests.
pub fn spec_text(text: &str) {
    let Ok(requests) = spec::parse(text) else {
        return;
    };
    for r in &requests {
        check_request(r);
        assert_eq!(r.method, Method::Get);
        assert!(r.body.is_none());
    }
    let _ = packer_vault::config::check_duplicates(&requests);
    let again = spec::parse(&write_spec(&requests)).expect("a written-back spec parses");
    assert_eq!(again, requests, "spec round trip");
}

/// The YAML long form of the spec: no panic; what it accepts is well formed.
pub fn spec_long(yaml: &str) {
    let Ok(entries) = serde_saphyr::from_str::<Vec<LongEntry>>(yaml) else {
        return;
    };
    long_entries(&entries);
}

/// `from_long` on entries however they were made.
pub fn long_entries(entries: &[LongEntry]) {
    let Ok(requests) = spec::from_long(entries) else {
        return;
    };
    for r in &requests {
        check_request(r);
        assert!(
            r.body
                .as_ref()
                .is_none_or(|b| b.is_object() && r.method == Method::Post)
        );
    }
    let _ = packer_vault::config::check_duplicates(&requests);
}

fn check_request(r: &Request) {
    let p = &r.path;
    assert!(!p.starts_with('/') && p.contains('/'), "path {p:?}");
    assert!(
        !p.split('/').any(|s| s.is_empty() || s == "." || s == ".."),
        "path {p:?}"
    );
    assert!(
        !p.chars()
            .any(|c| c.is_whitespace() || c.is_control() || "?#%\\@".contains(c)),
        "path {p:?}"
    );
    assert_ne!(r.version, Some(0));
    assert!(!r.selectors.is_empty());
    for s in &r.selectors {
        if let Selector::Key { key, env } = s {
            assert!(
                !key.is_empty() && !key.chars().any(|c| c.is_whitespace() || c.is_control()),
                "key {key:?}"
            );
            assert!(is_env_name(env), "env {env:?}");
        }
    }
}

fn is_env_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The requests in the one-line syntax.
fn write_spec(requests: &[Request]) -> String {
    let mut out = String::new();
    for r in requests {
        let target = match r.version {
            Some(v) => format!("{}@{v}", r.path),
            None => r.path.clone(),
        };
        for s in &r.selectors {
            match s {
                Selector::Key { key, env } => out.push_str(&format!("{target} {key} | {env};\n")),
                Selector::All => out.push_str(&format!("{target} *\n")),
                Selector::Preset(p) => out.push_str(&format!("{target} | {}\n", p.name())),
            }
        }
    }
    out
}

/// The YAML config file: no panic, for any environment; every input reads
/// back as text; a long-form `secrets:` list goes through `from_long`.
pub fn config(text: &str, environment: Option<&str>) {
    let Ok(file) = ConfigFile::parse(text, "fuzz.yml", environment) else {
        return;
    };
    for input in INPUTS {
        let _ = file.get(input.name);
    }
    if let Some(list) = file.secrets_list()
        && let Ok(entries) = serde_json::from_value::<Vec<LongEntry>>(list.clone())
    {
        long_entries(&entries);
    }
}

/// A digest as `packer-vault lock` writes it.
pub const DIGEST: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// Lock file text: no panic; an accepted lock is valid, and rendering it
/// (with a digest such as `lock` computes) loads back unchanged.
pub fn lock_text(text: &str) {
    let Ok(mut lock) = LockFile::parse(text, "fuzz.lock") else {
        return;
    };
    assert_eq!(lock.lock_version, FORMAT);
    lock.digest = DIGEST.to_string();
    lock_round_trip(&lock);
}

/// A lock that the checks of `LockFile::parse` accept renders to text that
/// parses back to the same lock, secrets sorted.
pub fn lock_round_trip(lock: &LockFile) {
    let text = lock.render();
    let back = match LockFile::parse(&text, "rendered.lock") {
        Ok(back) => back,
        Err(e) => panic!("rendered lock does not load: {e}\n{text}"),
    };
    let mut want = lock.clone();
    want.secrets.sort_by_key(Entry::key);
    assert_eq!(back, want, "lock round trip\n{text}");
}

/// A lock made of the given parts, if `LockFile::parse` would accept it.
pub fn valid_lock(secrets: Vec<Entry>, not_lockable: Vec<Unlockable>) -> Option<LockFile> {
    let mut seen = std::collections::BTreeSet::new();
    for e in &secrets {
        if e.version == 0
            || !e.mount.ends_with('/')
            || e.mount.len() < 2
            || e.path.is_empty()
            || e.path.starts_with('/')
            || (!e.namespace.is_empty() && packer_vault::namespace::check(&e.namespace).is_err())
        {
            return None;
        }
        if !seen.insert(e.key()) {
            return None;
        }
    }
    Some(LockFile {
        lock_version: FORMAT,
        digest: DIGEST.to_string(),
        secrets,
        not_lockable,
    })
}

/// The redactor, for any secrets, any text and any split of the text into
/// pushes (`splits` are cut offsets, taken modulo `text.len() + 1`):
/// - the streamed output equals `redact_bytes` of the whole text,
/// - `redact_bytes` equals a naive masking of the union of all occurrences
///   of all forms (overlapping, contained, chained),
/// - no form of any secret survives in the output, unless the form contains
///   `*` (then it can be made up of text next to a `***`, see below),
/// - valid UTF-8 in gives valid UTF-8 out, and `redact` agrees with
///   `redact_bytes`,
/// - a stream can be reused after `finish`.
pub fn redact(secrets: &[String], text: &[u8], splits: &[usize]) {
    let r = Redactor::new(secrets);
    let mut all_forms: Vec<String> = Vec::new();
    for s in secrets {
        let f = forms(s);
        check_forms(s, &f);
        all_forms.extend(f);
    }
    all_forms.sort();
    all_forms.dedup();
    assert_eq!(r.patterns(), &all_forms[..], "patterns are the sorted forms");

    let whole = r.redact_bytes(text);
    assert_eq!(
        whole,
        naive_redact(&all_forms, text),
        "redact_bytes masks the union of all occurrences"
    );
    for f in &all_forms {
        // A form with a `*` can reappear from text before or after a mask:
        // the secret `abc*` in `abcabc*` gives `abc***`. The naive
        // comparison above covers those forms.
        if !f.contains('*') {
            assert!(
                !contains(&whole, f.as_bytes()),
                "form {f:?} survived in {:?}",
                String::from_utf8_lossy(&whole)
            );
        }
    }
    if let Ok(s) = std::str::from_utf8(text) {
        let out = r.redact(s);
        assert_eq!(out.as_bytes(), &whole[..], "redact(str) == redact_bytes");
        assert!(std::str::from_utf8(&whole).is_ok());
    }

    let mut cuts: Vec<usize> = splits.iter().map(|c| c % (text.len() + 1)).collect();
    cuts.sort_unstable();
    let mut stream = r.stream();
    let mut out = Vec::new();
    for _ in 0..2 {
        out.clear();
        let mut at = 0;
        for &c in &cuts {
            stream.push(&text[at..c], &mut out);
            at = c;
        }
        stream.push(&text[at..], &mut out);
        stream.finish(&mut out);
        assert_eq!(
            out,
            whole,
            "streamed != whole with cuts {cuts:?} in {:?}",
            String::from_utf8_lossy(text)
        );
    }
}

fn check_forms(secret: &str, f: &[String]) {
    for (i, x) in f.iter().enumerate() {
        assert!(!x.is_empty() && !x.contains('\n'), "form {x:?} of {secret:?}");
        assert!(!x.trim().is_empty(), "blank form {x:?} of {secret:?}");
        assert!(!f[..i].contains(x), "duplicate form {x:?} of {secret:?}");
    }
    if !secret.contains('\n') && !secret.trim().is_empty() {
        assert_eq!(
            f.first().map(String::as_str),
            Some(secret),
            "the value itself is the first form"
        );
    }
    if f.is_empty() {
        // A multi-line value under three characters has no line long enough
        // to be a pattern (`{`, `=`) and no encodings.
        let tiny_multiline = secret.contains('\n') && secret.chars().count() < 3;
        assert!(secret.trim().is_empty() || tiny_multiline, "no forms for {secret:?}");
    }
    for x in f {
        assert!(
            !secret.contains('\n') || x.trim().chars().count() >= 3,
            "a line too short to be a secret of its own became a pattern: {x:?}"
        );
    }
}

/// Text for the redactor built from pieces: raw bytes, whole forms of the
/// secrets, and their prefixes and suffixes (which is where a streaming
/// redactor goes wrong), so that a fuzzer or proptest meets matches often.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Bytes as they are.
    Raw(Vec<u8>),
    /// Form `form` (modulo their number) of secret `secret` (modulo theirs).
    Form {
        /// Which secret.
        secret: usize,
        /// Which of its forms.
        form: usize,
    },
    /// The first `len` bytes (modulo the form's length + 1) of a form.
    Prefix {
        /// Which secret.
        secret: usize,
        /// Which of its forms.
        form: usize,
        /// How much of it.
        len: usize,
    },
    /// The last `len` bytes of a form.
    Suffix {
        /// Which secret.
        secret: usize,
        /// Which of its forms.
        form: usize,
        /// How much of it.
        len: usize,
    },
}

/// Concatenates the pieces.
pub fn build_text(secrets: &[String], pieces: &[Piece]) -> Vec<u8> {
    let forms: Vec<Vec<String>> = secrets.iter().map(|s| forms(s)).collect();
    let pick = |secret: usize, form: usize| -> Option<&[u8]> {
        let f = forms.get(secret % forms.len().max(1))?;
        f.get(form % f.len().max(1)).map(String::as_bytes)
    };
    let mut text = Vec::new();
    for p in pieces {
        match p {
            Piece::Raw(b) => text.extend_from_slice(b),
            Piece::Form { secret, form } => text.extend_from_slice(pick(*secret, *form).unwrap_or_default()),
            Piece::Prefix { secret, form, len } => {
                let f = pick(*secret, *form).unwrap_or_default();
                text.extend_from_slice(&f[..len % (f.len() + 1)]);
            }
            Piece::Suffix { secret, form, len } => {
                let f = pick(*secret, *form).unwrap_or_default();
                text.extend_from_slice(&f[f.len() - len % (f.len() + 1)..]);
            }
        }
    }
    text
}

/// A fan-in report file, read, checked and rendered as `packer-vault report`
/// does: no panic, whatever the file; it renders or is named unreadable,
/// and what renders holds no mention outside code and no line a GitLab
/// quick action could start.
pub fn report(text: &str) {
    use packer_vault::report::check::{Trusted, check};
    use packer_vault::report::fanin;
    use packer_vault::report::json::JsonReport;
    let trusted = Trusted {
        portals: vec!["https://portal.cloud.hashicorp.com".into()],
        ci_server: Some("https://github.com".into()),
    };
    let entry = JsonReport::parse(text).and_then(|r| check(&r, &trusted).map(|()| r));
    let readable = entry.is_ok();
    let md = fanin::render(&[("r.json".to_string(), entry)], Some("<!-- packer-vault-report:x -->"));
    assert!(
        md.contains(if readable { "1 image" } else { "unreadable" }),
        "a report renders or is named unreadable"
    );
    for line in md.lines() {
        assert!(!line.starts_with('/'), "a line starts with report text: {line}");
    }
    let free = outside_code(&md);
    assert!(!free.contains('@'), "a mention outside code:\n{md}");
}

/// `md` without fenced blocks, inline code spans and `<code>` elements.
pub fn outside_code(md: &str) -> String {
    let mut out = String::new();
    let mut fence: Option<String> = None;
    for line in md.lines() {
        let ticks: String = line.chars().take_while(|c| *c == '`').collect();
        match &fence {
            Some(f) if line.trim() == f => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                let mut l = line.to_string();
                while let (Some(a), Some(b)) = (l.find("<code>"), l.find("</code>")) {
                    if b < a {
                        break;
                    }
                    l.replace_range(a..b + "</code>".len(), "");
                }
                out.push_str(&strip_spans(&l));
                out.push('\n');
            }
        }
    }
    out
}

/// A line without its backtick code spans (runs of equal length).
fn strip_spans(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'`' {
            let next = s[i..].find('`').map_or(s.len(), |n| i + n);
            out.push_str(&s[i..next]);
            i = next;
            continue;
        }
        let run = b[i..].iter().take_while(|c| **c == b'`').count();
        let mut j = i + run;
        let mut close = None;
        while j < b.len() {
            if b[j] == b'`' {
                let r = b[j..].iter().take_while(|c| **c == b'`').count();
                if r == run {
                    close = Some(j + r);
                    break;
                }
                j += r;
            } else {
                j += 1;
            }
        }
        match close {
            Some(end) => i = end,
            None => {
                out.push_str(&s[i..i + run]);
                i += run;
            }
        }
    }
    out
}
