//! [`resolve`]: every input read from its sources and checked, one step per
//! concern, in the order of the first error a user meets.

use super::auth::resolve_auth;
use super::inputs::INPUTS;
use super::sources::{identity, name_input, pem_input, policies};
use super::{Auth, Azure, CommentMode, Config, HcpSettings, Needs, Sources, cascade, lifecycle};
use crate::env::{Env, Platform};
use crate::error::{Error, Result};
use crate::secret::Secret;
use crate::spec;
use crate::vault::Tls;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Resolves and validates every input. `flags` holds the inputs given as CLI
/// flags (by name); `env` the process environment.
pub fn resolve(flags: &BTreeMap<String, String>, env: &Env, needs: Needs) -> Result<Config> {
    utf8(env)?;
    let src = Sources::new(flags, env)?;
    // Check every input that is set, even ones this subcommand ignores.
    for input in INPUTS {
        src.text(input.name)?;
    }
    let platform = Platform::detect(env);
    let vault_addr = src.text("vault-addr")?.map(|a| a.trim_end_matches('/').to_string());
    let vault_namespace = match src.text("vault-namespace")? {
        Some(ns) => Some(crate::namespace::check(&ns).map_err(|e| Error::input("vault-namespace", e))?),
        None => None,
    };
    let requests = requests(&src)?;
    let (vault_addr, auth) = login(&src, env, platform, vault_addr, &requests, needs)?;
    let tls = tls(&src)?;
    let (packer_args, packer_vars) = packer(&src)?;
    let comment = match src.text("comment")?.as_deref() {
        Some("always") => CommentMode::Always,
        Some("never") => CommentMode::Never,
        Some("on-failure") => CommentMode::OnFailure,
        _ => CommentMode::Auto,
    };
    let hcp = hcp(&src)?;
    let (lock_file, lock_path) = lock(&src, needs)?;
    let working_directory = PathBuf::from(src.text("working-directory")?.unwrap_or_else(|| ".".into()));
    if !working_directory.is_dir() {
        let why = format!("{}: no such directory", working_directory.display());
        return Err(Error::input("working-directory", why));
    }
    let cascade = match needs.cascade {
        true => Some(cascade::resolve(&src, hcp.bucket.as_deref())?),
        false => None,
    };
    let lifecycle = (needs.lifecycle)
        .map(|op| lifecycle::resolve(&src, op, hcp.bucket.as_deref()))
        .transpose()?;
    let template = template(&src, &working_directory, needs)?;
    Ok(Config {
        platform,
        vault_addr,
        vault_namespace,
        auth,
        tls,
        requests,
        template,
        working_directory,
        packer_version: src.text("packer-version")?,
        packer_args,
        packer_vars,
        hcp,
        comment,
        github_token: src.text("github-token")?.map(Secret::new),
        comment_author: src.text("comment-author")?,
        gitlab_token: src.text("gitlab-token")?.map(Secret::new),
        summary: src.flag("summary", true)?,
        export_env: src.flag("export-env", false)?,
        azure: azure(&src)?,
        packer_vault_token: src.flag("packer-vault-token", false)?,
        packer_init_token: src.flag("packer-init-token", platform == Platform::Github)?,
        report_json: src.text("report-json")?.map(PathBuf::from),
        reports: src.text("reports")?.map(|t| lines(&t)).unwrap_or_default(),
        packer_vault_token_policies: policies(&src)?,
        renew: src.flag("renew", true)?,
        revoke: src.flag("revoke", true)?,
        lock_file,
        lock_path,
        locked: src.flag("locked", false)?,
        environment: src.text("environment")?,
        lifecycle,
        cascade,
    })
}

/// No variable an input is read from may hold bytes that are not UTF-8.
fn utf8(env: &Env) -> Result<()> {
    for input in INPUTS {
        let vars = [input.input_var(), input.env_var()];
        if let Some(var) = vars
            .iter()
            .map(String::as_str)
            .chain(input.fallback_env.iter().copied())
            .find(|v| env.is_invalid(v))
        {
            return Err(Error::input(input.name, format!("{var} is not valid UTF-8")));
        }
    }
    Ok(())
}

