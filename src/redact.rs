//! Streaming secret redaction for child-process output.
//!
//! Every secret value read from Vault is expanded by [`forms`] into the strings
//! that would reveal it in a log (the value, its lines, base64, URL and JSON
//! encodings). A [`Redactor`] replaces every occurrence of any of them with
//! `***`, either over a whole buffer or, through [`StreamRedactor`], over a
//! byte stream split into arbitrary chunks, with output byte-identical to the
//! whole-buffer result and without holding back lines that contain no secret.
//!
//! What is masked is the union of every occurrence of every form: where two
//! occurrences overlap (the end of one secret is the start of another, one
//! contains another, several chain), all their bytes are masked, and each
//! maximal run of masked bytes (touching occurrences included) becomes one
//! `***`. No form contains `\n`, so redacted output never contains a form of
//! a secret that has no `*` (every byte of every occurrence is masked). A
//! secret with a `*` can be spelled by plain text next to a `***`: `abc*`
//! masked in `abcabc*` gives `abc***`, which reveals nothing that was not
//! already in the plain text.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The text every masked occurrence is replaced with.
pub const REPLACEMENT: &str = "***";

/// Values (and trimmed lines) shorter than this many characters get no derived
/// forms. The base64/URL/JSON forms of a one- or two-character value are only
/// a few characters long (`YQ`, `YWI`, `%2F`, ...) and occur all over ordinary
/// output, so masking them would destroy unrelated log text while protecting
/// almost nothing: a value that short is guessable anyway.
const MIN_DERIVED_CHARS: usize = 3;

/// Up to this many patterns, aho-corasick's own prefilter (Teddy, which takes
/// at most 128 patterns, or a rare/start-byte search) skips the text between
/// candidates; with more, the matcher would step through every byte, so the
/// [`Trigrams`] filter finds the candidates and the automaton only checks
/// each one with an anchored search.
const PREFILTER_MAX_PATTERNS: usize = 64;

/// Up to this many bytes of patterns in total, the unanchored matcher of a
/// small pattern set is built as a full DFA (one table lookup per byte). The
/// DFA needs about 0.35 KiB per pattern byte and its construction dominates
/// the redactor's build time (several ms for 8.6 KiB), which every run pays
/// on its critical path, so above this budget (a JWT alone has ~10 KiB of
/// forms) a contiguous NFA is used: about 30 times smaller and cheaper to
/// build, and with the prefilter nearly as fast on text with few matches.
const DFA_MAX_PATTERN_BYTES: usize = 2 * 1024;

/// `application/x-www-form-urlencoded` (WHATWG URL standard): alphanumerics
/// and `*-._` stay, space becomes `+` (space is left alone here and replaced
/// after encoding), everything else is `%XX`.
const WHATWG_FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b' ');

/// RFC 3986 unreserved characters kept (`-._~`): what `encodeURIComponent`-
/// like encoders, Python's `quote(safe='')` and Go's `url.QueryEscape` produce.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Every form of every secret, deduplicated and in bytewise order (which
/// the matcher relies on): what a [`Redactor`] hides, and what GitHub is
/// told to mask.
pub fn patterns<I, S>(secrets: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut set = BTreeSet::new();
    for secret in secrets {
        set.extend(forms(secret.as_ref()));
    }
    set.into_iter().collect()
}

