//! Streaming secret redaction for child-process output.
//!
//! Every secret value read from Vault is expanded by [`forms()`] into the strings
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

mod forms;
mod matcher;
mod stream;

pub use forms::{forms, mask_patterns, patterns};
pub use stream::StreamRedactor;

use matcher::{Inner, Matcher, PREFILTER_MAX_PATTERNS, Trigrams, build_matcher};
use std::fmt;
use std::sync::Arc;

/// The text every masked occurrence is replaced with.
pub const REPLACEMENT: &str = "***";

/// Masks every form of a set of secrets with `***`; cheap to clone and share.
///
/// `Debug` prints only the number of patterns, never the patterns themselves.
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Inner>,
}

impl Redactor {
    /// Builds a redactor for all forms (see [`forms()`]) of the given secrets.
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
        StreamRedactor::new(self)
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("patterns", &self.inner.patterns.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