/// `secrets` (short form), then the config file's long form, with no path
/// twice.
fn requests(src: &Sources) -> Result<Vec<spec::Request>> {
    let mut requests = match src.text("secrets")? {
        Some(text) => spec::parse(&text).map_err(|e| Error::input("secrets", e))?,
        None => Vec::new(),
    };
    if let Some(file) = &src.file
        && let Some(list) = file.secrets_list()
    {
        let path = &file.path;
        let entries: Vec<spec::LongEntry> =
            serde_json::from_value(list.clone()).map_err(|e| Error::input("secrets", format!("{path}: {e}")))?;
        requests.extend(spec::from_long(&entries).map_err(|e| Error::input("secrets", format!("{path}: {e}")))?);
    }
    check_duplicates(&requests).map_err(|e| Error::input("secrets", e))?;
    Ok(requests)
}

/// Vault's address and how to log in. Vault is needed unless there is
/// nothing to read from it and HCP comes through a workload identity
/// provider: then nothing logs in to Vault.
fn login(
    src: &Sources,
    env: &Env,
    platform: Platform,
    vault_addr: Option<String>,
    requests: &[spec::Request],
    needs: Needs,
) -> Result<(String, Auth)> {
    let no_vault = vault_addr.is_none()
        && requests.is_empty()
        && src.text("hcp-workload-identity-provider")?.is_some()
        && !needs.lock_write;
    match vault_addr {
        None if no_vault || needs.doctor => Ok((String::new(), Auth::None)),
        None => Err(Error::input("vault-addr", "not set (set it, or VAULT_ADDR)")),
        Some(addr) => Ok((addr, resolve_auth(src, env, platform)?)),
    }
}

/// `ca-cert`, the client certificate and `tls-skip-verify`.
fn tls(src: &Sources) -> Result<Tls> {
    let tls = Tls {
        ca_pem: pem_input(src, "ca-cert")?.map(|p| p.into_bytes()),
        identity_pem: identity(src)?,
        skip_verify: src.flag("tls-skip-verify", false)?,
    };
    if let Some(ca) = &tls.ca_pem {
        reqwest::Certificate::from_pem_bundle(ca)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| Error::input("ca-cert", "holds no PEM certificate"))?;
    }
    Ok(tls)
}

/// `packer-args` split into arguments, and `packer-vars` as (name, value).
type PackerInputs = (Vec<String>, Vec<(String, String)>);

/// `packer-args`, `packer-vars`, and that `packer-version` is exact.
fn packer(src: &Sources) -> Result<PackerInputs> {
    let args = match src.text("packer-args")? {
        Some(a) => shell_words::split(&a)
            .map_err(|e| Error::input("packer-args", format!("cannot split into arguments: {e}")))?,
        None => Vec::new(),
    };
    let vars = match src.text("packer-vars")? {
        Some(v) => parse_vars(&v).map_err(|e| Error::input("packer-vars", e))?,
        None => Vec::new(),
    };
    if let Some(v) = src.text("packer-version")? {
        let ok = v.split('.').count() == 3
            && v.split(['.', '-'])
                .take(3)
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if !ok {
            let why = format!("`{v}` is not an exact version like 1.11.2");
            return Err(Error::input("packer-version", why));
        }
    }
    Ok((args, vars))
}

/// The `hcp-*` inputs and `create-channel`.
fn hcp(src: &Sources) -> Result<HcpSettings> {
    let fingerprint = match name_input(src, "hcp-fingerprint")? {
        Some(fp) => match crate::hcp::check_fingerprint(&fp) {
            Ok(()) => Some(fp),
            Err(why) => return Err(Error::input("hcp-fingerprint", format!("`{fp}` {why}"))),
        },
        None => None,
    };
    let hcp = HcpSettings {
        bucket: name_input(src, "hcp-bucket")?,
        channel: name_input(src, "hcp-channel")?,
        create_channel: src.flag("create-channel", false)?,
        geography: src.text("hcp-geography")?,
        fingerprint,
        organization_id: name_input(src, "hcp-organization-id")?,
        project_id: name_input(src, "hcp-project-id")?,
        provider: match src.text("hcp-workload-identity-provider")? {
            Some(p) => Some(
                crate::hcp::workload::check_provider(&p)
                    .map_err(|e| Error::input("hcp-workload-identity-provider", e))?,
            ),
            None => None,
        },
        jwt_audience: src.text("hcp-jwt-audience")?,
        id_token_variable: match src.text("hcp-id-token-variable")? {
            Some(v) if v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => v,
            Some(v) => {
                let why = format!("`{}` is not a variable name", v.escape_debug());
                return Err(Error::input("hcp-id-token-variable", why));
            }
            None => "HCP_ID_TOKEN".into(),
        },
    };
    if hcp.channel.is_some() && hcp.bucket.is_none() {
        return Err(Error::input("hcp-channel", "needs `hcp-bucket`"));
    }
    Ok(hcp)
}

