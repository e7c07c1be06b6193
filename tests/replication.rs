//! PostgreSQL streaming replication (a primary and a hot standby that
//! `ci/test` starts from the Debian binaries): reads outside transactions go
//! to the standby, everything else (locking reads among them) to the
//! primary, `on_primary` pins a task
//! or thread to the primary; then a multi-host URL with
//! `target_session_attrs=read-write` fails over when the primary stops and
//! the standby is promoted, losing no acknowledged write.
//!
//! One test: the failover ends the pair, so the routing checks run first.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::HALVES;
use dualdb::{Database, ErrorKind, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "replicated_docs")]
struct Doc {
    #[model(primary_key, auto)]
    id: i64,
    title: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_routing_then_failover() {
    let (Some(primary), Some(standby)) = (
        common::server_url("DUALDB_PG_PRIMARY_URL"),
        common::server_url("DUALDB_PG_STANDBY_URL"),
    ) else {
        return;
    };
    routing(&primary, &standby).await;
    failover(&primary, &standby).await;
}

/// Polls until `f` returns true, for at most ten seconds.
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("never true: {what}");
}

async fn routing(primary: &str, standby: &str) {
    let db = Database::builder(primary).replica(standby).build().unwrap();
    let direct_standby = Database::open(standby).unwrap();
    db.aio().drop_table::<Doc>().await.unwrap();
    db.aio().create_table::<Doc>().await.unwrap();
    eventually("the table reaches the standby", async || {
        direct_standby.aio().table_exists::<Doc>().await.unwrap()
    })
    .await;
    // The standby refuses writes: whatever the routed database wrote went to the primary.
    let err = direct_standby
        .aio()
        .create(Doc {
            id: 0,
            title: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("25006"), "{err}"); // read_only_sql_transaction

    // Pause replay on the standby: from now on it lags the primary.
    direct_standby
        .aio()
        .query("SELECT pg_wal_replay_pause()", &[])
        .await
        .unwrap();
    eventually("replay is paused", async || {
        let state: String = direct_standby
            .aio()
            .query_one("SELECT pg_get_wal_replay_pause_state()", &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        state == "paused"
    })
    .await;
    for half in HALVES {
        let doc = call!(
            half,
            db,
            create(Doc {
                id: 0,
                title: format!("{half:?}")
            })
        )
        .unwrap();
        // Reads outside transactions go to the (lagging) standby...
        let err = call!(half, db, get(Doc::by_id(doc.id))).unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::NotFound,
            "{half:?}: read went to the primary"
        );
        assert!(
            call!(half, db, get_or_none(Doc::TITLE.eq(doc.title.clone())))
                .unwrap()
                .is_none()
        );
        assert!(!call!(half, db, exists(Doc::by_id(doc.id))).unwrap());
        // ...locking reads go to the primary (the standby could not lock)...
        let locked = call!(half, db, get(Doc::by_id(doc.id).for_update())).unwrap();
        assert_eq!(locked, doc, "{half:?}: a locking read went to the standby");
        let shared = Doc::by_id(doc.id).for_share().skip_locked();
        assert!(call!(half, db, exists(shared.clone())).unwrap());
        let title: String = call!(half, db, scalar(shared.fields([Doc::TITLE.field()]))).unwrap();
        assert_eq!(title, doc.title);
        // ...raw SQL goes to the primary...
        let rows = half
            .query(
                &db,
                "SELECT id FROM replicated_docs WHERE id = $1",
                &[&doc.id],
            )
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        // ...and so do reads inside transactions and in `on_primary`.
        match half {
            common::Half::Sync => {
                let found = db.sync().atomic(|tx| tx.get(Doc::by_id(doc.id))).unwrap();
                assert_eq!(found, doc);
                let found = db
                    .sync()
                    .atomic(|_| db.sync().get(Doc::by_id(doc.id)))
                    .unwrap();
                assert_eq!(found, doc);
                let found = db
                    .sync()
                    .on_primary(|| db.sync().get(Doc::by_id(doc.id)))
                    .unwrap();
                assert_eq!(found, doc);
            }
            common::Half::Async => {
                let found = db
                    .aio()
                    .atomic(async |_| db.aio().get(Doc::by_id(doc.id)).await)
                    .await
                    .unwrap();
                assert_eq!(found, doc);
                let found = db
                    .aio()
                    .on_primary(async { db.aio().get(Doc::by_id(doc.id)).await })
                    .await
                    .unwrap();
                assert_eq!(found, doc);
                // A task spawned inside `on_primary` is not pinned.
                let spawned = db
                    .aio()
                    .on_primary(async {
                        let db = db.clone();
                        tokio::spawn(async move { db.aio().get_or_none(Doc::by_id(doc.id)).await })
                            .await
                            .unwrap()
                    })
                    .await
                    .unwrap();
                assert!(spawned.is_none());
            }
        }
    }
    assert_eq!(db.aio().count(Doc::select(), false).await.unwrap(), 0);
    assert!(
        db.replica().unwrap().aio().status().size > 0,
        "the replica pool was used"
    );

    // Resume replay: the standby catches up and the routed reads see the rows.
    direct_standby
        .aio()
        .query("SELECT pg_wal_replay_resume()", &[])
        .await
        .unwrap();
    eventually("the standby catches up", async || {
        db.aio().count(Doc::select(), false).await.unwrap() == 2
    })
    .await;
    assert_eq!(db.sync().count(Doc::select(), false).unwrap(), 2);
}

/// `host:port` of a URL.
fn authority(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}:{}", u.host_str().unwrap(), u.port().unwrap())
}

async fn run_script(var: &str) {
    let script = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set"));
    let status = tokio::process::Command::new(script).status().await.unwrap();
    assert!(status.success(), "{var} failed");
}

async fn failover(primary: &str, standby: &str) {
    let url = format!(
        "postgres://dualdb:dualdb-pg-secret@{},{}/dualdb?target_session_attrs=read-write",
        authority(primary),
        authority(standby)
    );
    let db = Database::builder(&url)
        .connect_timeout(Duration::from_secs(2))
        .acquire_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    db.aio()
        .execute("CREATE TABLE failover_ids (id BIGINT PRIMARY KEY)", &[])
        .await
        .unwrap();

    let load = common::WriteLoad::start(&db, "INSERT INTO failover_ids (id) VALUES ($1)", 8, false);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = load.acked_count();
    assert!(before > 0, "no write succeeded before the failover");

    run_script("DUALDB_PG_STOP_PRIMARY").await;
    run_script("DUALDB_PG_PROMOTE_STANDBY").await;
    let promoted = Instant::now();
    let at_promotion = load.acked_count();
    eventually("writes succeed on the promoted standby", async || {
        load.acked_count() > at_promotion + 50
    })
    .await;
    let recovered_in = promoted.elapsed();
    let (acked, errors) = load.stop().await;

    // Every acknowledged write is on the new primary, on both halves' view.
    let stored: HashSet<i64> = db
        .aio()
        .query("SELECT id FROM failover_ids", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0).unwrap())
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged writes lost", lost.len());
    assert!(
        errors.iter().all(|k| matches!(
            k,
            ErrorKind::Query | ErrorKind::Connect | ErrorKind::PoolTimeout
        )),
        "{errors:?}"
    );
    db.sync()
        .execute("INSERT INTO failover_ids (id) VALUES ($1)", &[&-1i64])
        .unwrap();
    eprintln!(
        "failover: {} writes before, {} after, {} typed errors, writes back {:?} after the promotion",
        before,
        acked.len(),
        errors.len(),
        recovered_in
    );
}
