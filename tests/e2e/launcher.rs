//! The launcher `dist/packer-vault` as a stranger's runner meets it: a
//! release checkout (made by the real `dist/release`), no `dist/bin`, no
//! cargo on `PATH`, the assets on a loopback release server. It downloads,
//! verifies, caches and runs; it never runs what it did not verify; and the
//! release scripts and the smoke test hold.

use crate::support::shipped::{Release, asset_name, bare_path, sha256_hex};
use crate::support::{self, Outcome};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `dist/packer-vault ARGS` from the release checkout with nothing of this
/// machine's environment but `PATH` (no cargo; no curl when `no_curl`), the
/// cache under `cache`, and the release's download URL.
fn launch(release: &Release, cache: &Path, no_curl: bool, args: &[&str]) -> Outcome {
    let home = cache.join("home");
    std::fs::create_dir_all(&home).expect("mkdir home");
    let mut cmd = Command::new(release.launcher());
    cmd.env_clear()
        .env("PATH", bare_path(cache, no_curl))
        .env("HOME", &home)
        .env("XDG_CACHE_HOME", cache)
        .env("PACKER_VAULT_DOWNLOAD_URL", release.download_url())
        .args(args);
    support::run(cmd)
}

fn asset_gets(release: &Release) -> usize {
    let want = format!("GET /v{}/{}", release.version, asset_name());
    release.requests().iter().filter(|r| **r == want).count()
}

#[test]
fn first_run_downloads_verifies_and_caches_the_second_sends_nothing() {
    for no_curl in [false, true] {
        let release = Release::make("launcher_fresh");
        let cache = support::scratch_dir("launcher_cache");
        assert!(
            !release.checkout.join("dist/bin").exists(),
            "a release checkout has no dist/bin"
        );

        let out = launch(&release, &cache, no_curl, &["--version"]);
        out.assert_success();
        assert_eq!(out.stdout.trim(), format!("packer-vault {}", release.version));
        let want = sha256_hex(&release.asset);
        assert!(
            out.stderr.contains("downloaded") && out.stderr.contains(&want),
            "one line says what was downloaded and verified ({}):\n{}",
            if no_curl { "wget" } else { "curl" },
            out.stderr
        );
        assert_eq!(asset_gets(&release), 1);
        let cached = release.cached(&cache);
        assert_eq!(std::fs::read(&cached).expect("cached"), release.asset);

        let again = launch(&release, &cache, no_curl, &["--version"]);
        again.assert_success();
        assert_eq!(again.stdout, out.stdout);
        assert_eq!(again.stderr, "", "a warm cache is silent");
        assert_eq!(asset_gets(&release), 1, "the second run sends no request");
    }
}

#[test]
fn a_tampered_asset_exits_2_names_both_sums_and_never_runs() {
    let release = Release::make("launcher_tampered");
    let cache = support::scratch_dir("launcher_tampered_cache");
    let ran = cache.join("ran");
    let evil = format!("#!/bin/sh\ntouch '{}'\necho pwned\n", ran.display());
    release.serve(evil.clone().into_bytes());

    for no_curl in [false, true] {
        let out = launch(&release, &cache, no_curl, &["--version"]);
        out.assert_code(2);
        let (want, got) = (sha256_hex(&release.asset), sha256_hex(evil.as_bytes()));
        let url = format!("{}/{}", release.download_url(), asset_name());
        for part in [
            want.as_str(),
            got.as_str(),
            url.as_str(),
            "does not match dist/SHA256SUMS",
        ] {
            assert!(out.stderr.contains(part), "the error names {part}:\n{}", out.stderr);
        }
        assert!(out.stderr.lines().count() <= 2, "{}", out.stderr);
        assert!(
            !ran.exists() && !out.stdout.contains("pwned"),
            "the tampered file never ran"
        );
        assert!(!release.cached(&cache).exists(), "nor was it cached");
        let dir = release
            .cached(&cache)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let leftovers = std::fs::read_dir(&dir).map(|d| d.flatten().count()).unwrap_or(0);
        assert_eq!(leftovers, 0, "no partial download is left in {}", dir.display());
    }

    // A cached copy that no longer matches is replaced by a verified download.
    release.serve(release.asset.clone());
    let cached = release.cached(&cache);
    std::fs::create_dir_all(cached.parent().expect("parent")).expect("mkdir");
    std::fs::write(&cached, &evil).expect("tamper with the cache");
    let out = launch(&release, &cache, false, &["--version"]);
    out.assert_success();
    assert!(!ran.exists());
    assert_eq!(std::fs::read(&cached).expect("cached"), release.asset);
}