/// Returns every string that must be masked for one secret value.
///
/// These are the value itself (if it has no newline), each line of a
/// multi-line value that has at least three characters besides surrounding
/// white space (with a trailing `\r` stripped, plus its whitespace-trimmed
/// variant), its base64 and base64url encodings (padded and unpadded), its
/// percent-encodings (`NON_ALPHANUMERIC`, form-urlencoded with `+` for space,
/// and RFC 3986 style) and its JSON string escaping. The result is
/// deduplicated, contains no empty string and no string containing `\n`.
///
/// Values shorter than three characters are masked only as themselves (see
/// [`MIN_DERIVED_CHARS`]). A blank (whitespace-only) value or line is not
/// masked at all: it reveals nothing and masking it would garble indentation.
/// Only whole-value encodings are produced: a secret embedded inside a longer
/// base64 text is not detectable by substring matching.
pub fn forms(secret: &str) -> Vec<String> {
    let mut out = Vec::new();
    if secret.contains('\n') {
        // A line shorter than the derived-form minimum (`{`, `}`, `]`) is no
        // secret of its own; the value it belongs to is masked by its longer
        // lines and its encodings.
        for line in secret.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().chars().count() >= MIN_DERIVED_CHARS {
                add_line(&mut out, line);
            }
        }
    } else {
        add_line(&mut out, secret);
    }
    if secret.chars().count() < MIN_DERIVED_CHARS || secret.trim().is_empty() {
        return out;
    }
    let bytes = secret.as_bytes();
    add(&mut out, STANDARD.encode(bytes));
    add(&mut out, STANDARD_NO_PAD.encode(bytes));
    add(&mut out, URL_SAFE.encode(bytes));
    add(&mut out, URL_SAFE_NO_PAD.encode(bytes));
    let percent = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    add(&mut out, percent.replace("%20", "+"));
    add(&mut out, percent);
    add(
        &mut out,
        utf8_percent_encode(secret, WHATWG_FORM).to_string().replace(' ', "+"),
    );
    let rfc3986 = utf8_percent_encode(secret, RFC3986).to_string();
    add(&mut out, rfc3986.replace("%20", "+"));
    add(&mut out, rfc3986);
    if let Ok(json) = serde_json::to_string(secret) {
        let inner = json.strip_prefix('"').and_then(|j| j.strip_suffix('"'));
        if let Some(inner) = inner {
            add(&mut out, inner.to_owned());
        }
    }
    out
}

/// Adds one line of a secret (or a whole single-line secret) and, if it has
/// surrounding whitespace, its trimmed variant.
fn add_line(out: &mut Vec<String>, line: &str) {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return;
    }
    add(out, line.to_owned());
    if trimmed.len() != line.len() && trimmed.chars().count() >= MIN_DERIVED_CHARS {
        add(out, trimmed.to_owned());
    }
}

/// Adds a form unless it is empty, contains a newline or is already present.
fn add(out: &mut Vec<String>, form: String) {
    if !form.is_empty() && !form.contains('\n') && !out.contains(&form) {
        out.push(form);
    }
}

/// Masks every form of a set of secrets with `***`; cheap to clone and share.
///
/// `Debug` prints only the number of patterns, never the patterns themselves.
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Inner>,
}

struct Inner {
    /// All masked forms, sorted bytewise and deduplicated.
    patterns: Vec<String>,
    matcher: Matcher,
    /// `first_byte[b]` is true when some pattern starts with byte `b`.
    first_byte: [bool; 256],
    /// Length in bytes of the longest pattern (0 when there are none).
    max_len: usize,
    /// Candidate filter for large pattern sets, whose matcher is anchored:
    /// `None` when the matcher searches unanchored with its own prefilter.
    trigrams: Option<Trigrams>,
}

enum Matcher {
    /// No patterns: everything passes through.
    Empty,
    /// The normal case.
    Ac(AhoCorasick),
    /// The automaton could not be built (only possible beyond aho-corasick's
    /// 2^31-state limit, i.e. gigabytes of secrets). Rather than leak, every
    /// non-empty line is replaced by `***`.
    FailClosed,
}

impl Redactor {
    /// Builds a redactor for all forms (see [`forms`]) of the given secrets.
    pub fn new<I, S>(secrets: I) -> Redactor
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let patterns = patterns(secrets);
        let trigrams = (patterns.len() > PREFILTER_MAX_PATTERNS).then(|| Trigrams::new(&patterns));
        let matcher = build_matcher(&patterns, trigrams.is_some());
        Redactor::with_matcher(patterns, matcher, trigrams)
    }

    fn with_matcher(patterns: Vec<String>, matcher: Matcher, trigrams: Option<Trigrams>) -> Redactor {
        let mut first_byte = [false; 256];
        for p in &patterns {
            if let Some(&b) = p.as_bytes().first() {
                first_byte[usize::from(b)] = true;
            }
        }
        let max_len = patterns.iter().map(String::len).max().unwrap_or(0);
        Redactor {
            inner: Arc::new(Inner {
                patterns,
                matcher,
                first_byte,
                max_len,
                trigrams,
            }),
        }
    }

    /// True when there is nothing to mask (no secret produced any form).
    pub fn is_empty(&self) -> bool {
        self.inner.patterns.is_empty()
    }

    /// All masked forms, sorted; callers register them with the CI system
    /// (e.g. GitHub `::add-mask::`) in addition to redacting locally.
    pub fn patterns(&self) -> &[String] {
        &self.inner.patterns
    }

    /// Redacts a whole string (error messages, reports).
    pub fn redact(&self, input: &str) -> String {
        let bytes = self.redact_bytes(input.as_bytes());
        // Patterns are valid UTF-8, so in valid UTF-8 input every match starts
        // and ends on a character boundary and the result stays valid UTF-8.
        // The lossy fallback only exists so that this can never panic.
        String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Redacts a whole byte buffer, which need not be UTF-8.
    pub fn redact_bytes(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        self.inner.process(input, true, &mut None, &mut out);
        out
    }

    /// Starts redacting a byte stream (e.g. a child's stdout) pushed in chunks.
    pub fn stream(&self) -> StreamRedactor {
        StreamRedactor {
            redactor: self.clone(),
            pending: Vec::with_capacity(2 * self.inner.max_len),
            open: None,
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.inner.patterns.len())
            .finish_non_exhaustive()
    }
}

