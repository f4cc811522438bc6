//! What one entry of the spec becomes on the wire once its mount is known:
//! a [`Plan`]. Also the guesses that let a read go out in the same wave as
//! mount detection, when the request it would send is already certain.

use super::mounts::{Engine, Mount};
use crate::spec::{Method, Request, Selector};

/// How one request is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// KV v1: `<mount><name>`.
    Kv1 {
        /// Mount path with its trailing `/`.
        mount: String,
        /// Secret path inside the mount.
        name: String,
    },
    /// KV v2: `<mount>data/<name>[?version=N]`.
    Kv2 {
        /// Mount path with its trailing `/`.
        mount: String,
        /// Secret path inside the mount, without `data/`.
        name: String,
        /// Version to read; `None` for the latest.
        version: Option<u64>,
    },
    /// Any other engine: the path as written, with the spec's method and body.
    Other,
}

impl Plan {
    /// The plan for `req` on `mount` (`None`: Vault would not say; read the
    /// path as written). Fails for what cannot be read that way.
    pub fn new(req: &Request, mount: Option<&Mount>) -> Result<Plan, String> {
        match mount {
            // The mount path comes from the server: slice only under a prefix.
            Some(m) if m.engine != Engine::Other && req.method == Method::Get && req.path.starts_with(&m.path) => {
                let rel = &req.path[m.path.len()..];
                if m.engine == Engine::Kv1 {
                    if req.version.is_some() {
                        return Err(format!(
                            "`{}`: version pins need KV v2, but `{}` is KV v1",
                            req.path, m.path
                        ));
                    }
                    return Ok(Plan::Kv1 {
                        mount: m.path.clone(),
                        name: rel.to_string(),
                    });
                }
                let name = rel.strip_prefix("data/").unwrap_or(rel);
                if name.starts_with("metadata/") || name.is_empty() {
                    return Err(format!("`{}`: name a secret, not KV v2 metadata", req.path));
                }
                Ok(Plan::Kv2 {
                    mount: m.path.clone(),
                    name: name.to_string(),
                    version: req.version,
                })
            }
            _ if req.version.is_some() => Err(format!("`{}`: version pins need a KV v2 mount", req.path)),
            _ => Ok(Plan::Other),
        }
    }

    /// The API path requested (under `/v1/`).
    pub fn api(&self, req: &Request) -> String {
        match self {
            Plan::Kv1 { mount, name } => format!("{mount}{name}"),
            Plan::Kv2 {
                mount,
                name,
                version: Some(v),
            } => format!("{mount}data/{name}?version={v}"),
            Plan::Kv2 {
                mount,
                name,
                version: None,
            } => format!("{mount}data/{name}"),
            Plan::Other => req.path.clone(),
        }
    }

    /// How messages name the secret: `` `mount/name` `` (KV v2: and its
    /// version), or the path as written.
    pub fn shown(&self, req: &Request) -> String {
        match self {
            Plan::Kv1 { mount, name } => format!("`{mount}{name}`"),
            Plan::Kv2 {
                mount,
                name,
                version: Some(v),
            } => format!("`{mount}{name}` version {v}"),
            Plan::Kv2 { mount, name, .. } => format!("`{mount}{name}`"),
            Plan::Other => format!("`{}`", req.path),
        }
    }
}

/// A guess from the path alone, for a GET whose request does not depend on
/// the answer of mount detection:
///
/// * a path with a `data/` segment after its first (`secret/data/ci/hcp`,
///   as vault-action's users write KV v2) is the same request on KV v2, KV v1
///   and any other engine: the path as written (a version pin, which only
///   KV v2 takes, adds `?version=N`);
/// * a path read with a preset (`aws/creds/packer | aws`) is a dynamic
///   engine's, read as written.
///
/// Bare KV paths (`secret/ci/hcp`) are not guessed by themselves: whether
/// `data/` goes in is what detection answers, and a wrong guess would send
/// a request the spec never asked for. Two say more, see [`guess_all`].
pub fn guess(req: &Request) -> Option<Plan> {
    if req.method != Method::Get {
        return None;
    }
    if let Some(i) = req.path.find("/data/").filter(|&i| i > 0) {
        let mount = Mount {
            path: req.path[..=i].to_string(),
            engine: Engine::Kv2,
            child: None,
        };
        return Plan::new(req, Some(&mount)).ok();
    }
    let preset = req.selectors.iter().any(|s| matches!(s, Selector::Preset(_)));
    (preset && req.version.is_none()).then_some(Plan::Other)
}

