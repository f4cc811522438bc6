//! Packer's `-machine-readable` stream: decoding its lines, rendering them
//! back to the readable log (then redacted), and collecting artifacts and
//! errors for the report.

use crate::process::Filter;
use crate::redact::{Redactor, StreamRedactor};
use std::sync::{Arc, Mutex};

/// One artifact of one build, as Packer reported it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Artifact {
    /// Build name, e.g. `golden.amazon-ebs.ubuntu`.
    pub build: String,
    /// Position among the build's artifacts (post-processors add more).
    pub index: u32,
    /// Builder or post-processor id, e.g. `mitchellh.amazonebs`.
    pub builder_id: String,
    /// Artifact id, e.g. `us-east-1:ami-0abc` (redacted).
    pub id: String,
    /// Packer's description (redacted).
    pub description: String,
}

/// What a run of Packer reported, gathered from its stream.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Artifacts in the order reported.
    pub artifacts: Vec<Artifact>,
    /// `<build>,error,<text>` entries and `ui,error` lines (redacted).
    pub errors: Vec<String>,
    /// The last readable lines (redacted), for the report on failure.
    pub tail: Vec<String>,
}

/// Lines kept in [`Outcome::tail`].
pub const TAIL_LINES: usize = 30;

/// Decodes a machine-readable data field: `%!(PACKER_COMMA)` and literal `\n`.
pub fn decode(field: &str) -> String {
    field
        .replace("%!(PACKER_COMMA)", ",")
        .replace("\\n", "\n")
        .replace("\\r", "\r")
}

/// A parsed line: `timestamp,target,type,data...`.
#[derive(Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// The build name, empty for UI lines.
    pub target: &'a str,
    /// The message type (`ui`, `artifact`, `error`, ...).
    pub kind: &'a str,
    /// The raw data fields.
    pub data: Vec<&'a str>,
}

/// Splits one machine-readable line; `None` for anything else (plugin noise).
pub fn parse(line: &str) -> Option<Line<'_>> {
    let mut parts = line.split(',');
    let ts = parts.next()?;
    if ts.is_empty() || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let target = parts.next()?;
    let kind = parts.next()?;
    Some(Line {
        target,
        kind,
        data: parts.collect(),
    })
}

/// Collects an [`Outcome`] from the stream; shared with the caller.
#[derive(Debug, Default, Clone)]
pub struct Collector(Arc<Mutex<Outcome>>);

impl Collector {
    /// What has been gathered so far.
    pub fn outcome(&self) -> Outcome {
        self.0.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn with(&self, f: impl FnOnce(&mut Outcome)) {
        if let Ok(mut o) = self.0.lock() {
            f(&mut o);
        }
    }
}

/// The output filter for `packer build -machine-readable`: renders each line
/// readable, redacts it, and records artifacts and errors.
pub struct MachineFilter {
    pending: Vec<u8>,
    redactor: Redactor,
    stream: StreamRedactor,
    collector: Collector,
}

impl MachineFilter {
    /// A filter redacting with `redactor` and recording into `collector`.
    pub fn new(redactor: &Redactor, collector: Collector) -> MachineFilter {
        MachineFilter {
            pending: Vec::new(),
            redactor: redactor.clone(),
            stream: redactor.stream(),
            collector,
        }
    }

    fn line(&mut self, raw: &[u8], out: &mut Vec<u8>) {
        let text = String::from_utf8_lossy(raw);
        let text = text.trim_end_matches('\r');
        let Some(line) = parse(text) else {
            // Not machine-readable (a plugin writing directly): pass it on.
            self.emit(text, out);
            return;
        };
        // Redact the raw field before decoding: a secret holding a literal
        // `\n` (a JSON-escaped PEM) is one line as Packer wrote it and two
        // after decoding. What decoding reveals (a comma) is redacted after.
        let redactor = &self.redactor;
        let field = |i: usize| {
            line.data
                .get(i)
                .map(|f| decode(&redactor.redact(f)))
                .unwrap_or_default()
        };
        match (line.kind, line.data.first().copied()) {
            ("ui", Some("say" | "message" | "error")) => {
                let msg = field(1);
                if line.data[0] == "error" {
                    let red = self.redactor.redact(msg.trim());
                    self.collector.with(|o| o.errors.push(red));
                }
                self.emit(&msg, out);
            }
            ("artifact", Some(index)) => {
                let Ok(index) = index.parse::<u32>() else { return };
                let (key, value) = (line.data.get(1).copied().unwrap_or(""), self.redactor.redact(&field(2)));
                let build = line.target.to_string();
                self.collector.with(|o| {
                    let i = match o.artifacts.iter().position(|a| a.build == build && a.index == index) {
                        Some(i) => i,
                        None => {
                            o.artifacts.push(Artifact {
                                build,
                                index,
                                ..Default::default()
                            });
                            o.artifacts.len() - 1
                        }
                    };
                    let a = &mut o.artifacts[i];
                    match key {
                        "builder-id" => a.builder_id = value,
                        "id" => a.id = value,
                        "string" => a.description = value,
                        _ => {}
                    }
                });
            }
            ("error", Some(_)) if !line.target.is_empty() => {
                let red = format!("{}: {}", line.target, self.redactor.redact(&field(0)));
                self.collector.with(|o| {
                    if !o.errors.contains(&red) {
                        o.errors.push(red)
                    }
                });
            }
            _ => {}
        }
    }

