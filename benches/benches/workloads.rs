//! diesel_bench's workloads through dualdb's two halves and the raw drivers
//! of each backend, in the same run: the trivial query (N rows of
//! `bench_users` into structs), the insert (N rows in one statement), the
//! medium query (users LEFT JOIN posts filtered by hair colour) and loading
//! associations (100 users x 10 posts x 10 comments).
//!
//!     ci/test --only pg,mysql --exec cargo bench -p dualdb-benches --bench workloads

#[path = "workloads/associations.rs"]
mod associations;
mod support;

use associations::{
    BenchComment, BenchPost, Joined, Loaded, drop_tables, fill, lite, lite_joined, lite_load,
    loading_sql, medium_sql, my_load_async, my_load_sync, pg, pg_joined, pg_sync, split,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use dualdb::{BackendKind, Database, Model};
use support::{
    BenchUser, Inserted, insert_sql, insert_values, new_rows, pg_client, setup_rows, targets,
};
use tokio::runtime::Runtime;

type Raw = (i32, String, Option<String>);

const SELECT: &str = "SELECT id, name, hair_color FROM bench_users";

fn bench(c: &mut Criterion) {
    let rt = support::runtime();
    for url in targets() {
        let db = Database::open(&url).unwrap();
        associations::drop_tables(&db);
        let kind = db.backend();
        let dbr = &db;

        // Trivial query: N rows into structs.
        let mut g = c.benchmark_group(format!("trivial_query/{kind}"));
        for n in [1, 10, 100, 1_000, 10_000] {
            setup_rows(&db, n);
            g.bench_with_input(BenchmarkId::new("dualdb_async", n), &n, |b, _| {
                b.to_async(&rt).iter(|| async move {
                    dbr.aio().execute_query(BenchUser::select()).await.unwrap()
                })
            });
            g.bench_with_input(BenchmarkId::new("dualdb_sync", n), &n, |b, _| {
                b.iter(|| dbr.sync().execute_query(BenchUser::select()).unwrap())
            });
            match kind {
                BackendKind::Postgres => {
                    let client = pg_client(&rt, &url);
                    let st = rt.block_on(client.prepare(SELECT)).unwrap();
                    let (client, st) = (&client, &st);
                    g.bench_with_input(BenchmarkId::new("raw_async", n), &n, |b, _| {
                        b.to_async(&rt).iter(|| async move {
                            let rows = client.query(st, &[]).await.unwrap();
                            rows.iter()
                                .map(|r| (r.get(0), r.get(1), r.get(2)))
                                .collect::<Vec<Raw>>()
                        })
                    });
                    let url2 = url.clone();
                    let mut sync = std::thread::spawn(move || {
                        postgres::Client::connect(&url2, postgres::NoTls).unwrap()
                    })
                    .join()
                    .unwrap();
                    let st = sync.prepare(SELECT).unwrap();
                    g.bench_with_input(BenchmarkId::new("raw_sync", n), &n, |b, _| {
                        b.iter(|| {
                            let rows = sync.query(&st, &[]).unwrap();
                            rows.iter()
                                .map(|r| (r.get(0), r.get(1), r.get(2)))
                                .collect::<Vec<Raw>>()
                        })
                    });
                    std::thread::spawn(move || drop(sync)).join().unwrap();
                }
                BackendKind::Mysql => {
                    use mysql::prelude::Queryable as _;
                    use mysql_async::prelude::Queryable as _;
                    let mut conn = rt
                        .block_on(mysql_async::Conn::from_url(url.as_str()))
                        .unwrap();
                    g.bench_with_input(BenchmarkId::new("raw_async", n), &n, |b, _| {
                        b.iter(|| {
                            rt.block_on(async { conn.exec::<Raw, _, _>(SELECT, ()).await.unwrap() })
                        })
                    });
                    let mut sync = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
                    g.bench_with_input(BenchmarkId::new("raw_sync", n), &n, |b, _| {
                        b.iter(|| sync.exec::<Raw, _, _>(SELECT, ()).unwrap())
                    });
                }
                _ => {
                    let conn =
                        rusqlite::Connection::open(url.trim_start_matches("sqlite://")).unwrap();
                    g.bench_with_input(BenchmarkId::new("raw_sync", n), &n, |b, _| {
                        b.iter(|| {
                            let mut st = conn.prepare_cached(SELECT).unwrap();
                            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                                .unwrap()
                                .collect::<Result<Vec<Raw>, _>>()
                                .unwrap()
                        })
                    });
                }
            }
        }
        g.finish();

        // Insert: N rows in one statement.
        db.sync().drop_table::<Inserted>().unwrap();
        db.sync().create_table::<Inserted>().unwrap();
        let mut g = c.benchmark_group(format!("insert/{kind}"));
        for n in [1usize, 10, 25, 50, 100] {
            // Like the raw drivers' `execute`: the count, no rows read back.
            g.bench_with_input(BenchmarkId::new("dualdb_async", n), &n, |b, &n| {
                b.to_async(&rt).iter(|| async move {
                    let q = Inserted::insert_many(new_rows(n)).without_returning();
                    dbr.aio().execute_query(q).await.unwrap()
                })
            });
            g.bench_with_input(BenchmarkId::new("dualdb_sync", n), &n, |b, &n| {
                b.iter(|| {
                    let q = Inserted::insert_many(new_rows(n)).without_returning();
                    dbr.sync().execute_query(q).unwrap()
                })
            });
            // The default: every stored row back, with its generated key.
            g.bench_with_input(
                BenchmarkId::new("dualdb_async_returning", n),
                &n,
                |b, &n| {
                    b.to_async(&rt).iter(|| async move {
                        let q = Inserted::insert_many(new_rows(n));
                        dbr.aio().execute_query(q).await.unwrap()
                    })
                },
            );
            g.bench_with_input(BenchmarkId::new("dualdb_sync_returning", n), &n, |b, &n| {
                b.iter(|| {
                    let q = Inserted::insert_many(new_rows(n));
                    dbr.sync().execute_query(q).unwrap()
                })
            });
            let sql = insert_sql(kind, n);
            let values = insert_values;
            match kind {
                BackendKind::Postgres => {
                    let client = pg_client(&rt, &url);
                    let st = rt.block_on(client.prepare(&sql)).unwrap();
                    let (client, st) = (&client, &st);
                    g.bench_with_input(BenchmarkId::new("raw_async", n), &n, |b, &n| {
                        b.to_async(&rt).iter(|| async move {
                            let v = values(n);
                            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = v
                                .iter()
                                .flat_map(|(a, b)| {
                                    [a as &(dyn tokio_postgres::types::ToSql + Sync), b]
                                })
                                .collect();
                            client.execute(st, &params).await.unwrap()
                        })
                    });
                    let url2 = url.clone();
                    let mut sync = std::thread::spawn(move || {
                        postgres::Client::connect(&url2, postgres::NoTls).unwrap()
                    })
                    .join()
                    .unwrap();
                    let st = sync.prepare(&sql).unwrap();
                    g.bench_with_input(BenchmarkId::new("raw_sync", n), &n, |b, &n| {
                        b.iter(|| {
                            let v = values(n);
                            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = v
                                .iter()
                                .flat_map(|(a, b)| [a as &(dyn postgres::types::ToSql + Sync), b])
                                .collect();
                            sync.execute(&st, &params).unwrap()
                        })
                    });
                    std::thread::spawn(move || drop(sync)).join().unwrap();
                }
                BackendKind::Mysql => {
                    use mysql_async::prelude::Queryable as _;
                    let mut conn = rt
                        .block_on(mysql_async::Conn::from_url(url.as_str()))
                        .unwrap();
                    g.bench_with_input(BenchmarkId::new("raw_async", n), &n, |b, &n| {
                        b.iter(|| {
                            let params: Vec<mysql_async::Value> = values(n)
                                .into_iter()
                                .flat_map(|(a, b)| [a.into(), b.into()])
                                .collect();
                            rt.block_on(async {
                                conn.exec_drop(sql.as_str(), params).await.unwrap()
                            })
                        })
                    });
                    use mysql::prelude::Queryable as _;
                    let mut sync = mysql::Conn::new(mysql::Opts::from_url(&url).unwrap()).unwrap();
                    g.bench_with_input(BenchmarkId::new("raw_sync", n), &n, |b, &n| {
                        b.iter(|| {
                            let params: Vec<mysql::Value> = values(n)
                                .into_iter()
                                .flat_map(|(a, b)| [a.into(), b.into()])
                                .collect();
                            sync.exec_drop(sql.as_str(), params).unwrap()
                        })
                    });
                }
                _ => {
                    let conn =
                        rusqlite::Connection::open(url.trim_start_matches("sqlite://")).unwrap();
                    g.bench_with_input(BenchmarkId::new("raw_sync", n), &n, |b, &n| {
                        b.iter(|| {
                            let v = values(n);
                            let mut st = conn.prepare_cached(&sql).unwrap();
                            st.execute(rusqlite::params_from_iter(
                                v.iter().flat_map(|(a, b)| [a, b]),
                            ))
                            .unwrap()
                        })
                    });
                }
            }
        }
        g.finish();

        medium_query(c, &rt, &db, &url);
        loading(c, &rt, &db, &url);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);

/// The medium query on `n` users, half of them black-haired; every fourth
/// user has one post, so the join returns both `Some` and `None` posts.
fn medium_query(c: &mut Criterion, rt: &Runtime, db: &Database, url: &str) {
    let kind = db.backend();
    let sql = medium_sql(kind);
    let (sql, dbr) = (sql.as_str(), db);
    let mut g = c.benchmark_group(format!("medium_query/{kind}"));
    for n in [1, 10, 100, 1_000] {
        fill(db, n, 1, 0, 4);
        g.bench_with_input(BenchmarkId::new("dualdb_async", n), &n, |b, _| {
            b.to_async(rt).iter(|| async move {
                let rows: Vec<(BenchUser, Option<BenchPost>)> =
                    dbr.aio().raw(sql, &[&"black"]).await.unwrap();
                rows
            })
        });
        g.bench_with_input(BenchmarkId::new("dualdb_sync", n), &n, |b, _| {
            b.iter(|| {
                let rows: Vec<(BenchUser, Option<BenchPost>)> =
                    dbr.sync().raw(sql, &[&"black"]).unwrap();
                rows
            })
        });
        match kind {
            BackendKind::Postgres => {
                let client = pg_client(rt, url);
                let st = rt.block_on(client.prepare(sql)).unwrap();
                let (client, st) = (&client, &st);
                let decode = pg_joined;
                g.bench_with_input(BenchmarkId::new("raw_async", n), &n, |b, _| {
                    b.to_async(rt).iter(|| async move {
                        let rows = client.query(st, &[&"black"]).await.unwrap();
                        rows.iter().map(|r| split(decode(r))).collect::<Vec<_>>()
                    })
                });
                let mut sync = pg_sync(url);
                let st = sync.prepare(sql).unwrap();
                g.bench_with_input(BenchmarkId::new("raw_sync", n), &n, |b, _| {
                    b.iter(|| {
                        let rows = sync.query(&st, &[&"black"]).unwrap();
                        rows.iter().map(|r| split(decode(r))).collect::<Vec<_>>()
                    })
                });
                std::thread::spawn(move || drop(sync)).join().unwrap();
            }
            BackendKind::Mysql => {
                use mysql::prelude::Queryable as _;
                use mysql_async::prelude::Queryable as _;
                let mut conn = rt.block_on(mysql_async::Conn::from_url(url)).unwrap();
                g.bench_with_input(BenchmarkId::new("raw_async", n), &n, |b, _| {
                    b.iter(|| {
                        rt.block_on(async {
                            let rows: Vec<Joined> = conn.exec(sql, ("black",)).await.unwrap();
                            rows.into_iter().map(split).collect::<Vec<_>>()
                        })
                    })
                });
                let mut sync = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
                g.bench_with_input(BenchmarkId::new("raw_sync", n), &n, |b, _| {
                    b.iter(|| {
                        let rows: Vec<Joined> = sync.exec(sql, ("black",)).unwrap();
                        rows.into_iter().map(split).collect::<Vec<_>>()
                    })
                });
            }
            _ => {
                let conn = lite(url);
                g.bench_with_input(BenchmarkId::new("raw_sync", n), &n, |b, _| {
                    b.iter(|| {
                        let mut st = conn.prepare_cached(sql).unwrap();
                        st.query_map(["black"], |r| lite_joined(r).map(split))
                            .unwrap()
                            .collect::<Result<Vec<_>, _>>()
                            .unwrap()
                    })
                });
            }
        }
    }
    g.finish();
}

/// Loading associations: 100 users x 10 posts x 10 comments.
fn loading(c: &mut Criterion, rt: &Runtime, db: &Database, url: &str) {
    let kind = db.backend();
    fill(db, 100, 10, 10, 1);
    let sql = &loading_sql(kind);
    let dbr = db;
    let check = |loaded: &Loaded| {
        assert_eq!(loaded.len(), 100);
        assert!(loaded.iter().all(|(_, ps)| ps.len() == 10));
        assert!(
            loaded
                .iter()
                .all(|(_, ps)| ps.iter().all(|(_, cs)| cs.len() == 10))
        );
    };
    let mut g = c.benchmark_group(format!("loading_associations/{kind}"));
    let related = || BenchPost::select().with(BenchComment::select());
    let loaded = db.sync().prefetch(BenchUser::select(), related()).unwrap();
    assert_eq!(loaded.len(), 100);
    assert!(
        loaded
            .iter()
            .all(|(_, ps)| ps.len() == 10 && ps.iter().all(|(_, cs)| cs.len() == 10))
    );
    g.bench_function("dualdb_async", |b| {
        b.to_async(rt).iter(|| async move {
            dbr.aio()
                .prefetch(BenchUser::select(), related())
                .await
                .unwrap()
        })
    });
    g.bench_function("dualdb_sync", |b| {
        b.iter(|| dbr.sync().prefetch(BenchUser::select(), related()).unwrap())
    });
    match kind {
        BackendKind::Postgres => {
            let client = pg_client(rt, url);
            let sts = sql.each_ref().map(|sql| client.prepare(sql));
            let sts = rt.block_on(futures::future::try_join_all(sts)).unwrap();
            let (client, sts) = (&client, sts.as_slice());
            check(&rt.block_on(pg::load_async(client, sts)));
            g.bench_function("raw_async", |b| {
                b.to_async(rt).iter(|| pg::load_async(client, sts))
            });
            let mut sync = pg_sync(url);
            let sts = sql.each_ref().map(|sql| sync.prepare(sql).unwrap());
            check(&pg::load_sync(&mut sync, &sts));
            g.bench_function("raw_sync", |b| b.iter(|| pg::load_sync(&mut sync, &sts)));
            std::thread::spawn(move || drop(sync)).join().unwrap();
        }
        BackendKind::Mysql => {
            let mut conn = rt.block_on(mysql_async::Conn::from_url(url)).unwrap();
            let mut load_async = || rt.block_on(my_load_async(&mut conn, sql));
            check(&load_async());
            g.bench_function("raw_async", |b| b.iter(&mut load_async));
            let mut sync = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
            g.bench_function("raw_sync", |b| b.iter(|| my_load_sync(&mut sync, sql)));
        }
        _ => {
            let conn = lite(url);
            check(&lite_load(&conn, sql));
            g.bench_function("raw_sync", |b| b.iter(|| lite_load(&conn, sql)));
        }
    }
    g.finish();
    drop_tables(db);
}
