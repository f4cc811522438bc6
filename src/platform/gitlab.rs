//! GitLab CI: collapsible log sections.

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The escape sequence that opens a collapsible section.
pub fn section_start(id: &str, title: &str) -> String {
    format!("\x1b[0Ksection_start:{}:{id}[collapsed=true]\r\x1b[0K{title}\n", now())
}

/// The escape sequence that closes a section.
pub fn section_end(id: &str) -> String {
    format!("\x1b[0Ksection_end:{}:{id}\r\x1b[0K\n", now())
}
