//! GitLab CI while the job runs: collapsible log sections. GitLab cannot
//! mask a value at runtime, so nothing here ever prints one.

/// A section name GitLab accepts (`[A-Za-z0-9_.-]`).
fn section_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The escape sequence that opens a collapsed section:
/// `\e[0Ksection_start:<unix>:<name>[collapsed=true]\r\e[0K<title>`.
pub fn section_start(id: &str, title: &str) -> String {
    let title: String = title.chars().filter(|c| !c.is_control()).collect();
    format!(
        "\x1b[0Ksection_start:{}:{}[collapsed=true]\r\x1b[0K{title}\n",
        crate::time::now_secs(),
        section_name(id)
    )
}

/// The escape sequence that closes a section: `\e[0Ksection_end:<unix>:<name>\r\e[0K`.
pub fn section_end(id: &str) -> String {
    format!(
        "\x1b[0Ksection_end:{}:{}\r\x1b[0K\n",
        crate::time::now_secs(),
        section_name(id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_follow_gitlab_syntax() {
        let s = section_start("packer build", "packer build\x1b[31m");
        assert!(s.starts_with("\x1b[0Ksection_start:"), "{s:?}");
        assert!(
            s.ends_with(":packer_build[collapsed=true]\r\x1b[0Kpacker build[31m\n"),
            "{s:?}"
        );
        let e = section_end("packer build");
        assert!(
            e.starts_with("\x1b[0Ksection_end:") && e.ends_with(":packer_build\r\x1b[0K\n"),
            "{e:?}"
        );
    }
}