/// Builds the automaton: leftmost-longest (the longest occurrence at each
/// start); anchored when the [`Trigrams`]
/// filter finds the candidates, else unanchored with its own prefilter.
fn build_matcher(patterns: &[String], anchored: bool) -> Matcher {
    if patterns.is_empty() {
        return Matcher::Empty;
    }
    let mut builder = AhoCorasick::builder();
    builder.match_kind(MatchKind::LeftmostLongest);
    // Unanchored searches find the next occurrence; anchored ones check
    // each start inside a masked run for an overlapping one.
    builder.start_kind(StartKind::Both);
    if anchored {
        // Each check walks a few bytes from one candidate: a contiguous NFA
        // is as good as a DFA there, and far cheaper to build.
        builder
            .start_kind(StartKind::Anchored)
            .prefilter(false)
            .kind(Some(AhoCorasickKind::ContiguousNFA));
        if let Ok(ac) = builder.build(patterns) {
            return Matcher::Ac(ac);
        }
        builder.kind(None);
        return builder.build(patterns).map_or(Matcher::FailClosed, Matcher::Ac);
    }
    let total: usize = patterns.iter().map(String::len).sum();
    if total <= DFA_MAX_PATTERN_BYTES {
        builder.kind(Some(AhoCorasickKind::DFA));
        if let Ok(ac) = builder.build(patterns) {
            return Matcher::Ac(ac);
        }
    }
    builder.kind(Some(AhoCorasickKind::ContiguousNFA));
    if let Ok(ac) = builder.build(patterns) {
        return Matcher::Ac(ac);
    }
    builder.kind(None);
    builder.build(patterns).map_or(Matcher::FailClosed, Matcher::Ac)
}

/// A filter over the first three bytes of every pattern: a position where
/// [`Trigrams::next`] finds no hit starts no pattern. Each pattern of three
/// or more bytes sets one byte of a table, at a hash of its first three
/// bytes; the few shorter patterns (values of one or two characters) are
/// found by their first byte. Unlike an automaton stepping through the text,
/// each position is tested on its own (load, multiply, shift, load), so the
/// CPU overlaps the tests instead of waiting on one table lookup per byte.
struct Trigrams {
    /// Non-zero at the [`slot`] of each pattern's first trigram; the first
    /// 2^15 bytes only (L1-sized) unless `large`.
    table: Box<[u8; 1 << 16]>,
    /// Whether the whole table (2^16 bytes) is used: for large pattern sets,
    /// where a 2^15 table would flag too many positions.
    large: bool,
    /// `short[b]`: some pattern shorter than three bytes starts with `b`.
    short: [bool; 256],
    /// Whether any pattern is shorter than three bytes.
    any_short: bool,
}

/// Above this many patterns the [`Trigrams`] table takes 2^16 bytes instead
/// of 2^15. False hits (each costs one anchored check) are about patterns /
/// table size of the positions: 0.7% for 50 secrets, 3.5% for 500.
const TRIGRAMS_LARGE: usize = 512;

/// The table index (of `BITS` bits) of a trigram: its three bytes,
/// little-endian, in the low 24 bits of `w`.
#[inline(always)]
fn slot<const BITS: u32>(w: u32) -> usize {
    ((w & 0x00FF_FFFF).wrapping_mul(0x9E37_79B1) >> (32 - BITS)) as usize
}

/// The four bytes at `buf[p..]`, little-endian (`p + 4 <= buf.len()`).
#[inline(always)]
fn le32(buf: &[u8], p: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&buf[p..p + 4]);
    u32::from_le_bytes(w)
}

