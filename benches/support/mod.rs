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
    setup_rows(db, ROWS);
}

/// (Re)creates `bench_users` with ids 1..=n, inserted 1,000 to a statement.
pub fn setup_rows(db: &Database, n: i32) {
    let s = db.sync();
    s.drop_table::<BenchUser>().unwrap();
    s.create_table::<BenchUser>().unwrap();
    for start in (1..=n).step_by(1000) {
        let rows: Vec<BenchUser> = (start..=n.min(start + 999))
            .map(|id| BenchUser {
                id,
                name: format!("user {id}"),
                hair_color: Some("black".into()),
            })
            .collect();
        s.execute_query(BenchUser::insert_many(rows)).unwrap();
    }
}

/// A raw tokio-postgres client, its connection driven on `rt`.
pub fn pg_client(rt: &tokio::runtime::Runtime, url: &str) -> tokio_postgres::Client {
    let (client, conn) = rt
        .block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))
        .unwrap();
    rt.spawn(conn);
    client
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
