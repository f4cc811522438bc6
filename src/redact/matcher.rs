//! Finding every occurrence of every form: the Aho-Corasick automaton, the
//! trigram filter for large pattern sets, and the masked runs one buffer of
//! a stream turns into.

use super::REPLACEMENT;
use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind};

/// Up to this many patterns, aho-corasick's own prefilter (Teddy, which takes
/// at most 128 patterns, or a rare/start-byte search) skips the text between
/// candidates; with more, the matcher would step through every byte, so the
/// [`Trigrams`] filter finds the candidates and the automaton only checks
/// each one with an anchored search.
pub(super) const PREFILTER_MAX_PATTERNS: usize = 64;

/// Up to this many bytes of patterns in total, the unanchored matcher of a
/// small pattern set is built as a full DFA (one table lookup per byte). The
/// DFA needs about 0.35 KiB per pattern byte and its construction dominates
/// the redactor's build time (several ms for 8.6 KiB), which every run pays
/// on its critical path, so above this budget (a JWT alone has ~10 KiB of
/// forms) a contiguous NFA is used: about 30 times smaller and cheaper to
/// build, and with the prefilter nearly as fast on text with few matches.
const DFA_MAX_PATTERN_BYTES: usize = 2 * 1024;

pub(super) struct Inner {
    /// All masked forms, sorted bytewise and deduplicated.
    pub(super) patterns: Vec<String>,
    pub(super) matcher: Matcher,
    /// `first_byte[b]` is true when some pattern starts with byte `b`.
    pub(super) first_byte: [bool; 256],
    /// Length in bytes of the longest pattern (0 when there are none).
    pub(super) max_len: usize,
    /// Candidate filter for large pattern sets, whose matcher is anchored:
    /// `None` when the matcher searches unanchored with its own prefilter.
    pub(super) trigrams: Option<Trigrams>,
}

pub(super) enum Matcher {
    /// No patterns: everything passes through.
    Empty,
    /// The normal case.
    Ac(AhoCorasick),
    /// The automaton could not be built (only possible beyond aho-corasick's
    /// 2^31-state limit, i.e. gigabytes of secrets). Rather than leak, every
    /// non-empty line is replaced by `***`.
    FailClosed,
}

/// Builds the automaton: leftmost-longest (the longest occurrence at each
/// start); anchored when the [`Trigrams`]
/// filter finds the candidates, else unanchored with its own prefilter.
pub(super) fn build_matcher(patterns: &[String], anchored: bool) -> Matcher {
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
pub(super) struct Trigrams {
    /// Non-zero at the [`slot`] of each pattern's first trigram; the first
    /// 2^15 bytes only (L1-sized) unless `large`.
    table: Box<[u8; 1 << 16]>,
    /// Whether the whole table (2^16 bytes) is used: for large pattern sets,
    /// where a 2^15 table would flag too many positions.
    large: bool,
    /// `short[b]`: some pattern shorter than three bytes starts with `b`.
    short: [bool; 256],
    /// Whether any pattern is shorter than three bytes.
    pub(super) any_short: bool,
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
    pub(super) fn new(patterns: &[String]) -> Trigrams {
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
    pub(super) fn process(&self, buf: &[u8], eof: bool, open: &mut Option<usize>, out: &mut Vec<u8>) -> usize {
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
