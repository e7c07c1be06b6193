//! The four handles offer the same operations with the same shapes: every
//! public method of [`SyncDb`](dualdb::SyncDb) has a twin of the same name,
//! receiver and number of arguments on [`AsyncDb`](dualdb::AsyncDb), and the
//! same between [`SyncTx`](dualdb::SyncTx) and [`AsyncTx`](dualdb::AsyncTx).
//!
//! The Manager operations come from one macro for all four and are bound by
//! the executor traits (a handle missing one does not compile); this test
//! reads the hand-written `impl` blocks in `src/`, where a method added to
//! one handle alone would otherwise go unnoticed.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

/// A method's shape: its receiver, its number of other arguments, and
/// whether it returns a `Result`.
type Shape = (String, usize, bool);

fn rust_files(dir: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(fs::read_to_string(&path).unwrap());
        }
    }
}

/// The handle an inherent `impl` line is for (`impl<'a> SyncTx<'a> {`).
fn handle_of(line: &str) -> Option<&'static str> {
    let rest = line.strip_prefix("impl")?;
    let rest = match rest.strip_prefix('<') {
        Some(r) => r.split_once('>')?.1,
        None => rest,
    };
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric())
        .collect();
    let after = rest.trim_start()[name.len()..].trim_start();
    let after = match after.strip_prefix('<') {
        Some(r) => r.split_once('>')?.1.trim_start(),
        None => after,
    };
    if !after.starts_with('{') {
        return None; // a trait impl, or not an impl line
    }
    ["SyncDb", "AsyncDb", "SyncTx", "AsyncTx"]
        .into_iter()
        .find(|h| *h == name)
}

/// The arguments of a signature, split at top-level commas.
fn arguments(sig: &str) -> Vec<String> {
    let open = sig.find('(').unwrap();
    let mut depth = 0;
    let mut args = vec![String::new()];
    let mut previous = ' ';
    for c in sig[open + 1..].chars() {
        let arrow = previous == '-';
        previous = c;
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' if depth == 0 => break,
            '>' if arrow => {}
            ')' | '>' | ']' => depth -= 1,
            ',' if depth == 0 => {
                args.push(String::new());
                continue;
            }
            _ => {}
        }
        args.last_mut().unwrap().push(c);
    }
    args.into_iter()
        .map(|a| a.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|a| !a.is_empty())
        .collect()
}

/// Every public method written in an inherent `impl` of each handle.
fn public_methods() -> BTreeMap<&'static str, BTreeMap<String, Shape>> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut out: BTreeMap<&str, BTreeMap<String, Shape>> = BTreeMap::new();
    for text in files {
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let Some(handle) = handle_of(lines[i]) else {
                i += 1;
                continue;
            };
            // The block runs to the next line that closes it at column 0.
            i += 1;
            while i < lines.len() && lines[i] != "}" {
                let line = lines[i].trim_start();
                let sig_start = line
                    .strip_prefix("pub async fn ")
                    .or_else(|| line.strip_prefix("pub fn "));
                if let Some(rest) = sig_start {
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    let mut sig = rest.to_string();
                    let mut j = i;
                    while !sig.contains('{') && !sig.trim_end().ends_with(';') {
                        j += 1;
                        sig.push(' ');
                        sig.push_str(lines[j].trim());
                    }
                    let args = arguments(&sig);
                    let receiver = args
                        .first()
                        .filter(|a| a.ends_with("self"))
                        .cloned()
                        .unwrap_or_default();
                    let others = args.len() - usize::from(!receiver.is_empty());
                    let returns = sig.split_once('{').map_or(&*sig, |(s, _)| s);
                    let fallible = returns
                        .rsplit_once(')')
                        .is_some_and(|(_, ret)| ret.contains("Result"));
                    out.entry(handle)
                        .or_default()
                        .insert(name, (receiver, others, fallible));
                }
                i += 1;
            }
        }
    }
    out
}

#[test]
fn the_halves_twins_have_the_same_methods_and_shapes() {
    let methods = public_methods();
    for (sync, aio) in [("SyncDb", "AsyncDb"), ("SyncTx", "AsyncTx")] {
        let (s, a) = (&methods[sync], &methods[aio]);
        assert!(
            s.len() >= 5 && a.len() >= 5,
            "too few methods read: {methods:?}"
        );
        let only_sync: Vec<_> = s.keys().filter(|m| !a.contains_key(*m)).collect();
        let only_async: Vec<_> = a.keys().filter(|m| !s.contains_key(*m)).collect();
        assert!(
            only_sync.is_empty() && only_async.is_empty(),
            "{sync} alone: {only_sync:?}; {aio} alone: {only_async:?}"
        );
        for (name, shape) in s {
            assert_eq!(shape, &a[name], "{sync}::{name} and {aio}::{name} differ");
        }
    }
}

#[test]
fn the_reader_sees_a_method_on_one_handle_alone() {
    // The checks above must be able to fail: a method on one handle alone,
    // and one whose receiver differs, are found.
    assert_eq!(handle_of("impl<'a> SyncTx<'a> {"), Some("SyncTx"));
    assert_eq!(handle_of("impl AsyncDb {"), Some("AsyncDb"));
    assert_eq!(handle_of("impl Drop for SyncTx<'_> {"), None);
    assert_eq!(
        arguments(
            "atomic<T>(&mut self, f: impl FnOnce(&mut SyncTx<'_>) -> Result<T>) -> Result<T> {"
        ),
        ["&mut self", "f: impl FnOnce(&mut SyncTx<'_>) -> Result<T>"]
    );
    let methods = public_methods();
    for (handle, name) in [
        ("SyncTx", "savepoint"),
        ("AsyncTx", "savepoint"),
        ("AsyncTx", "transaction"),
        ("AsyncDb", "close"),
        ("SyncDb", "session"),
    ] {
        assert!(
            methods[handle].contains_key(name),
            "{handle}::{name} not read"
        );
    }
}
