//! `migrate!("folder")`: a folder of SQL migration files, read at compile
//! time into a `dualdb::migrate::Migrator` whose texts are embedded with
//! `include_str!` (so an edited file rebuilds the crate that embeds it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, LitInt, LitStr, Token};

/// The macro's input: the folder, and the Rust migrations beside it.
pub(crate) struct Input {
    folder: LitStr,
    rust: Vec<RustMigration>,
}

struct RustMigration {
    version: LitInt,
    name: LitStr,
    up: Expr,
    down: Option<Expr>,
}

impl Parse for RustMigration {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let content;
        syn::parenthesized!(content in input);
        let version = content.parse()?;
        content.parse::<Token![,]>()?;
        let name = content.parse()?;
        content.parse::<Token![,]>()?;
        let up = content.parse()?;
        let down = match content.parse::<Option<Token![,]>>()? {
            Some(_) if !content.is_empty() => Some(content.parse()?),
            _ => None,
        };
        Ok(RustMigration {
            version,
            name,
            up,
            down,
        })
    }
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let folder = input.parse()?;
        let mut rust = Vec::new();
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let key: syn::Ident = input.parse()?;
            if key != "rust" {
                return Err(syn::Error::new(
                    key.span(),
                    "expected `rust = [(version, \"name\", up[, down]), …]`",
                ));
            }
            input.parse::<Token![=]>()?;
            let list;
            syn::bracketed!(list in input);
            rust = Punctuated::<RustMigration, Token![,]>::parse_terminated(&list)?
                .into_iter()
                .collect();
            input.parse::<Option<Token![,]>>()?;
        }
        Ok(Input { folder, rust })
    }
}

/// One `.sql` file: `NNNN_name[.backend].(up|down).sql`.
#[derive(Debug)]
struct File {
    version: i64,
    name: String,
    backend: Option<&'static str>,
    up: bool,
    path: PathBuf,
    file: String,
}

fn parse_name(file: &str) -> Option<(i64, String, Option<&'static str>, bool)> {
    let stem = file.strip_suffix(".sql")?;
    let (stem, up) = match (stem.strip_suffix(".up"), stem.strip_suffix(".down")) {
        (Some(s), _) => (s, true),
        (_, Some(s)) => (s, false),
        _ => return None,
    };
    let (stem, backend) = match stem.rsplit_once('.') {
        Some((s, "postgres")) => (s, Some("Postgres")),
        Some((s, "mysql")) => (s, Some("Mysql")),
        Some((s, "sqlite")) => (s, Some("Sqlite")),
        Some(_) => return None,
        None => (stem, None),
    };
    let (digits, name) = stem.split_once('_')?;
    let ok = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let named = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (ok && named)
        .then(|| (digits.parse().ok(), name.to_owned()))
        .and_then(|(v, n)| Some((v?, n, backend, up)))
}

/// The files by version: each version one name, each (backend, direction)
/// one file.
fn group(files: Vec<File>) -> Result<BTreeMap<i64, (String, Vec<File>)>, String> {
    let mut versions: BTreeMap<i64, (String, Vec<File>)> = BTreeMap::new();
    for f in files {
        let entry = versions
            .entry(f.version)
            .or_insert_with(|| (f.name.clone(), Vec::new()));
        if entry.0 != f.name {
            return Err(format!(
                "duplicate version {}: {:04}_{} and {:04}_{}",
                f.version, f.version, entry.0, f.version, f.name
            ));
        }
        if entry
            .1
            .iter()
            .any(|g| g.backend == f.backend && g.up == f.up)
        {
            return Err(format!(
                "duplicate file for version {}: {}",
                f.version, f.file
            ));
        }
        entry.1.push(f);
    }
    Ok(versions)
}

/// Versions (sorted, distinct) from 1 up, without a gap.
fn check_sequence(all: &[i64]) -> Result<(), String> {
    if let Some(w) = all.windows(2).find(|w| w[1] != w[0] + 1) {
        return Err(format!(
            "a gap in the migration versions: {} then {}",
            w[0], w[1]
        ));
    }
    match all.first() {
        Some(v) if *v < 1 => Err("migration versions start at 1 or above".into()),
        _ => Ok(()),
    }
}

