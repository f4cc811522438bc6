//! Redacting a stream pushed in chunks, with output equal to redacting the
//! whole.

use super::Redactor;
use std::fmt;

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
    /// An empty stream of `redactor`.
    pub(super) fn new(redactor: &Redactor) -> StreamRedactor {
        StreamRedactor {
            redactor: redactor.clone(),
            pending: Vec::with_capacity(2 * redactor.inner.max_len),
            open: None,
        }
    }

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
