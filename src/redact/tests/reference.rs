//! Test helpers shared by the redactor's unit tests, its benchmarks
//! (`benches/redact.rs`) and the fuzz crate (`fuzz/src/checks.rs`), which
//! include this file by path: a deterministic PRNG and a reference
//! redactor independent of aho-corasick. Each user takes a part.
#![allow(dead_code, reason = "each includer uses a part of it")]

/// Small deterministic PRNG (64-bit LCG, high bits): every run sees the
/// same input.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next 31 bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Whether `needle` (non-empty) occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Reference redaction, independent of aho-corasick: every byte of every
/// occurrence of every pattern is covered (overlaps included), and each
/// maximal run of covered bytes becomes one `***`.
pub fn naive_redact(patterns: &[String], text: &[u8]) -> Vec<u8> {
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
