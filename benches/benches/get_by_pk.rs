//! Get one 3-column row by primary key: dualdb's Manager `get`, dualdb's raw
//! `query_one`, and the raw driver with a prepared statement, on both halves
//! of every backend whose URL is set (`DUALDB_PG_URL`, `DUALDB_MYSQL_URL`;
//! SQLite always), in the same run.
//!
//!     ci/test --only pg,mysql --exec cargo bench -p dualdb-benches --bench get_by_pk

use criterion::{Criterion, criterion_group, criterion_main};
use dualdb::{BackendKind, Database, Model};

mod support;

use support::{BenchUser, ROWS, pg_client, setup, targets};

fn bench(c: &mut Criterion) {
    let rt = support::runtime();
    for url in targets() {
        let db = Database::open(&url).unwrap();
        setup(&db);
        let backend = db.backend();
        let mut g = c.benchmark_group(format!("get_by_pk/{backend}"));
        let counter = std::sync::atomic::AtomicI32::new(0);
        let next = || counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % ROWS + 1;
        let dbr = &db;

        g.bench_function("dualdb_async_get", |b| {
            b.to_async(&rt).iter(|| {
                let id = next();
                async move { dbr.aio().get(BenchUser::by_id(id)).await.unwrap() }
            })
        });
        let sql = match backend {
            BackendKind::Postgres => "SELECT id, name, hair_color FROM bench_users WHERE id = $1",
            _ => "SELECT id, name, hair_color FROM bench_users WHERE id = ?",
        };
        g.bench_function("dualdb_async_query_one", |b| {
            b.to_async(&rt).iter(|| {
                let id = next();
                async move { dbr.aio().query_one(sql, &[&id]).await.unwrap() }
            })
        });
        g.bench_function("dualdb_sync_get", |b| {
            b.iter(|| db.sync().get(BenchUser::by_id(next())).unwrap())
        });
        match backend {
            BackendKind::Postgres => {
                let client = pg_client(&rt, &url);
                let stmt = rt.block_on(client.prepare(sql)).unwrap();
                let (client, stmt) = (&client, &stmt);
                g.bench_function("raw_async_prepared", |b| {
                    b.to_async(&rt).iter(|| {
                        let id = next();
                        async move {
                            let row = client.query_one(stmt, &[&id]).await.unwrap();
                            (
                                row.get::<_, i32>(0),
                                row.get::<_, String>(1),
                                row.get::<_, Option<String>>(2),
                            )
                        }
                    })
                });
                let url2 = url.clone();
                let mut sync_client = std::thread::spawn(move || {
                    postgres::Client::connect(&url2, postgres::NoTls).unwrap()
                })
                .join()
                .unwrap();
                let stmt = sync_client.prepare(sql).unwrap();
                g.bench_function("raw_sync_prepared", |b| {
                    b.iter(|| {
                        let row = sync_client.query_one(&stmt, &[&next()]).unwrap();
                        (
                            row.get::<_, i32>(0),
                            row.get::<_, String>(1),
                            row.get::<_, Option<String>>(2),
                        )
                    })
                });
                std::thread::spawn(move || drop(sync_client))
                    .join()
                    .unwrap();
            }
            BackendKind::Mysql => {
                use mysql::prelude::Queryable as _;
                use mysql_async::prelude::Queryable as _;
                let mut conn = rt
                    .block_on(mysql_async::Conn::from_url(url.as_str()))
                    .unwrap();
                g.bench_function("raw_async_prepared", |b| {
                    b.iter(|| {
                        rt.block_on(async {
                            let row: Option<(i32, String, Option<String>)> =
                                conn.exec_first(sql, (next(),)).await.unwrap();
                            row.unwrap()
                        })
                    })
                });
                let mut sync_conn = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
                g.bench_function("raw_sync_prepared", |b| {
                    b.iter(|| {
                        let row: Option<(i32, String, Option<String>)> =
                            sync_conn.exec_first(sql, (next(),)).unwrap();
                        row.unwrap()
                    })
                });
            }
            BackendKind::Sqlite => {
                let path = url.trim_start_matches("sqlite://");
                let conn = rusqlite::Connection::open(path).unwrap();
                g.bench_function("raw_sync_prepared", |b| {
                    b.iter(|| {
                        let mut st = conn.prepare_cached(sql).unwrap();
                        st.query_row([next()], |r| {
                            Ok((
                                r.get::<_, i32>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, Option<String>>(2)?,
                            ))
                        })
                        .unwrap()
                    })
                });
            }
            _ => {}
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
