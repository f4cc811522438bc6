//! The dependency check ARCHITECTURE.md promises: reads every `crate::`
//! path in `src/` (comments aside) and fails on an import cycle between
//! top-level modules, or on a leaf module that imports one above the leaves.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules at the bottom: they import only each other.
const LEAVES: &[&str] = &["env", "error", "jwt", "log", "redact", "secret", "spec", "time"];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// Top-level module -> the top-level modules its code names.
fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    collect(src, &mut files);
    let top = |p: &Path| -> Option<String> {
        let rel = p.strip_prefix(src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        Some(first.trim_end_matches(".rs").to_string())
    };
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|p| top(p))
        .filter(|m| m != "lib" && m != "main")
        .collect();
    let mut g = Graph::new();
    for file in &files {
        let Some(from) = top(file).filter(|m| modules.contains(m)) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let entry = g.entry(from.clone()).or_default();
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for to in named(line) {
                if to != from && modules.contains(&to) {
                    entry.insert(to);
                }
            }
        }
    }
    g
}

/// The top-level modules a line names: `crate::a::...` paths and the
/// members of `use crate::{a, b::c}`.
fn named(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in line.match_indices("crate::") {
        let rest = &line[i + "crate::".len()..];
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

fn src_graph() -> Graph {
    graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
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
fn leaves_import_only_leaves() {
    for (m, deps) in src_graph().iter().filter(|(m, _)| LEAVES.contains(&m.as_str())) {
        let above: Vec<&String> = deps.iter().filter(|d| !LEAVES.contains(&d.as_str())).collect();
        assert!(above.is_empty(), "leaf `{m}` imports {above:?}");
    }
}

#[test]
fn the_checker_finds_cycles_and_group_imports() {
    assert_eq!(
        named("use crate::{config::Config, env::Env}; let x = crate::log::info(y);"),
        ["config", "env", "log"]
    );
    let mut g = Graph::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    assert_eq!(cycle(&g), None);
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(cycle(&g), Some(["a", "b", "c", "a"].map(String::from).to_vec()));
}
