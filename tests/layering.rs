//! The crate's files import one way: no file imports a file that imports
//! it back, and there is no longer cycle either. The one allowance is a
//! module's root (`lib.rs`, a `mod.rs`) naming the files under it: it
//! declares them, re-exports them, and may name their types (the `Model`
//! trait's `select()` returns a `Select`), while they build on it.
//!
//! What counts as an import: every `use` of a crate path (`crate::`,
//! `super::`, `self::`, a root's own child), and every such path written in
//! the code, each resolved through re-exports to the file that defines the
//! item. Comments and `#[cfg(test)] mod tests` are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// A file's module path (`""` for lib.rs, `"model::ops"`), and its text.
struct File {
    module: String,
    root: bool,
    text: String,
}

fn read_files(dir: &Path, out: &mut Vec<File>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            read_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix("src").unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into()).collect();
            let root = matches!(parts.last().map(String::as_str), Some("mod" | "lib"));
            if root {
                parts.pop();
            }
            out.push(File {
                module: parts.join("::"),
                root,
                text: strip(&fs::read_to_string(&path).unwrap()),
            });
        }
    }
}

/// The code without comments, string literals and test modules.
fn strip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
            i = end;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && i + 2 < b.len() && (b[i + 2] == b'\'' || b[i + 1] == b'\\') {
            // A character literal (a lifetime has no closing quote).
            let close = text[i + 1..].find('\'').map_or(b.len(), |e| i + 1 + e + 1);
            i = close;
            out.push_str("' '");
        } else {
            let c = text[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    // Test modules come last in their files.
    for marker in ["#[cfg(test)]\nmod tests", "#[cfg(all(test"] {
        if let Some(at) = out.find(marker) {
            out.truncate(at);
        }
    }
    out.replace("$crate", "$krate")
}

/// The paths a `use` tree names, e.g. `a::{b, c::{d as e}}` gives `a::b`
/// and `a::c::d` (with the names they are known by: `b`, `e`).
fn expand_use(tree: &str) -> Vec<(String, String)> {
    fn walk(prefix: &str, tree: &str, out: &mut Vec<(String, String)>) {
        let tree = tree.trim();
        if let Some(open) = tree.find('{') {
            let head = tree[..open].trim().trim_end_matches("::");
            let inner = &tree[open + 1..tree.rfind('}').unwrap()];
            let base = join(prefix, head);
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        walk(&base, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            walk(&base, &inner[start..], out);
        } else if !tree.is_empty() {
            let (path, alias) = match tree.split_once(" as ") {
                Some((p, a)) => (p.trim(), a.trim()),
                None => (tree, tree.rsplit("::").next().unwrap()),
            };
            let full = if path == "self" {
                prefix.to_owned()
            } else {
                join(prefix, path)
            };
            let name = if alias == "self" {
                prefix.rsplit("::").next().unwrap_or("")
            } else {
                alias
            };
            out.push((full, name.to_owned()));
        }
    }
    fn join(a: &str, b: &str) -> String {
        match (a.is_empty(), b.is_empty()) {
            (true, _) => b.to_owned(),
            (_, true) => a.to_owned(),
            _ => format!("{a}::{b}"),
        }
    }
    let mut out = Vec::new();
    walk(
        "",
        &tree.split_whitespace().collect::<Vec<_>>().join(" "),
        &mut out,
    );
    out
}

/// The `use` statements of a file: each with whether it is `pub`, and the
/// text with them cut out.
fn uses(text: &str) -> (Vec<(bool, String)>, String) {
    let mut found = Vec::new();
    let mut rest = String::new();
    let mut at = 0;
    let bytes = text.as_bytes();
    while let Some(off) = text[at..].find("use ") {
        let i = at + off;
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        // `pub use`, `pub(crate) use`: look back over the visibility.
        let before = text[..i].trim_end();
        let public = before.ends_with("pub") || before.ends_with(')') && before.contains("pub(");
        if !word_start {
            rest.push_str(&text[at..i + 4]);
            at = i + 4;
            continue;
        }
        let end = text[i..].find(';').map_or(text.len(), |e| i + e);
        rest.push_str(&text[at..i]);
        found.push((public, text[i + 4..end].to_owned()));
        at = end + 1;
    }
    rest.push_str(&text[at.min(text.len())..]);
    (found, rest)
}

struct Crate {
    modules: BTreeSet<String>,
    roots: BTreeSet<String>,
    /// `(module, name)` to the path the module re-exports under that name.
    reexports: BTreeMap<(String, String), String>,
    /// Exported macros, by name, to the module that defines them.
    macros: BTreeMap<String, String>,
}

impl Crate {
    /// An absolute path (`crate::…`, `super::…`, `self::…`, or a child of a
    /// root) as segments from the crate root; `None` for other crates.
    fn absolute(&self, path: &str, module: &str, root: bool) -> Option<Vec<String>> {
        let segs: Vec<&str> = path.split("::").map(str::trim).collect();
        let here: Vec<String> = module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(Into::into)
            .collect();
        let (mut base, rest) = match segs[0] {
            "crate" => (Vec::new(), &segs[1..]),
            "self" => (here.clone(), &segs[1..]),
            // `super` of `a/b.rs` (module `a::b`) and of `a/mod.rs` (module
            // `a`) is the module above: one step up from the module each is.
            "super" => {
                let mut base = here.clone();
                let mut rest = &segs[..];
                while rest.first() == Some(&"super") {
                    base.pop();
                    rest = &rest[1..];
                }
                (base, rest)
            }
            first if root => {
                let child = join(&here, first);
                if self.modules.contains(&child) {
                    (here.clone(), &segs[..])
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        base.extend(rest.iter().map(|s| s.to_string()));
        Some(base)
    }

    /// The file that defines what `segs` names, following re-exports.
    fn resolve(&self, segs: &[String], depth: usize) -> Option<String> {
        // An exported macro is named from the crate root: `crate::name!`.
        if let [name] = segs
            && let Some(m) = self.macros.get(name)
        {
            return Some(m.clone());
        }
        for n in (0..=segs.len()).rev() {
            let module = segs[..n].join("::");
            if !self.modules.contains(&module) {
                continue;
            }
            let reexported = segs
                .get(n)
                .filter(|_| depth < 8)
                .and_then(|name| self.reexports.get(&(module.clone(), name.clone())));
            let found = reexported.and_then(|target| {
                let mut abs = self.absolute(target, &module, self.roots.contains(&module))?;
                abs.extend(segs[n + 1..].iter().cloned());
                self.resolve(&abs, depth + 1)
            });
            return Some(found.unwrap_or(module));
        }
        None
    }
}

fn join(here: &[String], child: &str) -> String {
    let mut v = here.to_vec();
    v.push(child.to_owned());
    v.join("::")
}

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    read_files(Path::new("src"), &mut files);
    let mut krate = Crate {
        modules: files.iter().map(|f| f.module.clone()).collect(),
        roots: files
            .iter()
            .filter(|f| f.root)
            .map(|f| f.module.clone())
            .collect(),
        reexports: BTreeMap::new(),
        macros: BTreeMap::new(),
    };
    let mut parsed = Vec::new();
    for f in &files {
        let (list, rest) = uses(&f.text);
        for (public, tree) in &list {
            if *public {
                for (path, name) in expand_use(tree) {
                    krate.reexports.insert((f.module.clone(), name), path);
                }
            }
        }
        let mut at = 0;
        while let Some(off) = rest[at..].find("#[macro_export]") {
            let i = at + off;
            if let Some(m) = rest[i..].find("macro_rules!") {
                let name: String = rest[i + m + 12..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                krate.macros.insert(name, f.module.clone());
            }
            at = i + 1;
        }
        parsed.push((f, list, rest));
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (f, list, rest) in parsed {
        let mut paths: Vec<String> = list
            .iter()
            .flat_map(|(_, tree)| expand_use(tree))
            .map(|(p, _)| p)
            .collect();
        // Paths in the code: `crate::a::b`, `super::c`.
        let b = rest.as_bytes();
        for start in ["crate::", "super::"] {
            let mut at = 0;
            while let Some(off) = rest[at..].find(start) {
                let i = at + off;
                at = i + start.len();
                if i > 0
                    && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b'$')
                {
                    continue;
                }
                let mut end = i;
                loop {
                    let seg: usize = rest[end..]
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .map(char::len_utf8)
                        .sum();
                    end += seg;
                    if rest[end..].starts_with("::")
                        && rest[end + 2..].starts_with(|c: char| c.is_alphabetic() || c == '_')
                    {
                        end += 2;
                    } else {
                        break;
                    }
                }
                paths.push(rest[i..end].to_owned());
            }
        }
        let out = graph.entry(f.module.clone()).or_default();
        for p in paths {
            let Some(abs) = krate.absolute(&p, &f.module, f.root) else {
                continue;
            };
            let Some(target) = krate.resolve(&abs, 0) else {
                continue;
            };
            let below_root =
                f.root && (f.module.is_empty() || target.starts_with(&format!("{}::", f.module)));
            if target != f.module && !below_root {
                out.insert(target);
            }
        }
    }
    graph
}

/// A cycle in `graph`, if there is one, as the files along it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        v: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(v.to_owned(), 1);
        stack.push(v.to_owned());
        for w in graph.get(v).into_iter().flatten() {
            match state.get(w.as_str()) {
                Some(1) => {
                    let from = stack.iter().position(|s| s == w).unwrap();
                    let mut c = stack[from..].to_vec();
                    c.push(w.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(w, graph, state, stack) {
                        return Some(c);
                    }
                }
            }
        }
        stack.pop();
        state.insert(v.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    graph.keys().find_map(|v| {
        if state.contains_key(v.as_str()) {
            return None;
        }
        visit(v, graph, &mut state, &mut Vec::new())
    })
}

fn name(m: &str) -> &str {
    if m.is_empty() { "lib" } else { m }
}

#[test]
fn files_import_one_way() {
    let graph = edges();
    let two_way: Vec<String> = graph
        .iter()
        .flat_map(|(a, out)| {
            let graph = &graph;
            out.iter()
                .filter(move |b| a < *b && graph.get(*b).is_some_and(|o| o.contains(a)))
                .map(move |b| format!("{} <-> {}", name(a), name(b)))
        })
        .collect();
    assert!(
        two_way.is_empty(),
        "files that import each other: {two_way:#?}"
    );
    if let Some(c) = cycle(&graph) {
        let c: Vec<&str> = c.iter().map(|m| name(m)).collect();
        panic!("an import cycle: {}", c.join(" -> "));
    }
}

#[test]
fn the_check_sees_a_cycle() {
    // The check itself: these two `use`s would be a two-way import.
    let (list, _) = uses("use crate::a::{B, c::D as E};\npub(crate) use super::f;");
    let paths: Vec<(String, String)> = list.iter().flat_map(|(_, t)| expand_use(t)).collect();
    assert_eq!(
        paths,
        [
            ("crate::a::B".into(), "B".into()),
            ("crate::a::c::D".into(), "E".into()),
            ("super::f".into(), "f".into())
        ]
    );
    assert!(list[1].0, "pub(crate) use is a re-export");
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["c".to_owned()])),
        ("c".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]
    .into();
    assert_eq!(cycle(&graph).unwrap(), ["a", "b", "c", "a"]);
    // And the crate's own graph has edges to check.
    let real = edges();
    assert!(
        real.get("sync_tx").is_some_and(|o| o.contains("sync_db")),
        "{real:#?}"
    );
    assert!(
        real.get("backend::postgres::blocking")
            .is_some_and(|o| o.contains("backend::postgres::client"))
    );
}
