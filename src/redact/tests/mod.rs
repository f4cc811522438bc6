//! The redactor's tests: forms, matching, properties; streaming in [`stream`].

mod reference;
mod stream;

use reference::{Lcg, contains, naive_redact};

use super::*;
use aho_corasick::AhoCorasickKind;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

fn stream_chunks(r: &Redactor, chunks: &[&[u8]]) -> Vec<u8> {
    let mut s = r.stream();
    let mut out = Vec::new();
    for c in chunks {
        s.push(c, &mut out);
    }
    s.finish(&mut out);
    out
}

fn assert_no_form(out: &[u8], secrets: &[&str]) {
    for s in secrets {
        for f in forms(s) {
            assert!(
                !contains(out, f.as_bytes()),
                "form {f:?} of {s:?} survived in {:?}",
                String::from_utf8_lossy(out)
            );
        }
    }
}

fn has(forms: &[String], f: &str) -> bool {
    forms.iter().any(|x| x == f)
}

#[test]
fn forms_multiline_skips_lines_too_short_to_be_secret() {
    let f = forms("{\n  \"k\": \"v-123\"\n}\n]\nab");
    for short in ["{", "}", "]", "ab"] {
        assert!(!has(&f, short), "{short:?} is no pattern of its own: {f:?}");
    }
    assert!(has(&f, r#"  "k": "v-123""#) && has(&f, r#""k": "v-123""#));
    // A short single-line value is still masked as itself.
    assert!(has(&forms("ab"), "ab"));
}

#[test]
fn forms_multiline_gives_lines() {
    let f = forms("-----BEGIN KEY-----\r\nMIIBOgIBAAJBAK\n\n   \nend-----\n");
    assert!(has(&f, "-----BEGIN KEY-----"));
    assert!(has(&f, "MIIBOgIBAAJBAK"));
    assert!(has(&f, "end-----"));
    assert!(!has(&f, ""));
    assert!(!f.iter().any(|x| x.trim().is_empty()));
    assert!(f.iter().all(|x| !x.contains('\n')));
    // Encodings of the whole value are still there, without raw newlines.
    assert!(has(
        &f,
        &STANDARD.encode("-----BEGIN KEY-----\r\nMIIBOgIBAAJBAK\n\n   \nend-----\n")
    ));
    assert!(has(&f, r#"-----BEGIN KEY-----\r\nMIIBOgIBAAJBAK\n\n   \nend-----\n"#));
}

#[test]
fn forms_indented_line_also_trimmed() {
    let f = forms("a:\n  token: s3cr3t\n  x\n");
    assert!(has(&f, "  token: s3cr3t"));
    assert!(has(&f, "token: s3cr3t"));
    // Lines under three characters (`a:`, `x`) are no patterns of their own.
    assert!(!has(&f, "  x") && !has(&f, "x") && !has(&f, "a:"));
}

#[test]
fn forms_encodings() {
    let v = "p@ss w/rd?>~";
    let f = forms(v);
    assert_eq!(f[0], v);
    assert!(has(&f, "cEBzcyB3L3JkPz5+"));
    assert!(has(&f, "cEBzcyB3L3JkPz5-"));
    let v2 = "hunter2!"; // 8 bytes: base64 has padding
    let f2 = forms(v2);
    assert!(has(&f2, "aHVudGVyMiE="));
    assert!(has(&f2, "aHVudGVyMiE"));
    assert!(has(&forms("ab?>x"), "YWI_Png")); // base64url unpadded
    assert!(has(&forms("ab?>x"), "YWI_Png="));
    assert!(has(&f, "p%40ss%20w%2Frd%3F%3E%7E"));
    assert!(has(&f, "p%40ss+w%2Frd%3F%3E%7E"));
    assert!(has(&f, "p%40ss+w%2Frd%3F%3E~"));
    assert!(has(&f, "p%40ss%20w%2Frd%3F%3E~"));
    // A literal '+' is encoded, so it cannot be confused with a space.
    assert!(has(&forms("a+b c"), "a%2Bb+c"));
    assert!(has(&forms("a*b c"), "a*b+c"));
    assert_eq!(f.iter().filter(|x| *x == v).count(), 1);
    let mut sorted = f.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), f.len(), "forms are deduplicated");
}

#[test]
fn forms_json_escapes_quote_and_backslash() {
    let f = forms(r#"a"b\c"#);
    assert!(has(&f, r#"a\"b\\c"#));
    let f = forms("tab\there\u{1}");
    assert!(has(&f, r"tab\there\u0001"));
}

#[test]
fn forms_short_secret_has_no_derived_forms() {
    assert_eq!(forms("ab"), vec!["ab".to_owned()]);
    assert_eq!(forms("é"), vec!["é".to_owned()]);
    assert_eq!(forms("x"), vec!["x".to_owned()]);
    assert!(forms("").is_empty());
    assert!(forms("   ").is_empty());
    assert!(forms("\n\r\n").is_empty());
    // Three characters is enough for derived forms.
    assert!(forms("abc").len() > 1);
}

#[test]
fn forms_plain_alphanumeric_dedups_to_few() {
    let f = forms("abcdef123");
    assert_eq!(f[0], "abcdef123");
    assert!(has(&f, "YWJjZGVmMTIz"));
    // URL and JSON forms equal the value and are dropped.
    assert_eq!(f.len(), 2);
}

#[test]
fn redacts_each_form() {
    let secret = "p@ss w/rd\"\\?>";
    let r = Redactor::new([secret]);
    let fs = forms(secret);
    assert!(fs.len() >= 8);
    for f in &fs {
        let text = format!("before {f} after");
        assert_eq!(r.redact(&text), "before *** after", "form {f:?}");
    }
    assert_eq!(r.patterns().len(), fs.len());
}

#[test]
fn redacts_multiline_secret_lines() {
    let r = Redactor::new(["line-one\nline-two\r\n"]);
    assert_eq!(r.redact("x line-two y\nline-one\n"), "x *** y\n***\n");
}

#[test]
fn overlapping_and_adjacent_secrets() {
    let r = Redactor::new(["password", "password123", "supersecretvalue", "secret"]);
    assert_eq!(r.redact("a password123 b"), "a *** b");
    assert_eq!(r.redact("a password12 b"), "a ***12 b");
    assert_eq!(r.redact("x supersecretvalue y"), "x *** y");
    assert_eq!(r.redact("x secret y supersecret"), "x *** y super***");
    // Touching occurrences are one masked run.
    assert_eq!(r.redact("passwordsecretpassword"), "***");
    assert_eq!(r.redact("secretsecret"), "***");
    // The end of one secret is the start of another: both are masked
    // whole, not the first and then the rest of the second in clear.
    let r = Redactor::new(["abcd", "cdxyz"]);
    assert_eq!(r.redact("abcdxyz"), "***");
    assert_eq!(r.redact("abcxyz cdxyzabcd"), "abcxyz ***");
    // Chains and containment.
    let r = Redactor::new(["aab", "bcc", "ccd", "xbcdx"]);
    assert_eq!(r.redact("-aabccd-"), "-***-");
    assert_eq!(r.redact("-xbcdx-bc-"), "-***-bc-");
}

#[test]
fn empty_redactor_passes_through() {
    let r = Redactor::new(Vec::<String>::new());
    assert!(r.is_empty());
    assert_eq!(r.redact("anything"), "anything");
    assert_eq!(stream_chunks(&r, &[b"a", b"b\nc"]), b"ab\nc");
    let r = Redactor::new(["", "  "]);
    assert!(r.is_empty());
}

#[test]
fn debug_hides_patterns_and_redactor_is_shareable() {
    fn assert_traits<T: Clone + Send + Sync + fmt::Debug>() {}
    assert_traits::<Redactor>();
    let r = Redactor::new(["topsecretvalue"]);
    let d = format!("{r:?} {:?}", r.stream());
    assert!(!d.contains("topsecret"), "{d}");
    assert!(!d.contains("dG9wc2VjcmV0"), "{d}");
    assert!(d.contains(&r.patterns().len().to_string()), "{d}");
}

#[test]
fn property_large_sets_use_trigrams_and_match_naive() {
    // Enough patterns for the trigram filter with anchored checks; dense
    // matches from a small alphabet; every other round with one- and
    // two-character secrets (the filter's slow path), else without (its
    // eight-wide loop).
    let mut rng = Lcg(0xbead);
    let (mut filtered, mut wide) = (0, 0);
    for iter in 0..120 {
        // Lines of multi-line secrets can be short too: no `\n` when
        // every pattern must have three bytes or more.
        let (min, alphabet): (usize, &[u8]) = if iter % 2 == 0 {
            (1, b"abc/+ =\n")
        } else {
            (3, b"abc/+ =x")
        };
        let secrets: Vec<String> = (0..48)
            .map(|_| {
                let len = min + rng.below(10);
                (0..len)
                    .map(|_| char::from(alphabet[rng.below(alphabet.len())]))
                    .collect()
            })
            .collect();
        let r = Redactor::new(&secrets);
        let Some(trigrams) = &r.inner.trigrams else {
            continue;
        };
        assert_eq!(trigrams.any_short, r.patterns().iter().any(|p| p.len() < 3));
        filtered += 1;
        wide += usize::from(!trigrams.any_short);
        let all_forms: Vec<String> = secrets.iter().flat_map(|s| forms(s)).collect();
        let mut text = Vec::new();
        while text.len() < 300 {
            if rng.below(3) == 0 {
                text.extend_from_slice(all_forms[rng.below(all_forms.len())].as_bytes());
            } else {
                text.push(alphabet[rng.below(alphabet.len())]);
            }
        }
        let whole = r.redact_bytes(&text);
        assert_eq!(whole, naive_redact(r.patterns(), &text), "iteration {iter}");
        let step = 1 + rng.below(20);
        let chunks: Vec<&[u8]> = text.chunks(step).collect();
        assert_eq!(stream_chunks(&r, &chunks), whole, "iteration {iter}, step {step}");
    }
    assert!(filtered >= 100, "only {filtered} rounds used the trigram filter");
    assert!(wide >= 50, "only {wide} rounds without short patterns");
}

#[test]
fn property_random_secrets_never_survive() {
    let mut rng = Lcg(0x5eed);
    let alphabet = b"abc/+ \n";
    for iter in 0..3000 {
        let n_secrets = 1 + rng.below(4);
        let secrets: Vec<String> = (0..n_secrets)
            .map(|_| {
                let len = 1 + rng.below(8);
                (0..len)
                    .map(|_| char::from(alphabet[rng.below(alphabet.len())]))
                    .collect()
            })
            .collect();
        let r = Redactor::new(&secrets);
        let all_forms: Vec<String> = secrets.iter().flat_map(|s| forms(s)).collect();
        let mut text = Vec::new();
        while text.len() < 200 {
            if !all_forms.is_empty() && rng.below(4) == 0 {
                let f = &all_forms[rng.below(all_forms.len())];
                text.extend_from_slice(f.as_bytes());
            } else {
                text.push(alphabet[rng.below(alphabet.len())]);
            }
        }
        let whole = r.redact_bytes(&text);
        assert_eq!(whole, naive_redact(r.patterns(), &text), "iteration {iter}");
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        assert_no_form(&whole, &refs);
        let mut chunks = Vec::new();
        let mut rest = &text[..];
        let max_chunk = 1 + rng.below(40);
        while !rest.is_empty() {
            let k = rng.below(rest.len().min(max_chunk) + 1);
            let (a, b) = rest.split_at(k);
            chunks.push(a);
            rest = b;
        }
        let streamed = stream_chunks(&r, &chunks);
        assert_eq!(
            streamed,
            whole,
            "iteration {iter}, secrets {secrets:?}, text {:?}",
            String::from_utf8_lossy(&text)
        );
    }
}

#[test]
fn a_value_with_literal_escapes_is_masked_decoded_too() {
    let pem = r"-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0\nAQEFAASCBKcwggSj\n-----END KEY-----\n";
    let f = forms(pem);
    for line in ["MIIEvQIBADANBgkqhkiG9w0", "AQEFAASCBKcwggSj", "-----BEGIN KEY-----"] {
        assert!(f.iter().any(|p| p == line), "{line} is masked: {f:?}");
    }
    let r = Redactor::new([pem]);
    let echoed = pem.replace(r"\n", "\n");
    let out = r.redact(&format!("decoded: {echoed}"));
    assert!(
        !out.contains("MIIEvQIBADANBgkqhkiG9w0") && !out.contains("AQEFAASCBKcwggSj"),
        "{out}"
    );
    // Short pieces are no patterns; a value without escapes gains nothing.
    assert!(!forms(r"ab\ncd").contains(&"ab".to_string()));
    assert!(!forms("no-escapes-here").iter().any(|p| p.contains('\n')));
}

/// GitHub is told to mask each line and what its runner does not derive
/// itself: a PEM is masked line by line, with no padded base64, JSON or
/// RFC 3986 form (the runner makes those), in a handful of lines.
#[test]
fn mask_patterns_are_the_lines_and_what_the_runner_does_not_derive() {
    let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END KEY-----\n";
    let masks = super::mask_patterns([pem]);
    for line in pem.lines() {
        assert!(masks.iter().any(|m| m == line), "{line} is masked");
    }
    let all = super::forms(pem);
    assert!(
        masks.len() < all.len(),
        "fewer masks ({}) than forms ({})",
        masks.len(),
        all.len()
    );
    assert!(!masks.iter().any(|m| m.ends_with('=')), "no padded base64: {masks:?}");
    assert!(!masks.iter().any(|m| m.contains("\\n")), "no JSON form: {masks:?}");
    let plain = super::mask_patterns(["s3cr3tv4lu3"]);
    assert_eq!(plain.len(), 2, "raw and base64 (base64url is the same here): {plain:?}");
    // A value with a space and punctuation gets its strict percent forms.
    let spaced = super::mask_patterns(["p@ss w/rd"]);
    assert!(spaced.iter().any(|m| m == "p%40ss+w%2Frd"), "{spaced:?}");
    assert!(spaced.iter().any(|m| m == "p%40ss%20w%2Frd"), "{spaced:?}");
}
