//! The streaming redactor: the same output as the whole text for every
//! split of it, and no byte held longer than a secret could need.

use super::*;

const SECRETS: &[&str] = &[
    "hunter2-Secret!",
    "s3cr3t/with+plus and space",
    "quote\"back\\slash",
    "multi\nline-secret-value\r\n",
    "abc",
    "abcabcX",
    "zz",
];

fn sample_text() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"==> amazon-ebs.ubuntu: starting\n");
    for (i, s) in SECRETS.iter().enumerate() {
        for f in forms(s) {
            t.extend_from_slice(format!("{i} [{f}]").as_bytes());
            t.extend_from_slice(if i % 2 == 0 { b" tail\n" } else { b"|" });
        }
    }
    t.extend_from_slice(b"abcab abcabcabcX zzz hunter2-Secret");
    t.extend_from_slice(b"\xff\xfe non-utf8 abcabcab");
    t
}

#[test]
fn stream_equals_whole_for_every_two_way_split() {
    let r = Redactor::new(SECRETS);
    let text = sample_text();
    let whole = r.redact_bytes(&text);
    assert_no_form(&whole, SECRETS);
    for i in 0..=text.len() {
        let out = stream_chunks(&r, &[&text[..i], &text[i..]]);
        assert_eq!(out, whole, "split at {i}");
    }
}

#[test]
fn stream_equals_whole_byte_by_byte_and_random_chunks() {
    let r = Redactor::new(SECRETS);
    let text = sample_text();
    let whole = r.redact_bytes(&text);
    let bytes: Vec<&[u8]> = text.chunks(1).collect();
    assert_eq!(stream_chunks(&r, &bytes), whole);
    let mut rng = Lcg(7);
    for _ in 0..300 {
        let mut chunks = Vec::new();
        let mut rest = &text[..];
        while !rest.is_empty() {
            let n = rng.below(rest.len().min(64) + 1);
            let (a, b) = rest.split_at(n);
            chunks.push(a);
            rest = b;
        }
        assert_eq!(stream_chunks(&r, &chunks), whole);
    }
}

#[test]
fn stream_equals_whole_with_large_pattern_set() {
    // Enough secrets to exceed the DFA budget, so the builder's own
    // choice of automaton is exercised as well.
    let mut rng = Lcg(99);
    let mut secrets: Vec<String> = SECRETS.iter().map(|s| (*s).to_owned()).collect();
    for _ in 0..400 {
        let len = 3 + rng.below(30);
        secrets.push((0..len).map(|_| char::from(b"abcXYZ/+ =-"[rng.below(11)])).collect());
    }
    let r = Redactor::new(&secrets);
    let Matcher::Ac(ac) = &r.inner.matcher else {
        panic!("expected an automaton");
    };
    assert_ne!(ac.kind(), AhoCorasickKind::DFA);
    assert!(r.inner.trigrams.is_some(), "a large set is filtered by trigrams");
    let mut text = sample_text();
    for s in secrets.iter().step_by(7) {
        text.extend_from_slice(format!("{s}\n").as_bytes());
    }
    for _ in 0..2000 {
        text.push(b"abcXYZ/+ =-\n"[rng.below(12)]);
    }
    let whole = r.redact_bytes(&text);
    assert_eq!(whole, naive_redact(r.patterns(), &text));
    for step in [1, 2, 3, 5, 17, 64, 1000] {
        let chunks: Vec<&[u8]> = text.chunks(step).collect();
        assert_eq!(stream_chunks(&r, &chunks), whole, "step {step}");
    }
    let small = Redactor::new(SECRETS);
    let Matcher::Ac(ac) = &small.inner.matcher else {
        panic!("expected an automaton");
    };
    assert_eq!(ac.kind(), AhoCorasickKind::DFA);
}

#[test]
fn stream_reusable_after_finish() {
    let r = Redactor::new(["secretvalue"]);
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"a secretval", &mut out);
    s.finish(&mut out);
    s.push(b"ue secretvalue", &mut out);
    s.finish(&mut out);
    assert_eq!(out, b"a secretvalue ***");
}

