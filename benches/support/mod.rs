//! What the benches share: the 3-column table of DESIGN.md's numbers, and
//! the databases to run on.
#![allow(dead_code)]

use dualdb::{Database, Model};

#[derive(Model, Debug)]
#[model(table = "bench_users")]
pub struct BenchUser {
    #[model(primary_key)]
    pub id: i32,
    pub name: String,
    pub hair_color: Option<String>,
}

pub const ROWS: i32 = 1_000;

/// (Re)creates `bench_users` with `ROWS` rows.
pub fn setup(db: &Database) {
    let s = db.sync();
    s.drop_table::<BenchUser>().unwrap();
    s.create_table::<BenchUser>().unwrap();
    let rows: Vec<BenchUser> = (1..=ROWS)
        .map(|id| BenchUser {
            id,
            name: format!("user {id}"),
            hair_color: Some("black".into()),
        })
        .collect();
    s.execute_query(BenchUser::insert_many(rows)).unwrap();
}

/// SQLite (a file in the temp directory) always; PostgreSQL and MariaDB
/// when `DUALDB_PG_URL` / `DUALDB_MYSQL_URL` are set.
pub fn targets() -> Vec<String> {
    let mut out = vec![format!(
        "sqlite://{}",
        std::env::temp_dir().join("dualdb-bench.sqlite").display()
    )];
    out.extend(std::env::var("DUALDB_PG_URL").ok());
    out.extend(std::env::var("DUALDB_MYSQL_URL").ok());
    out
}
