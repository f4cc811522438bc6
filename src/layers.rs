//! The dependency check ARCHITECTURE.md promises: reads every `crate::`
//! (and `super::`) path in `src/` (comments aside) and fails on an import
//! cycle between top-level modules or between the children of one module,
//! or on a leaf module that imports one above the leaves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules at the bottom: they import only each other.
const LEAVES: &[&str] = &[
    "console",
    "env",
    "error",
    "jwt",
    "log",
    "namespace",
    "redact",
    "secret",
    "spec",
    "time",
];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The child modules of the module in `dir` (the crate path `at`, empty
/// for `src/`) -> the siblings their code names: through `crate::<at>::`
/// paths anywhere below them, and through `super::` in their own file.
fn graph(dir: &Path, at: &str) -> Graph {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Graph::new();
    };
    let mut children: BTreeMap<String, Vec<std::path::PathBuf>> = BTreeMap::new();
    for e in entries.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().trim_end_matches(".rs").to_string();
        if ["lib", "main", "mod"].contains(&name.as_str()) || !(p.is_dir() || p.extension().is_some_and(|x| x == "rs"))
        {
            continue;
        }
        let files = children.entry(name).or_default();
        if p.is_dir() {
            collect(&p, files);
        } else {
            files.push(p);
        }
    }
    let prefix = if at.is_empty() {
        "crate::".to_string()
    } else {
        format!("crate::{at}::")
    };
    let mut g = Graph::new();
    for (from, files) in &children {
        let entry = g.entry(from.clone()).or_default();
        for file in files {
            // `super::` in `x.rs` or `x/mod.rs` is this module; deeper, it is not.
            let own = file.parent() == Some(dir) || file.ends_with(format!("{from}/mod.rs"));
            let text = std::fs::read_to_string(file).unwrap_or_default();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                let mut names = named(line, &prefix);
                if own && !at.is_empty() {
                    names.extend(named(line, "super::"));
                }
                entry.extend(names.into_iter().filter(|to| to != from && children.contains_key(to)));
            }
        }
    }
    g
}

/// The modules a line names after `prefix`: `prefix a::...` paths and the
/// members of `use prefix{a, b::c}`.
fn named(line: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices(prefix) {
        let rest = &line[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            out.extend(group.split(',').filter_map(|item| first_ident(item.trim())));
        } else if let Some(id) = first_ident(rest) {
            out.push(id);
        }
    }
    out
}

fn first_ident(s: &str) -> Option<String> {
    let id: String = s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
    (!id.is_empty()).then_some(id)
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A cycle of `g`, as the path that closes it, or `None`.
fn cycle(g: &Graph) -> Option<Vec<String>> {
    fn visit(g: &Graph, m: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == m) {
            let mut c = path[at..].to_vec();
            c.push(m.to_string());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        path.push(m.to_string());
        for next in g.get(m).into_iter().flatten() {
            if let Some(c) = visit(g, next, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m.to_string());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|m| visit(g, m, &mut Vec::new(), &mut done))
}

fn src() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn src_graph() -> Graph {
    graph(&src(), "")
}

#[test]
fn no_import_cycle_between_modules() {
    let g = src_graph();
    assert!(g.len() > 10, "found only {} modules: is this src/?", g.len());
    assert!(g["run"].contains("session"), "the reader misses `use crate::` lines");
    if let Some(c) = cycle(&g) {
        panic!("import cycle: {}", c.join(" -> "));
    }
}

#[test]
fn no_import_cycle_inside_a_module() {
    let mut dirs = Vec::new();
    let mut all = Vec::new();
    collect(&src(), &mut all);
    for f in &all {
        if let Some(d) = f.parent().filter(|d| *d != src()) {
            dirs.push(d.to_path_buf());
        }
    }
    dirs.sort();
    dirs.dedup();
    assert!(dirs.len() > 5, "found only {dirs:?}");
    assert!(
        graph(&src().join("run"), "run")["build"].contains("hcp"),
        "the reader misses `super::` paths"
    );
    for dir in dirs {
        let at = dir
            .strip_prefix(src())
            .unwrap_or(&dir)
            .to_string_lossy()
            .replace('/', "::");
        if let Some(c) = cycle(&graph(&dir, &at)) {
            panic!("import cycle in `{at}`: {}", c.join(" -> "));
        }
    }
}

#[test]
fn leaves_import_only_leaves() {
    for (m, deps) in src_graph().iter().filter(|(m, _)| LEAVES.contains(&m.as_str())) {
        let above: Vec<&String> = deps.iter().filter(|d| !LEAVES.contains(&d.as_str())).collect();
        assert!(above.is_empty(), "leaf `{m}` imports {above:?}");
    }
}

#[test]
fn the_checker_finds_cycles_and_group_imports() {
    assert_eq!(
        named(
            "use crate::{config::Config, env::Env}; let x = crate::log::info(y);",
            "crate::"
        ),
        ["config", "env", "log"]
    );
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&g), Some(["a", "b", "c", "a"].map(String::from).to_vec()));
}