#[test]
fn latency_complete_lines_are_not_held() {
    let r = Redactor::new(["hello world secret", "hello"]);
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"hell", &mut out);
    assert_eq!(out, b"");
    s.push(b"o\n", &mut out);
    assert_eq!(out, b"***\n");
    let r = Redactor::new(["S3cr3t!v", "Other#Secret"]);
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"hello\n", &mut out);
    assert_eq!(out, b"hello\n");
}

#[test]
fn latency_partial_line_without_candidate_is_not_held() {
    let r = Redactor::new(["S3cr3t!v", "Other#Secret"]);
    for p in r.patterns() {
        assert!(!p.starts_with(['a', 'b', 'c']), "bad fixture: {p}");
    }
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"abc", &mut out);
    assert_eq!(out, b"abc");
}

#[test]
fn latency_holds_exactly_the_secret_prefix() {
    let r = Redactor::new(["S3cr3t!v", "Other#Secret"]);
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"log: xS3cr3", &mut out);
    assert_eq!(out, b"log: x");
    s.push(b"t!", &mut out);
    assert_eq!(out, b"log: x");
    s.push(b"v and more", &mut out);
    assert_eq!(out, b"log: x*** and more");
    s.push(b" S3cr", &mut out);
    s.finish(&mut out);
    assert_eq!(out, b"log: x*** and more S3cr");
}

#[test]
fn latency_match_extendable_by_future_bytes_is_held() {
    let r = Redactor::new(["abcdef", "abc"]);
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"xx abc", &mut out);
    assert_eq!(out, b"xx ");
    s.push(b"def\n", &mut out);
    assert_eq!(out, b"xx ***\n");
    s.push(b"abc", &mut out);
    s.push(b"d", &mut out);
    s.push(b"!", &mut out);
    assert_eq!(out, b"xx ***\n***d!");
}

#[test]
fn latency_final_match_is_emitted_once_unextendable() {
    let r = Redactor::new(["abcd", "cdxyz"]);
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"abcd", &mut out);
    // "cd" could begin "cdxyz", but the match "abcd" starts earlier and
    // cannot grow, so it is final.
    assert_eq!(out, b"***");
    s.push(b"xyz", &mut out);
    s.finish(&mut out);
    assert_eq!(out, r.redact_bytes(b"abcdxyz"));
}

#[test]
fn finish_flushes_unterminated_line() {
    let r = Redactor::new(["secretvalue"]);
    let mut s = r.stream();
    let mut out = Vec::new();
    s.push(b"done\nlast secretv", &mut out);
    assert_eq!(out, b"done\nlast ");
    s.finish(&mut out);
    assert_eq!(out, b"done\nlast secretv");
    let mut out = Vec::new();
    s.push(b"end secretvalue", &mut out);
    s.finish(&mut out);
    assert_eq!(out, b"end ***");
}

#[test]
fn non_utf8_passes_through() {
    let r = Redactor::new(["secretvalue"]);
    let text: &[u8] = b"\xff\xfe\x00bin\xc3(\n\x80\x81secretvalu\xe2\x82";
    assert_eq!(r.redact_bytes(text), text);
    let bytes: Vec<&[u8]> = text.chunks(1).collect();
    assert_eq!(stream_chunks(&r, &bytes), text);
    assert_eq!(r.redact_bytes(b"\xffsecretvalue\xff"), b"\xff***\xff");
}

#[test]
fn redact_str_stays_utf8() {
    let r = Redactor::new(["clé-secrète"]);
    assert_eq!(r.redact("voilà clé-secrète ünd"), "voilà *** ünd");
}

#[test]
fn fail_closed_masks_lines_consistently() {
    let r = Redactor::with_matcher(vec!["x".to_owned()], Matcher::FailClosed, None);
    let text = b"a line\n\nanother\nunterminated";
    let whole = r.redact_bytes(text);
    assert_eq!(whole, b"***\n\n***\n***");
    for i in 0..=text.len() {
        assert_eq!(stream_chunks(&r, &[&text[..i], &text[i..]]), whole);
    }
    let bytes: Vec<&[u8]> = text.chunks(1).collect();
    assert_eq!(stream_chunks(&r, &bytes), whole);
}
