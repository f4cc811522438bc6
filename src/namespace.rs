//! Vault Enterprise / HCP Vault Dedicated / OpenBao namespaces: checking a
//! namespace path, and joining a child below its parent.
//!
//! A request names its namespace with `X-Vault-Namespace` (`admin`,
//! `admin/team-a`), and may carry further namespaces below that one as a
//! path prefix: `/v1/team-a/secret/data/x` under `admin` is
//! `/v1/secret/data/x` under `admin/team-a`.

/// Checks a namespace path (`admin`, `admin/team-a`) and returns it without
/// its trailing `/`; the reason when it is none.
pub fn check(ns: &str) -> Result<String, String> {
    let ns = ns.trim();
    if ns.starts_with('/') {
        return Err(format!("`{ns}` starts with `/`: namespaces are written `admin/team-a`"));
    }
    let ns = ns.trim_end_matches('/');
    if ns.is_empty() {
        return Err("is empty".into());
    }
    for seg in ns.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(format!("`{ns}` has an empty, `.` or `..` part"));
        }
        if !seg.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
            return Err(format!(
                "`{}` may hold only letters, digits, `-`, `_`, `.` and `/` between its parts",
                ns.escape_debug()
            ));
        }
    }
    Ok(ns.to_string())
}

/// `child` below `parent` (`None`: the root namespace).
pub fn join(parent: Option<&str>, child: &str) -> String {
    match parent.filter(|p| !p.is_empty()) {
        Some(p) => format!("{p}/{child}"),
        None => child.to_string(),
    }
}

/// How messages name a namespace: `admin/team-a`, or `root`.
pub fn shown(ns: Option<&str>) -> &str {
    ns.filter(|n| !n.is_empty()).unwrap_or("root")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_paths_are_checked() {
        assert_eq!(check("admin").as_deref(), Ok("admin"));
        assert_eq!(check("admin/team-a/").as_deref(), Ok("admin/team-a"));
        for bad in [
            "/admin",
            "admin/../root",
            "admin//x",
            "ad min",
            "admin/./x",
            "",
            "a\rb",
            "a?b",
        ] {
            assert!(check(bad).is_err(), "{bad:?}");
        }
        assert_eq!(join(Some("admin"), "team-a"), "admin/team-a");
        assert_eq!(join(None, "team-a"), "team-a");
        assert_eq!(shown(None), "root");
    }
}