/// [`guess`] for every request of a spec, and for a bare path what the spec
/// itself says of its mount: a version pin (`secret/ci/hcp@3`), which only
/// KV v2 takes, or another entry of the same first segment written with
/// `data/` (`secret/data/ci/a` beside `secret/ci/b`). Both are KV v2 reads
/// of the first segment as the mount, which issue nothing; detection still
/// confirms them (a longer mount, a child namespace), and a wrong one is
/// read again the right way.
pub fn guess_all(requests: &[Request]) -> Vec<Option<Plan>> {
    let mut guesses: Vec<Option<Plan>> = requests.iter().map(guess).collect();
    let kv2_mounts: Vec<String> = guesses
        .iter()
        .filter_map(|g| match g {
            Some(Plan::Kv2 { mount, .. }) if mount.matches('/').count() == 1 => Some(mount.clone()),
            _ => None,
        })
        .collect();
    for (req, g) in requests.iter().zip(guesses.iter_mut()) {
        if g.is_some() || req.method != Method::Get || req.namespace.is_some() {
            continue;
        }
        let Some((first, rest)) = req.path.split_once('/') else {
            continue;
        };
        if rest.is_empty() || rest.starts_with("data/") {
            continue;
        }
        let mount = format!("{first}/");
        if req.version.is_some() || kv2_mounts.contains(&mount) {
            let m = Mount {
                path: mount,
                engine: Engine::Kv2,
                child: None,
            };
            *g = Plan::new(req, Some(&m)).ok();
        }
    }
    guesses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_or_a_sibling_with_data_makes_a_bare_path_a_kv2_guess() {
        let reqs = vec![
            req("secret/data/ci/a", None, vec![]),
            req("secret/ci/b", None, vec![]),
            req("other/ci/c", Some(3), vec![]),
            req("other2/ci/d", None, vec![]),
        ];
        let g = guess_all(&reqs);
        assert!(
            matches!(&g[1], Some(Plan::Kv2 { mount, name, .. }) if mount == "secret/" && name == "ci/b"),
            "{g:?}"
        );
        assert!(matches!(&g[2], Some(Plan::Kv2 { version: Some(3), .. })), "{g:?}");
        assert!(g[3].is_none(), "nothing says what other2/ is: {g:?}");
    }

    fn req(path: &str, version: Option<u64>, selectors: Vec<Selector>) -> Request {
        Request {
            path: path.into(),
            version,
            method: Method::Get,
            body: None,
            selectors,
            namespace: None,
        }
    }

    fn mount(path: &str, engine: Engine) -> Mount {
        Mount {
            path: path.into(),
            engine,
            child: None,
        }
    }

    #[test]
    fn plans_follow_the_engine() {
        let r = req("secret/ci/hcp", None, vec![]);
        let kv2 = Plan::new(&r, Some(&mount("secret/", Engine::Kv2))).unwrap();
        assert_eq!(kv2.api(&r), "secret/data/ci/hcp");
        assert_eq!(kv2.shown(&r), "`secret/ci/hcp`");
        let kv1 = Plan::new(&r, Some(&mount("secret/", Engine::Kv1))).unwrap();
        assert_eq!(kv1.api(&r), "secret/ci/hcp");
        assert_eq!(Plan::new(&r, None).unwrap().api(&r), "secret/ci/hcp");
        let pinned = req("secret/data/ci/hcp", Some(3), vec![]);
        let p = Plan::new(&pinned, Some(&mount("secret/", Engine::Kv2))).unwrap();
        assert_eq!(p.api(&pinned), "secret/data/ci/hcp?version=3");
        assert_eq!(p.shown(&pinned), "`secret/ci/hcp` version 3");
        assert!(Plan::new(&pinned, Some(&mount("secret/", Engine::Kv1))).is_err());
        assert!(Plan::new(&pinned, None).is_err());
        let meta = req("secret/metadata/x", None, vec![]);
        assert!(Plan::new(&meta, Some(&mount("secret/", Engine::Kv2))).is_err());
    }

    #[test]
    fn a_data_path_is_guessed_and_sends_what_any_engine_would() {
        let r = req("team/kv/data/ci/hcp", None, vec![]);
        let g = guess(&r).unwrap();
        assert_eq!(g.api(&r), r.path);
        for m in [
            Some(mount("team/kv/", Engine::Kv2)),
            Some(mount("team/kv/", Engine::Kv1)),
            Some(mount("team/", Engine::Other)),
            None,
        ] {
            assert_eq!(Plan::new(&r, m.as_ref()).unwrap().api(&r), g.api(&r), "{m:?}");
        }
    }

    #[test]
    fn bare_paths_and_posts_are_not_guessed() {
        assert_eq!(guess(&req("secret/ci/hcp", None, vec![])), None);
        assert_eq!(guess(&req("data/ci", None, vec![])), None);
        let mut post = req("aws/sts/packer", None, vec![Selector::Preset(crate::spec::Preset::Aws)]);
        assert_eq!(guess(&post), Some(Plan::Other));
        post.method = Method::Post;
        assert_eq!(guess(&post), None);
    }
}
