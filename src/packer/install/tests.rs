//! Tests of `install`.

use super::*;

#[test]
fn packer_version_parsing_and_init_support() {
    assert_eq!(parse_version("Packer v1.6.6\n").as_deref(), Some("1.6.6"));
    assert_eq!(
        parse_version("Packer v1.11.2\n\nYour version of Packer is out of date!\n").as_deref(),
        Some("1.11.2")
    );
    assert_eq!(
        parse_version("\nPacker v1.9.0-dev (abc)\n").as_deref(),
        Some("1.9.0-dev")
    );
    assert_eq!(parse_version("packer 1.6.6"), None);
    assert_eq!(parse_version("Packer v$(rm)"), None);
    assert!(!supports_init("1.6.6"));
    assert!(supports_init("1.7.0"));
    assert!(supports_init("1.11.2"));
    assert!(supports_init("2.0.0"));
    assert!(!supports_init("garbage"));
}

#[test]
fn packer_release_versions_are_safe_path_parts() {
    assert!(is_release_version("1.11.2"));
    assert!(is_release_version("1.10.0-alpha1"));
    for bad in ["1.2", "1.2.3.4", "../1.2.3", "1.2.3/..", "1.2.3-", "1.2.x", ""] {
        assert!(!is_release_version(bad), "{bad}");
    }
}

#[test]
fn packer_options_from_env() {
    let env = Env::from([
        ("PACKER_VAULT_RELEASES_URL", "http://127.0.0.1:9/r/"),
        ("RUNNER_TOOL_CACHE", "/t"),
        ("HOME", "/h"),
    ]);
    let opts = Options::from_env(&env).expect("options");
    assert_eq!(opts.base_url, "http://127.0.0.1:9/r");
    assert_eq!(opts.cache_dir, Path::new("/t/packer-vault"));
    assert!(opts.key.is_hashicorp());
    let opts = Options::from_env(&Env::from([("XDG_CACHE_HOME", "/x"), ("HOME", "/h")])).expect("options");
    assert_eq!(opts.base_url, DEFAULT_BASE_URL);
    assert_eq!(opts.cache_dir, Path::new("/x/packer-vault"));
    let opts = Options::from_env(&Env::from([("HOME", "/h")])).expect("options");
    assert_eq!(opts.cache_dir, Path::new("/h/.cache/packer-vault"));
    let missing = Options::from_env(&Env::from([("PACKER_VAULT_RELEASES_KEY", "/nonexistent/key.asc")]));
    assert!(matches!(missing, Err(Error::Usage(m)) if m.contains("PACKER_VAULT_RELEASES_KEY")));
}

#[cfg(unix)]
#[test]
fn packer_found_on_path_only_when_executable() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = tempfile::tempdir().expect("temp dir");
    let path = std::env::join_paths([empty.path(), dir.path()]).expect("PATH");
    assert_eq!(find_on_path(Some(path.clone())), None);
    let packer = dir.path().join("packer");
    std::fs::write(&packer, "#!/bin/sh\n").expect("write");
    assert_eq!(find_on_path(Some(path.clone())), None, "not executable");
    std::fs::set_permissions(&packer, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    assert_eq!(find_on_path(Some(path)), Some(packer));
    assert_eq!(find_on_path(None), None);
}

#[test]
fn packer_platform_is_known_here() {
    let (os, arch) = platform().expect("a supported test machine");
    assert!(["linux", "darwin", "windows"].contains(&os));
    assert!(["amd64", "arm64", "386", "arm"].contains(&arch));
}