impl Trigrams {
    fn new(patterns: &[String]) -> Trigrams {
        let large = patterns.len() > TRIGRAMS_LARGE;
        let mut t = Trigrams {
            table: vec![0; 1 << 16].into_boxed_slice().try_into().expect("2^16 bytes"),
            large,
            short: [false; 256],
            any_short: false,
        };
        for p in patterns.iter().map(String::as_bytes) {
            if let [a, b, c, ..] = *p {
                let w = u32::from_le_bytes([a, b, c, 0]);
                let s = if large { slot::<16>(w) } else { slot::<15>(w) };
                t.table[s] = 1;
            } else if let Some(&first) = p.first() {
                t.short[usize::from(first)] = true;
                t.any_short = true;
            }
        }
        t
    }

    /// The first position in `from..to` where some pattern may start.
    #[inline]
    fn next(&self, buf: &[u8], from: usize, to: usize) -> Option<usize> {
        if self.large {
            self.scan::<16>(buf, from, to)
        } else {
            self.scan::<15>(buf, from, to)
        }
    }

    #[inline(always)]
    fn scan<const BITS: u32>(&self, buf: &[u8], from: usize, to: usize) -> Option<usize> {
        let hit = |p: usize| self.table[slot::<BITS>(le32(buf, p))] != 0;
        // Positions with four bytes left: one unaligned load each.
        let wide = to.min(buf.len().saturating_sub(3));
        let mut p = from;
        if !self.any_short {
            // The hot loop: eight independent tests, one branch.
            while p + 8 <= wide {
                let any = (0..8).fold(0u8, |acc, k| acc | self.table[slot::<BITS>(le32(buf, p + k))]);
                if any != 0 {
                    // (Any position is a safe answer: it is only checked.)
                    return (p..p + 8).find(|&q| hit(q)).or(Some(p));
                }
                p += 8;
            }
        }
        while p < wide {
            if hit(p) || self.short[usize::from(buf[p])] {
                return Some(p);
            }
            p += 1;
        }
        // The last three positions: a three-byte pattern fits only at the
        // first of them, shorter ones anywhere.
        while p < to {
            let rest = &buf[p..];
            if let [a, b, c] = *rest {
                let w = u32::from_le_bytes([a, b, c, 0]);
                if self.table[slot::<BITS>(w)] != 0 {
                    return Some(p);
                }
            }
            if self.short[usize::from(rest[0])] {
                return Some(p);
            }
            p += 1;
        }
        None
    }
}

/// The masked runs of one buffer, built from occurrences given in order of
/// their start: bytes covered by any occurrence of any pattern form runs
/// (overlapping or touching occurrences join), and each run is one `***`.
struct Runs<'a> {
    buf: &'a [u8],
    out: &'a mut Vec<u8>,
    /// Bytes of `buf` written to `out` (as text or inside a run's `***`).
    emitted: usize,
    /// The run being built: start, end, and whether its `***` is written.
    current: Option<(usize, usize, bool)>,
}

impl<'a> Runs<'a> {
    /// `open`: the stream's previous buffer ended inside a run that covers
    /// the first `open` bytes of this one (its `***` already written).
    fn new(buf: &'a [u8], out: &'a mut Vec<u8>, open: Option<usize>) -> Runs<'a> {
        Runs {
            buf,
            out,
            emitted: 0,
            current: open.map(|end| (0, end, true)),
        }
    }

    /// The occurrence `start..end` (starts never decrease).
    fn add(&mut self, start: usize, end: usize) {
        match self.current {
            Some((s, e, shown)) if start <= e => self.current = Some((s, e.max(end), shown)),
            _ => {
                self.flush();
                self.current = Some((start, end, false));
            }
        }
    }

    /// Writes the current run's `***` (once) and the text before it.
    fn show(&mut self) {
        if let Some((s, e, false)) = self.current {
            self.out.extend_from_slice(&self.buf[self.emitted..s]);
            self.out.extend_from_slice(REPLACEMENT.as_bytes());
            self.emitted = s;
            self.current = Some((s, e, true));
        }
    }

    fn flush(&mut self) {
        self.show();
        if let Some((_, e, _)) = self.current.take() {
            self.emitted = self.emitted.max(e);
        }
    }

    /// Writes everything before `cut`; returns the run still open at `cut`
    /// (it may grow with the next buffer), as the bytes it covers past `cut`.
    fn finish(mut self, cut: usize, eof: bool) -> Option<usize> {
        let open = match self.current {
            Some((_, e, _)) if !eof && e >= cut => {
                self.show();
                self.emitted = cut;
                Some(e - cut)
            }
            _ => {
                self.flush();
                None
            }
        };
        if self.emitted < cut {
            self.out.extend_from_slice(&self.buf[self.emitted..cut]);
        }
        open
    }
}