#[test]
fn a_missing_asset_or_an_unshipped_platform_exits_2_naming_the_url() {
    let release = Release::make("launcher_missing");
    let cache = support::scratch_dir("launcher_missing_cache");
    // A mirror folder that lacks the asset: 404.
    let mut cmd = Command::new(release.launcher());
    cmd.env_clear()
        .env("PATH", bare_path(&cache, true))
        .env("HOME", &cache)
        .env("XDG_CACHE_HOME", &cache)
        .env(
            "PACKER_VAULT_DOWNLOAD_URL",
            format!("{}/elsewhere", release.download_url()),
        )
        .arg("--version");
    let out = support::run(cmd);
    out.assert_code(2);
    assert!(
        out.stderr
            .contains(&format!("{}/elsewhere/{}", release.download_url(), asset_name()))
            && out.stderr.contains("PACKER_VAULT_DOWNLOAD_URL"),
        "{}",
        out.stderr
    );

    // A release whose sums do not list this platform.
    let sums = release.checkout.join("dist/SHA256SUMS");
    std::fs::write(
        &sums,
        "0000000000000000000000000000000000000000000000000000000000000000  packer-vault-plan9-x64\n",
    )
    .expect("write sums");
    let out = launch(&release, &cache, false, &["--version"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains(&format!("lists no {}", asset_name())),
        "{}",
        out.stderr
    );
    assert_eq!(
        release
            .requests()
            .iter()
            .filter(|r| r.contains("packer-vault-"))
            .count(),
        3
    );
}

#[test]
fn a_development_ref_runs_nothing_without_the_explicit_opt_in() {
    let release = Release::make("launcher_dev");
    let cache = support::scratch_dir("launcher_dev_cache");
    let dist = release.checkout.join("dist");
    std::fs::remove_file(dist.join("SHA256SUMS")).expect("rm sums");
    std::fs::remove_file(dist.join("VERSION")).expect("rm version");
    // What dist/build installs: a binary and its sums, side by side. That
    // proves nothing about who wrote them, so it runs only on request.
    let platform = asset_name().trim_start_matches("packer-vault-").to_string();
    let bin = dist.join(format!("bin/{platform}/packer-vault"));
    std::fs::create_dir_all(bin.parent().expect("parent")).expect("mkdir");
    std::fs::write(&bin, &release.asset).expect("write bin");
    std::fs::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let sums = format!("{}  {platform}/packer-vault\n", sha256_hex(&release.asset));
    std::fs::write(dist.join("bin/SHA256SUMS"), sums).expect("bin sums");

    let out = launch(&release, &cache, false, &["--version"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("not a release") && out.stderr.contains("PACKER_VAULT_BUILD_FROM_SOURCE=1"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "nothing ran: {}", out.stdout);
    assert!(release.requests().is_empty(), "a development ref downloads nothing");

    let opted_in = |args: &[&str]| {
        let home = cache.join("home");
        std::fs::create_dir_all(&home).expect("mkdir home");
        let mut cmd = Command::new(release.launcher());
        cmd.env_clear()
            .env("PATH", bare_path(&cache, false))
            .env("HOME", &home)
            .env("XDG_CACHE_HOME", &cache)
            .env("PACKER_VAULT_BUILD_FROM_SOURCE", "1")
            .args(args);
        support::run(cmd)
    };
    let out = opted_in(&["--version"]);
    out.assert_success();
    assert_eq!(out.stdout.trim(), format!("packer-vault {}", release.version));
    std::fs::write(&bin, b"#!/bin/sh\necho tampered\n").expect("tamper");
    let out = opted_in(&["--version"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("does not match dist/bin/SHA256SUMS"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("tampered"));
    // With the opt-in but neither dist/bin nor cargo: a clear refusal.
    std::fs::remove_dir_all(dist.join("bin")).expect("rm dist/bin");
    let out = opted_in(&["--version"]);
    out.assert_code(2);
    assert!(out.stderr.contains("no cargo"), "{}", out.stderr);
}

#[test]
fn a_neighbour_swapping_the_cached_binary_never_gets_it_run() {
    let release = Release::make("launcher_race");
    let cache = support::scratch_dir("launcher_race_cache");
    launch(&release, &cache, false, &["--version"]).assert_success();
    let ran = cache.join("payload-ran");
    let payload = cache.join("payload");
    std::fs::write(&payload, format!("#!/bin/sh\ntouch '{}'\necho pwned\n", ran.display())).expect("payload");
    // The neighbour wins every race there is: right after any checksum of a
    // file in the cache (its reach), it renames the payload over that file,
    // as the review's inotify script did between `sha256sum` and `exec`.
    let wrappers = cache.join("neighbour-bin");
    std::fs::create_dir_all(&wrappers).expect("mkdir");
    let sha = wrappers.join("sha256sum");
    support::executable(
        &sha,
        format!(
            "#!/bin/sh\nout=$(/usr/bin/sha256sum \"$@\") || exit $?\nfor f in \"$@\"; do\n  case \"$f\" in\n    '{reach}'/*) cp '{payload}' \"$f.swap\" && chmod 755 \"$f.swap\" && mv -f \"$f.swap\" \"$f\" ;;\n  esac\ndone\nprintf '%s\\n' \"$out\"\n",
            reach = cache.join("packer-vault").display(),
            payload = payload.display()
        ),
    );
    let private_root = cache.join("runner_temp");
    std::fs::create_dir_all(&private_root).expect("mkdir");
    for round in 0..3 {
        let mut cmd = Command::new(release.launcher());
        cmd.env_clear()
            .env("PATH", format!("{}:{}", wrappers.display(), bare_path(&cache, false)))
            .env("HOME", cache.join("home"))
            .env("XDG_CACHE_HOME", &cache)
            .env("RUNNER_TEMP", &private_root)
            .env("PACKER_VAULT_DOWNLOAD_URL", release.download_url())
            .arg("--version");
        let out = support::run(cmd);
        assert!(
            !out.stdout.contains("pwned") && !ran.exists(),
            "round {round}: the payload ran"
        );
        out.assert_success();
        assert_eq!(out.stdout.trim(), format!("packer-vault {}", release.version));
    }
    // Each job's private copy went with it.
    let left: Vec<_> = std::fs::read_dir(&private_root)
        .expect("list")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "private copies left behind: {left:?}");
}

#[test]
fn dist_release_collects_every_target_into_one_sums_file() {
    let dir = support::scratch_dir("release_collect").join("checkout");
    crate::support::shipped::copy_repository(&dir);
    let assets = dir.join("target/release-assets");
    std::fs::create_dir_all(&assets).expect("mkdir");
    let names = [
        "packer-vault-darwin-arm64",
        "packer-vault-darwin-x64",
        "packer-vault-linux-arm64",
        "packer-vault-linux-x64",
    ];
    for n in names {
        std::fs::write(assets.join(n), format!("binary {n}")).expect("asset");
    }
    let out = support::run({
        let mut c = Command::new("bash");
        c.arg(dir.join("dist/release")).arg("--collect");
        c
    });
    out.assert_success();
    let sums = std::fs::read_to_string(dir.join("dist/SHA256SUMS")).expect("dist/SHA256SUMS");
    let want: String = names
        .iter()
        .map(|n| format!("{}  {n}\n", sha256_hex(format!("binary {n}").as_bytes())))
        .collect();
    assert_eq!(sums, want, "sha256sum's format, sorted, every asset");
    assert_eq!(
        std::fs::read_to_string(assets.join("SHA256SUMS")).expect("assets' sums"),
        want
    );
    let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    let version = std::fs::read_to_string(dir.join("dist/VERSION")).expect("dist/VERSION");
    assert!(
        cargo.contains(&format!("\nversion = \"{}\"\n", version.trim())),
        "{version}"
    );
    let bad = support::run({
        let mut c = Command::new("bash");
        c.arg(dir.join("dist/release")).arg("--bogus");
        c
    });
    bad.assert_code(2);
}

#[test]
fn the_smoke_test_passes_on_the_build_and_fails_on_a_wrong_binary() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let smoke = |bin: &Path| {
        let mut c = Command::new("bash");
        c.arg(root.join("dist/smoke")).arg(bin);
        support::run(c)
    };
    smoke(Path::new(env!("CARGO_BIN_EXE_packer-vault"))).assert_success();
    let dir = support::scratch_dir("smoke");
    let fake = dir.join("packer-vault");
    std::fs::write(&fake, "#!/bin/sh\necho packer-vault 0.0.0\n").expect("fake");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let out = smoke(&fake);
    out.assert_code(1);
    assert!(out.stderr.contains("--version says"), "{}", out.stderr);
}