pub(crate) fn expand(input: Input) -> syn::Result<TokenStream2> {
    let span = input.folder.span();
    let err = |m: String| syn::Error::new(span, m);
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| err("CARGO_MANIFEST_DIR is not set".into()))?;
    let dir = PathBuf::from(root).join(input.folder.value());
    let entries = std::fs::read_dir(&dir).map_err(|e| {
        err(format!(
            "cannot read the migrations folder {}: {e}",
            dir.display()
        ))
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| err(format!("{}: {e}", dir.display())))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        if !file.ends_with(".sql") {
            continue;
        }
        let Some((version, name, backend, up)) = parse_name(&file) else {
            return Err(err(format!(
                "{file}: a migration file is named NNNN_name.up.sql or NNNN_name.down.sql, \
                 with .postgres, .mysql or .sqlite before .up/.down for one backend"
            )));
        };
        files.push(File {
            version,
            name,
            backend,
            up,
            path: entry.path(),
            file,
        });
    }
    // In name order: the same errors on every file system.
    files.sort_by(|a, b| a.file.cmp(&b.file));
    let versions = group(files).map_err(err)?;
    let mut rust: BTreeMap<i64, &RustMigration> = BTreeMap::new();
    for r in &input.rust {
        let v: i64 = r.version.base10_parse()?;
        if versions.contains_key(&v) || rust.insert(v, r).is_some() {
            return Err(syn::Error::new(
                r.version.span(),
                format!("duplicate version {v}"),
            ));
        }
    }
    let all: Vec<i64> = versions
        .keys()
        .chain(rust.keys())
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if all.is_empty() {
        return Err(err(format!("no migrations in {}", dir.display())));
    }
    check_sequence(&all).map_err(err)?;
    let krate = quote!(::dualdb);
    let sql_files = |files: &[&File]| {
        let items = files.iter().map(|f| {
            let path = f.path.to_string_lossy().into_owned();
            let file = &f.file;
            let backend = match f.backend {
                Some(b) => {
                    let b = syn::Ident::new(b, Span::call_site());
                    quote!(::core::option::Option::Some(#krate::BackendKind::#b))
                }
                None => quote!(::core::option::Option::None),
            };
            quote!(#krate::migrate::SqlFile { file: #file, backend: #backend, sql: ::core::include_str!(#path) })
        });
        quote!(&[#(#items),*])
    };
    let mut out = Vec::new();
    for v in &all {
        if let Some((name, files)) = versions.get(v) {
            let ups: Vec<&File> = files.iter().filter(|f| f.up).collect();
            let downs: Vec<&File> = files.iter().filter(|f| !f.up).collect();
            if ups.is_empty() {
                return Err(err(format!("migration {v:04}_{name} has no .up.sql file")));
            }
            let up = sql_files(&ups);
            let down = match downs.is_empty() {
                true => quote!(::core::option::Option::None),
                false => {
                    let d = sql_files(&downs);
                    quote!(::core::option::Option::Some(#krate::migrate::Script::Sql(#d)))
                }
            };
            out.push(quote!(#krate::migrate::Migration {
                version: #v, name: #name, up: #krate::migrate::Script::Sql(#up), down: #down,
            }));
        } else if let Some(r) = rust.get(v) {
            let (name, up) = (&r.name, &r.up);
            let down = match &r.down {
                Some(d) => quote!(::core::option::Option::Some(#krate::migrate::Script::Rust(#d))),
                None => quote!(::core::option::Option::None),
            };
            out.push(quote!(#krate::migrate::Migration {
                version: #v, name: #name, up: #krate::migrate::Script::Rust(#up), down: #down,
            }));
        }
    }
    Ok(quote!(#krate::migrate::Migrator::new(&[#(#out),*])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> File {
        let (version, n, backend, up) = parse_name(name).expect(name);
        File {
            version,
            name: n,
            backend,
            up,
            path: PathBuf::from(name),
            file: name.into(),
        }
    }

    #[test]
    fn file_names_are_read_and_misnamed_ones_refused() {
        assert_eq!(
            parse_name("0001_create_users.up.sql"),
            Some((1, "create_users".into(), None, true))
        );
        assert_eq!(
            parse_name("12_x.postgres.down.sql"),
            Some((12, "x".into(), Some("Postgres"), false))
        );
        for bad in [
            "create.up.sql",
            "0001_x.sql",
            "0001_x.oracle.up.sql",
            "x1_a.up.sql",
            "0001_.up.sql",
            "0001_a-b.up.sql",
        ] {
            assert_eq!(parse_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn duplicates_and_gaps_are_refused() {
        let dup = group(vec![file("0001_a.up.sql"), file("0001_b.up.sql")]).unwrap_err();
        assert!(dup.contains("duplicate version 1"), "{dup}");
        let twice = group(vec![file("0001_a.up.sql"), file("01_a.up.sql")]).unwrap_err();
        assert!(twice.contains("duplicate file"), "{twice}");
        let ok = group(vec![
            file("0001_a.up.sql"),
            file("0001_a.sqlite.up.sql"),
            file("0001_a.down.sql"),
        ])
        .unwrap();
        assert_eq!(ok[&1].1.len(), 3);
        assert!(check_sequence(&[1, 2, 3]).is_ok());
        assert!(check_sequence(&[1, 3]).unwrap_err().contains("gap"));
        assert!(check_sequence(&[0, 1]).unwrap_err().contains("start at 1"));
    }
}