/// The lock file to honour (if there is one) and where `lock` writes it:
/// beside the config file (or in the working directory of the run when
/// there is none), unless `lock-file` names it.
fn lock(src: &Sources, needs: Needs) -> Result<(Option<PathBuf>, PathBuf)> {
    let explicit = src.text("lock-file")?.map(PathBuf::from);
    let path = explicit.clone().unwrap_or_else(|| {
        let dir = (src.file.as_ref())
            .and_then(|f| Path::new(&f.path).parent().map(Path::to_path_buf))
            .unwrap_or_default();
        dir.join(crate::lockfile::FILE_NAME)
    });
    match explicit {
        Some(p) if !p.is_file() && !needs.lock_write => {
            Err(Error::input("lock-file", format!("{}: no such file", p.display())))
        }
        _ => Ok((Some(path.clone()).filter(|p| p.is_file()), path)),
    }
}

/// `template`, which Packer finds in the working directory: it must exist
/// there when the subcommand runs Packer.
fn template(src: &Sources, working_directory: &Path, needs: Needs) -> Result<PathBuf> {
    let template = PathBuf::from(src.text("template")?.unwrap_or_else(|| ".".into()));
    if needs.template && !working_directory.join(&template).exists() {
        let why = format!(
            "`{}`: no such file or directory (in the working directory `{}`)",
            template.display(),
            working_directory.display()
        );
        return Err(Error::input("template", why));
    }
    Ok(template)
}

/// The `azure` preset's tenant, subscription and wait.
fn azure(src: &Sources) -> Result<Azure> {
    let tenant = azure_id(src, "azure-tenant-id")?;
    let subscription = azure_id(src, "azure-subscription-id")?;
    let wait =
        match src.text("azure-wait")? {
            None => 300,
            Some(v) => v.parse::<u64>().ok().filter(|s| *s <= 3600).ok_or_else(|| {
                Error::input("azure-wait", format!("`{v}` is not a number of seconds from 0 to 3600"))
            })?,
        };
    Ok(Azure {
        tenant,
        subscription,
        wait: std::time::Duration::from_secs(wait),
    })
}

/// The non-empty lines of a list input, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// A tenant or subscription id: a GUID or a domain name, safe in a URL path.
fn azure_id(src: &Sources, name: &str) -> Result<Option<String>> {
    let v = src.text(name)?;
    if let Some(v) = &v
        && !(v.len() <= 128 && v.chars().all(|c| c.is_ascii_alphanumeric() || "-.".contains(c)))
    {
        return Err(Error::input(
            name,
            format!(
                "`{}` is not a tenant or subscription id (a GUID or a domain)",
                v.escape_debug()
            ),
        ));
    }
    Ok(v)
}

/// `packer-vars`: `NAME=VALUE` lines (blank and `#` lines skipped), each
/// name a Packer variable name, given once.
fn parse_vars(text: &str) -> std::result::Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected NAME=VALUE", i + 1))?;
        let name = name.trim();
        let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(format!(
                "line {}: `{}` is not a Packer variable name",
                i + 1,
                name.escape_debug()
            ));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("line {}: `{name}` is given twice", i + 1));
        }
        out.push((name.to_string(), value.trim().to_string()));
    }
    Ok(out)
}

/// Checks that no two selectors write the same variable (known before reading).
pub fn check_duplicates(requests: &[spec::Request]) -> std::result::Result<(), String> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for r in requests {
        for s in &r.selectors {
            let names: Vec<&str> = match s {
                spec::Selector::Key { env, .. } => vec![env.as_str()],
                spec::Selector::Preset(p) => crate::cloud::variables(*p).collect(),
                spec::Selector::All => vec![],
            };
            for n in names {
                if let Some(prev) = seen.insert(n, &r.path) {
                    return Err(format!("variable `{n}` is set twice (by `{prev}` and `{}`)", r.path));
                }
            }
        }
    }
    Ok(())
}
