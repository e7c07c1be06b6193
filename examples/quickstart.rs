//! The peewee-async quickstart, in dualdb: create a table the blocking way,
//! forbid blocking calls, work asynchronously, clean up inside `allow_sync`.
//!
//! Runs on an in-memory SQLite database with no server:
//!
//!     cargo run --example quickstart
//!
//! or on PostgreSQL / MySQL:
//!
//!     DATABASE_URL=postgres://user:pass@127.0.0.1/db cargo run --example quickstart

use dualdb::{BackendKind, Database, SyncCheck};

#[tokio::main]
async fn main() -> dualdb::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let db = Database::open(&url)?;
    let (pk, p1) = match db.backend() {
        BackendKind::Postgres => ("id BIGSERIAL PRIMARY KEY", "$1"),
        BackendKind::Mysql => ("id BIGINT AUTO_INCREMENT PRIMARY KEY", "?"),
        _ => ("id INTEGER PRIMARY KEY AUTOINCREMENT", "?"),
    };

    // Look, sync code is working!
    db.sync().execute(
        &format!("CREATE TABLE IF NOT EXISTS testmodel ({pk}, text VARCHAR(255) NOT NULL)"),
        &[],
    )?;
    db.sync().execute(
        &format!("INSERT INTO testmodel (text) VALUES ({p1})"),
        &[&"Yo, I can do it sync!"],
    )?;

    // No need for sync anymore!
    db.set_allow_sync(SyncCheck::Error);

    db.aio()
        .execute(
            &format!("INSERT INTO testmodel (text) VALUES ({p1})"),
            &[&"Not bad. Watch this, I'm async!"],
        )
        .await?;
    for row in db
        .aio()
        .query("SELECT text FROM testmodel ORDER BY id", &[])
        .await?
    {
        println!("{}", row.get::<String>("text")?);
    }

    // A blocking call now is refused, with the call site in the error.
    let refused = db.sync().query("SELECT 1", &[]).unwrap_err();
    assert_eq!(refused.kind(), dualdb::ErrorKind::SyncNotAllowed);

    // Clean up, can do it sync again:
    {
        let _allowed = db.allow_sync();
        db.sync().execute("DROP TABLE testmodel", &[])?;
    }
    Ok(())
}
// Expected output:
// Yo, I can do it sync!
// Not bad. Watch this, I'm async!