    fn emit(&mut self, text: &str, out: &mut Vec<u8>) {
        let start = out.len();
        for l in text.split('\n') {
            self.stream.push(l.as_bytes(), out);
            self.stream.push(b"\n", out);
        }
        let shown = String::from_utf8_lossy(&out[start..]).into_owned();
        self.collector.with(|o| {
            for l in shown.lines().filter(|l| !l.trim().is_empty()) {
                o.tail.push(l.to_string());
            }
            let excess = o.tail.len().saturating_sub(TAIL_LINES);
            o.tail.drain(..excess);
        });
    }
}

impl Filter for MachineFilter {
    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(input);
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = self.pending.drain(..=nl).collect();
            self.line(&raw[..raw.len() - 1], out);
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() {
            let raw = std::mem::take(&mut self.pending);
            self.line(&raw, out);
        }
        self.stream.finish(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "1795325142,,ui,say,==> golden.null.base: Running local shell script\n\
        1795325142,,ui,message,    golden.null.base: token is s3cr%!(PACKER_COMMA)et and more\n\
        1795325142,golden.null.base,artifact-count,1\n\
        1795325142,golden.null.base,artifact,0,builder-id,mitchellh.amazonebs\n\
        1795325142,golden.null.base,artifact,0,id,us-east-1:ami-0abc\n\
        1795325142,golden.null.base,artifact,0,string,AMIs were created:\\nus-east-1: ami-0abc\n\
        1795325142,golden.null.base,artifact,0,end\n\
        1795325145,null.x,error,Script exited with non-zero exit status: 3\n\
        1795325145,,ui,error,==> null.x: boom s3cr%!(PACKER_COMMA)et\n\
        plugin noise s3cr,et";

    #[test]
    fn renders_redacts_and_collects_at_any_split() {
        let r = Redactor::new(["s3cr,et"]);
        let bytes = STREAM.as_bytes();
        for cut in [1, 7, 64, 200, bytes.len()] {
            let c = Collector::default();
            let mut f = MachineFilter::new(&r, c.clone());
            let mut out = Vec::new();
            for chunk in bytes.chunks(cut) {
                f.push(chunk, &mut out);
            }
            f.finish(&mut out);
            let out = String::from_utf8(out).unwrap();
            assert!(!out.contains("s3cr"), "{out}");
            assert!(out.contains("token is *** and more"), "{out}");
            assert!(out.contains("plugin noise ***"), "{out}");
            let o = c.outcome();
            assert_eq!(o.artifacts.len(), 1);
            assert_eq!(o.artifacts[0].id, "us-east-1:ami-0abc");
            assert_eq!(o.artifacts[0].builder_id, "mitchellh.amazonebs");
            assert_eq!(o.artifacts[0].description, "AMIs were created:\nus-east-1: ami-0abc");
            assert!(
                o.errors
                    .iter()
                    .any(|e| e == "null.x: Script exited with non-zero exit status: 3"),
                "{:?}",
                o.errors
            );
            assert!(o.errors.iter().any(|e| e.contains("boom ***")));
            assert!(o.tail.last().is_some_and(|l| l.contains("plugin noise ***")));
        }
    }

    #[test]
    fn a_secret_with_a_literal_backslash_n_is_redacted_before_decoding() {
        let secret = r"-----BEGIN KEY-----\nMIIEvQIBADANBg\n-----END KEY-----";
        let r = Redactor::new([secret]);
        let c = Collector::default();
        let mut f = MachineFilter::new(&r, c.clone());
        let mut out = Vec::new();
        let line = format!("1795325142,,ui,message,    null.x: key {secret}\n1795325145,,ui,error,bad {secret}\n");
        f.push(line.as_bytes(), &mut out);
        f.finish(&mut out);
        let out = String::from_utf8(out).unwrap();
        assert!(
            !out.contains("MIIEvQIBADANBg") && out.contains("null.x: key ***"),
            "{out}"
        );
        assert!(c.outcome().errors.iter().all(|e| !e.contains("MIIEv")));
    }

    #[test]
    fn parse_rejects_non_machine_lines() {
        assert!(parse("hello, world").is_none());
        assert_eq!(parse("1,,ui,say,x").map(|l| l.kind), Some("ui"));
    }
}