impl Inner {
    /// Redacts a prefix `buf[..cut]` into `out` and returns `cut`; `open`
    /// carries a run that is still open from one buffer of a stream to the
    /// next.
    ///
    /// With `eof`, `cut == buf.len()`. Otherwise `buf` is the not yet emitted
    /// part of a stream whose continuation is unknown, and `cut` is chosen so
    /// that the redaction of `buf[..cut]` is the same for every continuation;
    /// scanning then restarts from `buf[cut..]` with `open` saying how much
    /// of it is already masked.
    ///
    /// Every byte inside any occurrence of any pattern is masked, also where
    /// occurrences overlap (the end of one secret is the start of another,
    /// or one contains another): the union of all occurrences, each maximal
    /// run of masked bytes written as one `***`.
    fn process(&self, buf: &[u8], eof: bool, open: &mut Option<usize>, out: &mut Vec<u8>) -> usize {
        let ac = match &self.matcher {
            Matcher::Empty => {
                out.extend_from_slice(buf);
                *open = None;
                return buf.len();
            }
            Matcher::FailClosed => {
                *open = None;
                return mask_lines(buf, eof, out);
            }
            Matcher::Ac(ac) => ac,
        };
        // Every pattern occurrence that starts before `hold` ends inside
        // `buf` (otherwise `buf[start..]` would be a proper prefix of a
        // pattern), so those occurrences are final. Occurrences starting at
        // or after `hold` may still change.
        let hold = if eof { buf.len() } else { self.hold_start(buf) };
        out.reserve(buf.len());
        let mut runs = Runs::new(buf, out, open.take());
        // The longest occurrence starting at `p`, if any.
        let anchored = |p: usize| {
            ac.try_find(Input::new(buf).range(p..).anchored(Anchored::Yes))
                .map(|m| m.map(|m| m.end()))
        };
        let complete = if let Some(trigrams) = &self.trigrams {
            // Candidate by candidate: each position a pattern may start at.
            let mut at = 0;
            let mut ok = true;
            while let Some(p) = trigrams.next(buf, at, hold) {
                match anchored(p) {
                    Ok(Some(end)) => runs.add(p, end),
                    Ok(None) => {}
                    Err(_) => {
                        ok = false;
                        break;
                    }
                }
                at = p + 1;
            }
            ok
        } else {
            // The leftmost occurrence from `at` (the automaton's prefilter
            // skips the text between), then every start inside the run it
            // opens, anchored, so that no overlapping occurrence is missed.
            let mut at = 0;
            let mut ok = true;
            'scan: while at < hold {
                let m = match ac.try_find(Input::new(buf).range(at..)) {
                    Ok(Some(m)) if m.start() < hold => m,
                    Ok(_) => break,
                    Err(_) => {
                        ok = false;
                        break;
                    }
                };
                runs.add(m.start(), m.end());
                let mut end = m.end();
                let mut q = m.start() + 1;
                while q < end.min(hold) {
                    match anchored(q) {
                        Ok(Some(e)) => {
                            runs.add(q, e);
                            end = end.max(e);
                        }
                        Ok(None) => {}
                        Err(_) => {
                            ok = false;
                            break 'scan;
                        }
                    }
                    q += 1;
                }
                at = end.max(q);
            }
            ok
        };
        if !complete {
            // Searches cannot fail on an automaton built for both anchored
            // and unanchored starts; if one ever did, fail closed.
            let from = runs.emitted;
            runs.flush();
            let done = runs.emitted.max(from);
            return done + mask_lines(&buf[done..], eof, out);
        }
        *open = runs.finish(hold, eof);
        hold
    }

    /// Earliest `p` such that `buf[p..]` is a non-empty proper prefix of some
    /// pattern, or `buf.len()` if there is none. Since no pattern contains
    /// `\n`, `p` lies after the last newline, and within `max_len - 1` bytes
    /// of the end.
    fn hold_start(&self, buf: &[u8]) -> usize {
        let len = buf.len();
        let mut lo = len.saturating_sub(self.max_len.saturating_sub(1));
        if let Some(i) = buf[lo..].iter().rposition(|&b| b == b'\n') {
            lo += i + 1;
        }
        (lo..len).find(|&p| self.is_proper_prefix(&buf[p..])).unwrap_or(len)
    }

    /// True when some pattern is longer than `s` and starts with it.
    fn is_proper_prefix(&self, s: &[u8]) -> bool {
        let Some(&first) = s.first() else {
            return false;
        };
        if !self.first_byte[usize::from(first)] {
            return false;
        }
        // Patterns extending `s` sort right after `s`, so the smallest pattern
        // greater than `s` extends it if any does.
        let i = self.patterns.partition_point(|p| p.as_bytes() <= s);
        self.patterns.get(i).is_some_and(|p| p.as_bytes().starts_with(s))
    }
}

