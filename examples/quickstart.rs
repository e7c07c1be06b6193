//! The peewee-async quickstart, in dualdb: create the table and a row the
//! blocking way, forbid blocking calls, create and select asynchronously,
//! clean up inside the `allow_sync` guard.
//!
//! Runs on an in-memory SQLite database with no server:
//!
//!     cargo run --example quickstart
//!
//! or on PostgreSQL / MySQL:
//!
//!     DATABASE_URL=postgres://user:pass@127.0.0.1/db cargo run --example quickstart

use dualdb::{Database, ErrorKind, Model, SyncCheck};

#[derive(Model, Debug)]
#[model(table = "testmodel")]
struct TestModel {
    #[model(primary_key, auto)]
    id: i64,
    #[model(max_length = 255)]
    text: String,
}

fn new(text: &str) -> TestModel {
    TestModel {
        id: 0,
        text: text.into(),
    }
}

#[tokio::main]
async fn main() -> dualdb::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let database = Database::open(&url)?;

    // Look, sync code is working!
    database.sync().create_table::<TestModel>()?;
    database.sync().create(new("Yo, I can do it sync!"))?;
    database.sync().close()?;

    // No need for sync anymore!
    database.set_allow_sync(SyncCheck::Error);

    // The async half: the same names, with .await.
    let objects = database.aio();
    objects
        .create(new("Not bad. Watch this, I'm async!"))
        .await?;
    let all_objects = objects
        .execute_query(TestModel::select().order_by(TestModel::ID.asc()))
        .await?;
    for obj in &all_objects {
        println!("{}", obj.text);
    }

    // A blocking call now is refused before any I/O, naming its call site:
    // what `allow_sync` is for, when a codebase moves to async.
    let refused = database
        .sync()
        .count(TestModel::select(), false)
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::SyncNotAllowed);
    println!("A blocking call, refused: {refused}");

    // Clean up, can do it sync again:
    {
        let _allowed = database.allow_sync();
        database.sync().drop_table::<TestModel>()?;
    }
    Ok(())
}
// Expected output:
// Yo, I can do it sync!
// Not bad. Watch this, I'm async!
// A blocking call, refused: blocking call not allowed: blocking call `count` at examples/quickstart.rs:60:10 refused: allow_sync is Error
