//! A migrations folder read at run time, by the rules `dualdb::migrate!`
//! reads one at compile time (`NNNN_name[.backend].(up|down).sql`, versions
//! without a gap, one name each), and the files `migrate new` writes.
//!
//! The texts live as long as the process: they are leaked into the
//! `&'static` slices a `Migrator` borrows, once, by a process that runs one
//! command and exits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dualdb::BackendKind;
use dualdb::migrate::{Migration, Script, SqlFile};

/// `NNNN_name[.backend].(up|down).sql`, read: version, name, backend, up.
pub(crate) fn parse_name(file: &str) -> Option<(i64, String, Option<BackendKind>, bool)> {
    let stem = file.strip_suffix(".sql")?;
    let (stem, up) = match (stem.strip_suffix(".up"), stem.strip_suffix(".down")) {
        (Some(s), _) => (s, true),
        (_, Some(s)) => (s, false),
        _ => return None,
    };
    let (stem, backend) = match stem.rsplit_once('.') {
        Some((s, "postgres")) => (s, Some(BackendKind::Postgres)),
        Some((s, "mysql")) => (s, Some(BackendKind::Mysql)),
        Some((s, "sqlite")) => (s, Some(BackendKind::Sqlite)),
        Some(_) => return None,
        None => (stem, None),
    };
    let (digits, name) = stem.split_once('_')?;
    let digits_ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let name_ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match (digits_ok && name_ok, digits.parse()) {
        (true, Ok(v)) => Some((v, name.to_owned(), backend, up)),
        _ => None,
    }
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// The folder's migrations, in version order.
pub(crate) fn load(dir: &Path) -> Result<&'static [Migration], String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // version -> (name, [(file, backend, up, text)])
    type Files = Vec<(String, Option<BackendKind>, bool, String)>;
    let mut versions: BTreeMap<i64, (String, Files)> = BTreeMap::new();
    // In name order: the same errors on every file system.
    let mut entries: Vec<_> = entries
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".sql") {
            continue;
        }
        let Some((version, name, backend, up)) = parse_name(&file) else {
            return Err(format!(
                "{file}: a migration file is named NNNN_name.up.sql or NNNN_name.down.sql, with \
                 .postgres, .mysql or .sqlite before .up/.down for one backend"
            ));
        };
        let text = std::fs::read_to_string(entry.path()).map_err(|e| format!("{file}: {e}"))?;
        let slot = versions
            .entry(version)
            .or_insert_with(|| (name.clone(), Vec::new()));
        if slot.0 != name {
            return Err(format!(
                "duplicate version {version}: {version}_{} and {file}",
                slot.0
            ));
        }
        if slot.1.iter().any(|(_, b, u, _)| *b == backend && *u == up) {
            return Err(format!("duplicate file for version {version}: {file}"));
        }
        slot.1.push((file, backend, up, text));
    }
    let all: Vec<i64> = versions.keys().copied().collect();
    if let Some(w) = all.windows(2).find(|w| w[1] != w[0] + 1) {
        return Err(format!(
            "a gap in the migration versions: {} then {}",
            w[0], w[1]
        ));
    }
    if all.first().is_some_and(|v| *v < 1) {
        return Err("migration versions start at 1 or above".into());
    }
    let mut out = Vec::new();
    for (version, (name, files)) in versions {
        let mut ups = Vec::new();
        let mut downs = Vec::new();
        for (file, backend, up, text) in files {
            let f = SqlFile {
                file: leak(file),
                backend,
                sql: leak(text),
            };
            if up { ups.push(f) } else { downs.push(f) }
        }
        if ups.is_empty() {
            return Err(format!("migration {version:04}_{name} has no .up.sql file"));
        }
        let script = |files: Vec<SqlFile>| Script::Sql(Box::leak(files.into_boxed_slice()));
        out.push(Migration {
            version,
            name: leak(name),
            up: script(ups),
            down: (!downs.is_empty()).then(|| script(downs)),
        });
    }
    Ok(Box::leak(out.into_boxed_slice()))
}

/// Writes `NNNN_name.up.sql` and `.down.sql` in `dir` (made if missing),
/// `NNNN` one above the folder's highest version.
pub(crate) fn new_files(dir: &Path, name: &str) -> Result<Vec<PathBuf>, String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("{name}: a migration name is letters, digits and _"));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let next = load(dir)?.iter().map(|m| m.version).max().unwrap_or(0) + 1;
    let mut written = Vec::new();
    for (direction, body) in [("up", "-- The change.\n"), ("down", "-- What undoes it.\n")] {
        let path = dir.join(format!("{next:04}_{name}.{direction}.sql"));
        std::fs::write(&path, body).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folder read here and by `migrate!` at compile time: the same
    /// versions, names, files, backends and texts.
    #[test]
    fn the_folder_reads_as_the_macro_reads_it() {
        static EMBEDDED: dualdb::migrate::Migrator = dualdb::migrate!("../examples/migrations");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/migrations");
        let loaded = load(&dir).unwrap();
        type File = (String, Option<BackendKind>, String);
        let shape = |ms: &[Migration]| -> Vec<(i64, String, Vec<File>)> {
            let files = |s: &Option<Script>| match s {
                Some(Script::Sql(f)) => {
                    let mut v: Vec<_> = f
                        .iter()
                        .map(|f| (f.file.to_owned(), f.backend, f.sql.to_owned()))
                        .collect();
                    v.sort_by(|a, b| a.0.cmp(&b.0));
                    v
                }
                _ => Vec::new(),
            };
            ms.iter()
                .map(|m| {
                    let mut all = files(&Some(m.up));
                    all.extend(files(&m.down));
                    (m.version, m.name.to_owned(), all)
                })
                .collect()
        };
        let (ours, theirs) = (shape(loaded), shape(EMBEDDED.migrations()));
        assert_eq!(ours, theirs);
        assert_eq!(ours.len(), 2);
    }

    #[test]
    fn misnamed_files_gaps_and_duplicates_are_refused() {
        let dir = std::env::temp_dir().join(format!("dualdb-cli-folder-{}", std::process::id()));
        for (files, says) in [
            (&["0001_a.up.sql", "0003_c.up.sql"][..], "gap"),
            (&["0001_a.up.sql", "0001_b.up.sql"][..], "duplicate version"),
            (&["0001_a.oracle.up.sql"][..], "is named"),
            (&["0001_a.down.sql"][..], "no .up.sql"),
        ] {
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            for f in files {
                std::fs::write(dir.join(f), "SELECT 1;").unwrap();
            }
            let e = load(&dir).unwrap_err();
            assert!(e.contains(says), "{files:?}: {e}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