/// Fail-closed redaction: every non-empty line becomes `***`. Lines are
/// independent, so a stream only needs to hold back its unterminated last line.
fn mask_lines(buf: &[u8], eof: bool, out: &mut Vec<u8>) -> usize {
    let cut = if eof {
        buf.len()
    } else {
        buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1)
    };
    for (i, line) in buf[..cut].split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.push(b'\n');
        }
        if !line.is_empty() {
            out.extend_from_slice(REPLACEMENT.as_bytes());
        }
    }
    cut
}

/// Redacts one output stream chunk by chunk, emitting each byte as soon as no
/// later input can change how it is redacted.
///
/// The concatenated output of all [`push`](Self::push) calls and
/// [`finish`](Self::finish) equals [`Redactor::redact_bytes`] of the
/// concatenated input, however the input is split. Everything up to the last
/// newline is emitted immediately; of an unterminated line only the shortest
/// tail that could still begin a secret form is held back.
pub struct StreamRedactor {
    redactor: Redactor,
    /// Input received but not yet emitted; at most `max_len - 1` bytes between
    /// calls (except in the never-expected fail-closed mode).
    pending: Vec<u8>,
    /// A masked run still open at the start of `pending` (see `Inner::process`).
    open: Option<usize>,
}

impl StreamRedactor {
    /// Feeds the next chunk of the stream, appending all output that is
    /// already final to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        let inner = &*self.redactor.inner;
        let mut input = input;
        if !self.pending.is_empty() {
            // Rather than copy the whole chunk after the held-back tail, scan
            // only a bridge of tail + `max_len` bytes of the chunk: the cut
            // then always falls inside the chunk and the rest of the chunk is
            // scanned in place.
            let tail = self.pending.len();
            let bridge = input.len().min(inner.max_len.max(1));
            self.pending.extend_from_slice(&input[..bridge]);
            let cut = inner.process(&self.pending, false, &mut self.open, out);
            if cut >= tail && bridge < input.len() {
                input = &input[cut - tail..];
                self.pending.clear();
            } else {
                self.pending.drain(..cut);
                if bridge == input.len() {
                    return;
                }
                // Only reachable in fail-closed mode: the cut stayed inside
                // the old tail, so fall back to scanning the appended chunk.
                self.pending.extend_from_slice(&input[bridge..]);
                let cut = inner.process(&self.pending, false, &mut self.open, out);
                self.pending.drain(..cut);
                return;
            }
        }
        let cut = inner.process(input, false, &mut self.open, out);
        self.pending.extend_from_slice(&input[cut..]);
    }

    /// Ends the stream, appending everything still held back (redacted) to
    /// `out`. The stream can then be reused for a new input.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.redactor.inner.process(&self.pending, true, &mut self.open, out);
        self.pending.clear();
        self.open = None;
    }
}

impl fmt::Debug for StreamRedactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRedactor")
            .field("patterns", &self.redactor.inner.patterns.len())
            .field("pending_bytes", &self.pending.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small deterministic PRNG (64-bit LCG, high bits).
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    fn stream_chunks(r: &Redactor, chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = r.stream();
        let mut out = Vec::new();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
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

    /// Reference redaction, independent of aho-corasick: the union of every
    /// occurrence, each maximal run of covered bytes one `***`.
    fn naive_redact(patterns: &[String], text: &[u8]) -> Vec<u8> {
        let mut covered = vec![false; text.len()];
        for p in patterns.iter().map(|p| p.as_bytes()).filter(|p| !p.is_empty()) {
            for i in 0..text.len().saturating_sub(p.len() - 1) {
                if text[i..].starts_with(p) {
                    covered[i..i + p.len()].iter_mut().for_each(|c| *c = true);
                }
            }
        }
        let mut out = Vec::new();
        for (i, &b) in text.iter().enumerate() {
            if !covered[i] {
                out.push(b);
            } else if i == 0 || !covered[i - 1] {
                out.extend_from_slice(b"***");
            }
        }
        out
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
}
