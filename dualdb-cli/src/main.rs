//! `dualdb`: migrations from the command line, for deploy scripts.
//!
//! ```text
//! dualdb migrate run      [--source DIR] [--dry-run]
//! dualdb migrate revert   [--source DIR] [--to VERSION]   (default: the newest one)
//! dualdb migrate status   [--source DIR]
//! dualdb migrate resolve  VERSION applied|pending [--source DIR]
//! dualdb migrate new      NAME [--source DIR]
//! ```
//!
//! The database is `--database-url URL`, else `DATABASE_URL`; the folder is
//! `--source DIR`, else `migrations`. The folder is read at run time, with
//! the rules `dualdb::migrate!` applies at compile time (tests/cli.rs checks
//! that both read a folder alike).
//!
//! Exit codes: 0 done (nothing pending is done too); 1 a migration was
//! refused or failed (the database says which, and where); 2 bad arguments
//! or a bad folder (nothing was sent); 3 the database could not be reached;
//! 4 any other error.

mod folder;

use std::path::PathBuf;
use std::process::ExitCode;

use dualdb::migrate::{MigrationState, Migrator, Resolution};
use dualdb::{Database, ErrorKind};

const USAGE: &str = "usage: dualdb migrate run|revert|status|resolve|new [args] \
[--source DIR] [--database-url URL]
  run [--dry-run]             apply the pending migrations, one at a time
  revert [--to VERSION]       revert the newest migration, or those above VERSION
  status                      list the migrations and their state
  resolve VERSION applied|pending
                              settle a migration left dirty (MySQL/MariaDB)
  new NAME                    write NNNN_NAME.up.sql and .down.sql, the next version";

/// Why the tool stopped, as its exit code says.
enum Failure {
    /// Bad arguments or folder: nothing was sent.
    Usage(String),
    /// A dualdb error, its kind choosing the code.
    Db(dualdb::Error),
}

impl From<dualdb::Error> for Failure {
    fn from(e: dualdb::Error) -> Self {
        Failure::Db(e)
    }
}

struct Args {
    command: String,
    rest: Vec<String>,
    source: PathBuf,
    url: Option<String>,
    dry_run: bool,
    to: Option<i64>,
}

fn parse(args: impl Iterator<Item = String>) -> Result<Args, Failure> {
    let mut args = args.peekable();
    if args.next().as_deref() != Some("migrate") {
        return Err(Failure::Usage(USAGE.into()));
    }
    let command = args.next().ok_or_else(|| Failure::Usage(USAGE.into()))?;
    let mut out = Args {
        command,
        rest: Vec::new(),
        source: PathBuf::from("migrations"),
        url: None,
        dry_run: false,
        to: None,
    };
    while let Some(a) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| Failure::Usage(format!("{flag} needs a value")))
        };
        match a.as_str() {
            "--source" => out.source = value("--source")?.into(),
            "--database-url" => out.url = Some(value("--database-url")?),
            "--dry-run" => out.dry_run = true,
            "--to" => {
                let v = value("--to")?;
                out.to = Some(
                    v.parse()
                        .map_err(|_| Failure::Usage(format!("--to {v}: not a version")))?,
                );
            }
            "-h" | "--help" => return Err(Failure::Usage(USAGE.into())),
            flag if flag.starts_with("--") => {
                return Err(Failure::Usage(format!("unknown flag {flag}\n{USAGE}")));
            }
            _ => out.rest.push(a),
        }
    }
    Ok(out)
}

fn database(args: &Args) -> Result<Database, Failure> {
    let url = match &args.url {
        Some(u) => u.clone(),
        None => std::env::var("DATABASE_URL").map_err(|_| {
            Failure::Usage("no database: set DATABASE_URL or pass --database-url".into())
        })?,
    };
    Ok(Database::open(&url)?)
}

fn label(version: i64, name: &str) -> String {
    format!("{version:04}_{name}")
}

