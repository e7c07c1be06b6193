//! MariaDB Galera, three nodes on loopback (started by `ci/test`): a
//! Database over all three (`mysql://…@h1:p1,h2:p2,h3:p3/db`) spreads its
//! connections over the nodes, and when one node is killed under a write
//! load it carries on with the other two, losing no acknowledged write.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dualdb::{Database, ErrorKind, Model};

/// A model whose key the cluster generates: Galera's
/// `wsrep_auto_increment_control` makes each node's keys a step of the
/// cluster's size apart, from an offset of its own.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "galera_auto")]
struct Auto {
    #[model(primary_key, auto)]
    id: i64,
    tag: String,
    n: i32,
}

/// Rows inserted several at a time, on both halves and on every node the
/// pool reaches, come back with the keys the cluster stored for them.
async fn generated_keys_are_the_stored_ones(db: &Database, tag: &str) {
    let rows = |half: &str, round: i32| -> Vec<Auto> {
        (0..4)
            .map(|n| Auto {
                id: 0,
                tag: format!("{tag}-{half}-{round}"),
                n,
            })
            .collect()
    };
    let mut returned = Vec::new();
    for round in 0..6 {
        let q = Auto::insert_many(rows("async", round));
        returned.extend(db.aio().execute_query(q).await.unwrap());
        let (sync_db, q) = (db.clone(), Auto::insert_many(rows("sync", round)));
        let made = tokio::task::spawn_blocking(move || sync_db.sync().execute_query(q))
            .await
            .unwrap()
            .unwrap();
        returned.extend(made);
    }
    for made in &returned {
        let stored = db.aio().get(Auto::by_id(made.id)).await.unwrap();
        assert_eq!(&stored, made, "{tag}: the key returned is the stored row's");
    }
}

fn cluster() -> Option<Database> {
    let url = common::server_url("DUALDB_GALERA_URL")?;
    Some(
        Database::builder(&url)
            .sync_pool_size(3)
            .async_pool_size(6)
            .connect_timeout(Duration::from_secs(2))
            .acquire_timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    )
}

/// One URL per node, in the cluster URL's order (nodes n1, n2, n3).
fn node_urls() -> Vec<String> {
    let url = std::env::var("DUALDB_GALERA_URL").unwrap();
    let (head, rest) = url.split_once('@').unwrap();
    let (hosts, path) = rest.split_once('/').unwrap();
    hosts
        .split(',')
        .map(|h| format!("{head}@{h}/{path}"))
        .collect()
}

/// How many of `n` connections held at once sit on each node: `n`
/// transactions open at once, each in a task of its own (a second `begin()`
/// in one task would be a savepoint of the first).
async fn spread(db: &Database, n: usize) -> HashMap<String, usize> {
    let all_open = Arc::new(tokio::sync::Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let (db, all_open) = (db.clone(), all_open.clone());
            tokio::spawn(async move {
                let tx = db.aio().begin().await.unwrap();
                let node: String = tx
                    .query_one("SELECT @@wsrep_node_name", &[])
                    .await
                    .unwrap()
                    .get(0)
                    .unwrap();
                all_open.wait().await;
                tx.rollback().await.unwrap();
                node
            })
        })
        .collect();
    let mut nodes = HashMap::new();
    for t in tasks {
        *nodes.entry(t.await.unwrap()).or_insert(0) += 1;
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_spread_over_the_nodes_and_survive_a_killed_node() {
    let Some(db) = cluster() else { return };
    let nodes = spread(&db, 6).await;
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    assert!(nodes.values().all(|&n| n == 2), "{nodes:?}");
    // The blocking half too: three threads, three nodes.
    let names: HashSet<String> = std::thread::scope(|s| {
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(Mutex::new(wait));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let (db, wait) = (db.clone(), wait.clone());
                s.spawn(move || {
                    let tx = db.sync().begin().unwrap();
                    let name: String = tx
                        .query_one("SELECT @@wsrep_node_name", &[])
                        .unwrap()
                        .get(0)
                        .unwrap();
                    let _ = wait.lock().unwrap().recv();
                    tx.rollback().unwrap();
                    name
                })
            })
            .collect();
        while db.sync().status().in_use() < 3 {
            std::thread::sleep(Duration::from_millis(5));
        }
        for _ in 0..3 {
            go.send(()).unwrap();
        }
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(names.len(), 3, "{names:?}");
    db.aio().create_table::<Auto>().await.unwrap();
    generated_keys_are_the_stored_ones(&db, "three nodes").await;

    db.aio()
        .execute(
            "CREATE TABLE galera_ids (id BIGINT PRIMARY KEY, node VARCHAR(8))",
            &[],
        )
        .await
        .unwrap();
    let load = common::WriteLoad::start(
        &db,
        "INSERT INTO galera_ids (id, node) VALUES (?, @@wsrep_node_name)",
        16,
        true,
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let before_kill = load.acked_count();
    assert!(before_kill > 0);
    let kill = std::env::var("DUALDB_GALERA_KILL_NODE").expect("DUALDB_GALERA_KILL_NODE");
    assert!(
        tokio::process::Command::new(kill)
            .arg("3")
            .status()
            .await
            .unwrap()
            .success()
    );
    let killed_at = Instant::now();
    // The cluster drops the dead node (after Galera's suspect timeout) and
    // the load goes on on the two nodes left: wait for 500 more writes.
    let mut resumed_in = None;
    while killed_at.elapsed() < Duration::from_secs(20) {
        if load.acked_count() > before_kill + 500 {
            resumed_in = Some(killed_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (acked, errors) = load.stop().await;
    assert!(
        resumed_in.is_some(),
        "the load stalled after the kill: {} before, {} after",
        before_kill,
        acked.len()
    );
    assert!(
        errors.iter().all(|k| matches!(
            k,
            ErrorKind::Query | ErrorKind::Connect | ErrorKind::PoolTimeout
        )),
        "{errors:?}"
    );

    // Every acknowledged write is on both surviving nodes (read with
    // wsrep_sync_wait, so each node has applied all it certified).
    for url in node_urls().iter().take(2) {
        let node = Database::open(url).unwrap();
        let tx = node.aio().begin().await.unwrap();
        tx.execute("SET SESSION wsrep_sync_wait = 1", &[])
            .await
            .unwrap();
        let stored: HashSet<i64> = tx
            .query("SELECT id FROM galera_ids", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        let lost = acked.difference(&stored).count();
        assert_eq!(lost, 0, "{lost} acknowledged writes missing on {url}");
        tx.execute("SET SESSION wsrep_sync_wait = 0", &[])
            .await
            .unwrap();
        tx.rollback().await.unwrap();
    }
    let per_node: Vec<(String, i64)> = db
        .aio()
        .query(
            "SELECT node, COUNT(*) FROM galera_ids GROUP BY node ORDER BY node",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect();
    eprintln!(
        "galera: {} writes before the kill, {} in all, {} typed errors, rows per node {:?}, 500 more writes {:?} after the kill",
        before_kill,
        acked.len(),
        errors.len(),
        per_node,
        resumed_in.unwrap_or_default()
    );
    assert_eq!(per_node.len(), 3, "every node took writes: {per_node:?}");
    // Two nodes left: the cluster's step between keys changed.
    generated_keys_are_the_stored_ones(&db, "two nodes").await;
}
