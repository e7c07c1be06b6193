//! The `dualdb` tool run as a deploy script runs it, on every backend: `new`
//! writes the files, `run` applies with a line per migration, `status`
//! lists, `revert` undoes the newest; and the exit codes: 0 done, 1 a
//! migration refused or failed (the file and line on stderr), 2 bad
//! arguments, 3 no database to reach.

use std::path::Path;
use std::process::{Command, Output};

/// A SQLite file always; the servers of ci/test when their URLs are set
/// (under `CI=true` they must be).
fn urls() -> Vec<String> {
    let file = std::env::temp_dir().join("dualdb-cli-base.sqlite");
    let mut out = vec![format!("sqlite://{}", file.display())];
    for var in ["DUALDB_PG_URL", "DUALDB_MYSQL_URL"] {
        match std::env::var(var) {
            Ok(u) if !u.is_empty() => out.push(u),
            _ if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") => {
                panic!("{var} is not set but CI=true: run the tests through ci/test")
            }
            _ => eprintln!("{var} not set: skipping that backend"),
        }
    }
    out
}

fn dualdb(url: &str, dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dualdb"))
        .arg("migrate")
        .args(args)
        .arg("--source")
        .arg(dir)
        .env("DATABASE_URL", url)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_deploy_script_creates_runs_lists_and_reverts_migrations() {
    for (i, base) in urls().into_iter().enumerate() {
        // A schema, database or file of its own, dropped at the end.
        let fresh = dualdb::testing::TestDb::fresh(&base).unwrap();
        let url = fresh.url().to_owned();
        let dir = std::env::temp_dir().join(format!("dualdb-cli-m{i}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let run = |args: &[&str]| dualdb(&url, &dir, args);
        let o = run(&["new", "create_gadget"]);
        assert!(o.status.success(), "{}", text(&o));
        assert!(
            text(&o).contains("0001_create_gadget.up.sql"),
            "{}",
            text(&o)
        );
        let table = format!("cli_gadget_{}", std::process::id());
        std::fs::write(
            dir.join("0001_create_gadget.up.sql"),
            format!("CREATE TABLE {table} (id INTEGER);\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("0001_create_gadget.down.sql"),
            format!("DROP TABLE {table};\n"),
        )
        .unwrap();
        let o = run(&["new", "fill_gadget"]);
        assert!(o.status.success(), "{}", text(&o));
        std::fs::write(
            dir.join("0002_fill_gadget.up.sql"),
            format!("INSERT INTO {table} VALUES (1);\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("0002_fill_gadget.down.sql"),
            format!("DELETE FROM {table};\n"),
        )
        .unwrap();

        let o = run(&["status"]);
        assert!(
            o.status.success() && text(&o).contains("0002_fill_gadget  pending"),
            "{}",
            text(&o)
        );
        let o = run(&["run", "--dry-run"]);
        assert!(
            o.status.success() && text(&o).contains(&format!("INSERT INTO {table}")),
            "{}",
            text(&o)
        );
        let o = run(&["run"]);
        let out = text(&o);
        assert!(o.status.success(), "{out}");
        assert!(
            out.contains("applying 0001_create_gadget ... ok")
                && out.contains("applying 0002_fill_gadget ... ok"),
            "{out}"
        );
        let o = run(&["run"]);
        assert!(
            o.status.success() && text(&o).contains("nothing to apply"),
            "{}",
            text(&o)
        );
        let o = run(&["status"]);
        assert!(
            text(&o).contains("0001_create_gadget  applied"),
            "{}",
            text(&o)
        );

        // A failing migration: exit 1, its file and line named.
        std::fs::write(
            dir.join("0003_broken.up.sql"),
            "\n\nINSERT INTO cli_missing_table VALUES (1);\n",
        )
        .unwrap();
        let o = run(&["run"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o));
        assert!(
            text(&o).contains("0003_broken.up.sql, line 3"),
            "{}",
            text(&o)
        );
        // MySQL commits as it goes: the record is dirty until resolved
        // (elsewhere the transaction left nothing to resolve).
        let o = run(&["resolve", "3", "pending"]);
        match url.starts_with("mysql") {
            true => assert!(o.status.success(), "{}", text(&o)),
            false => assert_eq!(o.status.code(), Some(1), "{}", text(&o)),
        }
        std::fs::remove_file(dir.join("0003_broken.up.sql")).unwrap();

        // Revert the newest, then all.
        let o = run(&["revert"]);
        assert!(
            o.status.success() && text(&o).contains("reverted 0002_fill_gadget"),
            "{}",
            text(&o)
        );
        assert!(!text(&o).contains("0001"), "{}", text(&o));
        let o = run(&["revert", "--to", "0"]);
        assert!(
            o.status.success() && text(&o).contains("reverted 0001_create_gadget"),
            "{}",
            text(&o)
        );
        let o = run(&["status"]);
        assert!(
            text(&o).contains("0001_create_gadget  pending"),
            "{}",
            text(&o)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn exit_codes_say_what_went_wrong() {
    let dir = std::env::temp_dir().join(format!("dualdb-cli-codes-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("0001_a.up.sql"), "SELECT 1;").unwrap();
    let code = |url: &str, args: &[&str]| dualdb(url, &dir, args).status.code();
    assert_eq!(code("sqlite::memory:", &["frobnicate"]), Some(2));
    assert_eq!(code("sqlite::memory:", &["run", "--to"]), Some(2));
    assert_eq!(code("not a url", &["status"]), Some(2));
    assert_eq!(
        code(
            "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=1",
            &["status"]
        ),
        Some(3)
    );
    let o = dualdb(
        "postgres://nobody:secret@127.0.0.1:1/none?connect_timeout=1",
        &dir,
        &["status"],
    );
    assert!(!text(&o).contains("secret"), "{}", text(&o));
    std::fs::write(dir.join("0003_c.up.sql"), "SELECT 1;").unwrap();
    let o = dualdb("sqlite::memory:", &dir, &["run"]);
    assert_eq!(o.status.code(), Some(2), "a gap: {}", text(&o));
    assert!(text(&o).contains("gap"), "{}", text(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