fn run(args: Args) -> Result<(), Failure> {
    match args.command.as_str() {
        "new" => {
            let [name] = &args.rest[..] else {
                return Err(Failure::Usage("migrate new NAME".into()));
            };
            for file in folder::new_files(&args.source, name).map_err(Failure::Usage)? {
                println!("wrote {}", file.display());
            }
            Ok(())
        }
        "run" => {
            let all = folder::load(&args.source).map_err(Failure::Usage)?;
            let db = database(&args)?;
            let s = db.sync();
            if args.dry_run {
                print!("{}", s.migrate_dry_run(&Migrator::new(all))?);
                return Ok(());
            }
            // What the whole folder would refuse (a changed file, a dirty
            // record, a version out of order), refused before anything runs.
            s.migrate_dry_run(&Migrator::new(all))?;
            let pending: Vec<_> = s
                .migrate_status(&Migrator::new(all))?
                .into_iter()
                .filter(|m| m.state == MigrationState::Pending)
                .collect();
            if pending.is_empty() {
                println!("nothing to apply");
            }
            // One at a time, through the migrations up to each: a line
            // before and after each, as it happens.
            for m in pending {
                let upto = all
                    .iter()
                    .position(|x| x.version == m.version)
                    .map_or(0, |i| i + 1);
                print!("applying {} ... ", label(m.version, &m.name));
                let _ = std::io::Write::flush(&mut std::io::stdout());
                let started = std::time::Instant::now();
                match s.migrate(&Migrator::new(&all[..upto])) {
                    Ok(_) => println!("ok ({} ms)", started.elapsed().as_millis()),
                    Err(e) => {
                        println!("failed");
                        return Err(e.into());
                    }
                }
            }
            Ok(())
        }
        "revert" => {
            let all = folder::load(&args.source).map_err(Failure::Usage)?;
            let db = database(&args)?;
            let m = Migrator::new(all);
            let applied: Vec<i64> = (db.sync().migrate_status(&m)?.into_iter())
                .filter(|s| matches!(s.state, MigrationState::Applied { .. }))
                .map(|s| s.version)
                .collect();
            let to = match (args.to, applied.len()) {
                (Some(to), _) => to,
                (None, 0) => {
                    println!("nothing to revert");
                    return Ok(());
                }
                (None, n) => applied.get(n.wrapping_sub(2)).copied().unwrap_or(0),
            };
            for r in db.sync().migrate_revert_to(&m, to)? {
                println!(
                    "reverted {} ({} ms)",
                    label(r.version, &r.name),
                    r.duration.as_millis()
                );
            }
            Ok(())
        }
        "status" => {
            let all = folder::load(&args.source).map_err(Failure::Usage)?;
            let db = database(&args)?;
            for m in db.sync().migrate_status(&Migrator::new(all))? {
                let state = match &m.state {
                    MigrationState::Pending => "pending".to_owned(),
                    MigrationState::Applied {
                        applied_at,
                        duration_ms,
                        changed,
                    } => format!(
                        "applied {applied_at} UTC in {duration_ms} ms{}",
                        if *changed {
                            ", its file changed since"
                        } else {
                            ""
                        }
                    ),
                    MigrationState::Dirty => {
                        "DIRTY: failed part-way; see `migrate resolve`".to_owned()
                    }
                    MigrationState::Missing => "applied, but not in the folder".to_owned(),
                    _ => "unknown".to_owned(),
                };
                println!("{}  {state}", label(m.version, &m.name));
            }
            Ok(())
        }
        "resolve" => {
            let [version, how] = &args.rest[..] else {
                return Err(Failure::Usage(
                    "migrate resolve VERSION applied|pending".into(),
                ));
            };
            let version: i64 = version
                .parse()
                .map_err(|_| Failure::Usage(format!("{version}: not a version")))?;
            let how = match how.as_str() {
                "applied" => Resolution::Applied,
                "pending" => Resolution::Pending,
                other => return Err(Failure::Usage(format!("{other}: say applied or pending"))),
            };
            let all = folder::load(&args.source).map_err(Failure::Usage)?;
            database(&args)?
                .sync()
                .migrate_resolve(&Migrator::new(all), version, how)?;
            println!("resolved {version}");
            Ok(())
        }
        other => Err(Failure::Usage(format!("unknown command {other}\n{USAGE}"))),
    }
}

fn main() -> ExitCode {
    match parse(std::env::args().skip(1)).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(why)) => {
            eprintln!("{why}");
            ExitCode::from(2)
        }
        Err(Failure::Db(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(match e.kind() {
                ErrorKind::Migration
                | ErrorKind::Query
                | ErrorKind::UniqueViolation
                | ErrorKind::IntegrityViolation => 1,
                ErrorKind::Config | ErrorKind::Usage => 2,
                ErrorKind::Connect | ErrorKind::PoolTimeout => 3,
                _ => 4,
            })
        }
    }
}
