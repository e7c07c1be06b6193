//! A setup script: the schema migrated and the seed data written the
//! blocking way (the migrations in examples/migrations, embedded at compile
//! time), before an async server starts and serves from the same `Database`
//! value; after that, blocking calls are refused. At the end the async half
//! reverts the migrations, so the example runs again on a server.
//!
//!     cargo run --example setup_script                      # SQLite
//!     DATABASE_URL=postgres://… cargo run --example setup_script

use dualdb::migrate::Migrator;
use dualdb::{Database, Model, SyncCheck};

/// One file per backend where the SQL differs (the generated keys), one
/// for all where it does not (the `DROP TABLE`s).
static MIGRATOR: Migrator = dualdb::migrate!("examples/migrations");

#[derive(Model, Debug, Clone)]
#[model(table = "setup_team")]
struct Team {
    #[model(primary_key, auto)]
    id: i64,
    #[model(unique, max_length = 50)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "setup_player")]
struct Player {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Team)]
    team: i64,
    #[model(max_length = 50)]
    name: String,
}

/// The setup: plain blocking code, no runtime needed.
fn setup(db: &Database) -> dualdb::Result<()> {
    let s = db.sync();
    for m in s.migrate(&MIGRATOR)? {
        println!("applied {:04}_{} in {:?}", m.version, m.name, m.duration);
    }
    s.atomic(|tx| {
        for (team, players) in [("red", ["ann", "bo"]), ("blue", ["cy", "di"])] {
            let team = tx.create(Team {
                id: 0,
                name: team.into(),
            })?;
            for p in players {
                tx.create(Player {
                    id: 0,
                    team: team.id,
                    name: p.into(),
                })?;
            }
        }
        Ok(())
    })
}

/// The server: async handlers on the same database value.
async fn serve(db: Database) -> dualdb::Result<()> {
    let handlers: Vec<_> = ["red", "blue"]
        .into_iter()
        .map(|name| {
            let db = db.clone();
            tokio::spawn(async move {
                let team = db.aio().get(Team::NAME.eq(name)).await?;
                let players = db
                    .aio()
                    .execute_query(
                        Player::select()
                            .filter(Player::TEAM.eq(team.id))
                            .order_by(Player::NAME.asc()),
                    )
                    .await?;
                let names: Vec<_> = players.iter().map(|p| p.name.as_str()).collect();
                println!("{}: {}", team.name, names.join(", "));
                Ok::<_, dualdb::Error>(())
            })
        })
        .collect();
    for h in handlers {
        h.await.expect("handler panicked")?;
    }
    Ok(())
}

fn main() -> dualdb::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let db = Database::open(&url)?;
    setup(&db)?;
    db.sync().close()?;
    // From here on the process is an async server: no blocking calls.
    db.set_allow_sync(SyncCheck::Error);
    let rt = tokio::runtime::Runtime::new().expect("a Tokio runtime");
    rt.block_on(serve(db.clone()))?;
    assert!(
        db.sync().count(Team::select(), false).is_err(),
        "blocking calls are refused"
    );
    rt.block_on(async {
        let reverted = db.aio().migrate_revert_to(&MIGRATOR, 0).await?;
        assert_eq!(reverted.len(), 2);
        Ok(())
    })
}
