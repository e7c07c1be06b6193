//! The pool choice, measured (DESIGN.md: "choose by measurement"):
//!
//! - async: deadpool and bb8 (dualdb used deadpool until it wrote its own;
//!   its `get` on MariaDB runs through that one) against each other, first with no I/O
//!   (checkout and return only), then around a prepared get-by-primary-key
//!   on PostgreSQL (exclusive checkout, as dualdb does inside transactions)
//!   and MariaDB (where every async call checks a connection out), with
//!   mysql_async's own pool alongside;
//! - blocking: dualdb's own pool (its blocking half's `get`) against r2d2
//!   around the same prepared query on `postgres`.
//!
//! Every pool holds 16 connections; neither pings on checkout. Prints calls/s.
//!
//!     ci/test --only pg,mysql --exec cargo bench -p dualdb-benches --bench pools

mod support;

use std::convert::Infallible;

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use dualdb::{Database, Model};
use support::{BenchUser, seconds, setup, thread_throughput, throughput};

const POOL: usize = 16;
const PG_SQL: &str = "SELECT id, name, hair_color FROM bench_users WHERE id = $1";
const MY_SQL: &str = "SELECT id, name, hair_color FROM bench_users WHERE id = ?";
type Raw = (i32, String, Option<String>);

/// A connection that is a number: the pools' own cost, no I/O.
struct Nop;

impl managed::Manager for Nop {
    type Type = u64;
    type Error = Infallible;
    async fn create(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
    async fn recycle(&self, _: &mut u64, _: &Metrics) -> RecycleResult<Infallible> {
        Ok(())
    }
}

impl bb8::ManageConnection for Nop {
    type Connection = u64;
    type Error = Infallible;
    async fn connect(&self) -> Result<u64, Infallible> {
        Ok(0)
    }
    async fn is_valid(&self, _: &mut u64) -> Result<(), Infallible> {
        Ok(())
    }
    fn has_broken(&self, _: &mut u64) -> bool {
        false
    }
}

/// A tokio-postgres connection with the query prepared on it.
struct Pg(String);

type PgConn = (tokio_postgres::Client, tokio_postgres::Statement);

impl Pg {
    async fn connect(&self) -> Result<PgConn, tokio_postgres::Error> {
        let (client, conn) = tokio_postgres::connect(&self.0, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        let st = client.prepare(PG_SQL).await?;
        Ok((client, st))
    }
}

impl managed::Manager for Pg {
    type Type = PgConn;
    type Error = tokio_postgres::Error;
    async fn create(&self) -> Result<PgConn, Self::Error> {
        self.connect().await
    }
    async fn recycle(&self, c: &mut PgConn, _: &Metrics) -> RecycleResult<Self::Error> {
        if c.0.is_closed() {
            return Err(RecycleError::message("closed"));
        }
        Ok(())
    }
}

impl bb8::ManageConnection for Pg {
    type Connection = PgConn;
    type Error = tokio_postgres::Error;
    async fn connect(&self) -> Result<PgConn, Self::Error> {
        Pg::connect(self).await
    }
    async fn is_valid(&self, _: &mut PgConn) -> Result<(), Self::Error> {
        Ok(())
    }
    fn has_broken(&self, c: &mut PgConn) -> bool {
        c.0.is_closed()
    }
}

async fn pg_get(c: &PgConn, id: i32) -> Raw {
    let row = c.0.query_one(&c.1, &[&id]).await.unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// A mysql_async connection (it caches prepared statements itself).
struct My(String);

impl managed::Manager for My {
    type Type = mysql_async::Conn;
    type Error = mysql_async::Error;
    async fn create(&self) -> Result<mysql_async::Conn, Self::Error> {
        mysql_async::Conn::from_url(self.0.as_str()).await
    }
    async fn recycle(&self, _: &mut mysql_async::Conn, _: &Metrics) -> RecycleResult<Self::Error> {
        Ok(())
    }
}

impl bb8::ManageConnection for My {
    type Connection = mysql_async::Conn;
    type Error = mysql_async::Error;
    async fn connect(&self) -> Result<mysql_async::Conn, Self::Error> {
        mysql_async::Conn::from_url(self.0.as_str()).await
    }
    async fn is_valid(&self, _: &mut mysql_async::Conn) -> Result<(), Self::Error> {
        Ok(())
    }
    fn has_broken(&self, _: &mut mysql_async::Conn) -> bool {
        false
    }
}

async fn my_get(c: &mut mysql_async::Conn, id: i32) -> Raw {
    use mysql_async::prelude::Queryable as _;
    c.exec_first(MY_SQL, (id,)).await.unwrap().unwrap()
}

/// A blocking `postgres` client with the query prepared on it, for r2d2.
struct PgSync(String);

impl r2d2::ManageConnection for PgSync {
    type Connection = (postgres::Client, postgres::Statement);
    type Error = postgres::Error;
    fn connect(&self) -> Result<Self::Connection, Self::Error> {
        let mut c = postgres::Client::connect(&self.0, postgres::NoTls)?;
        let st = c.prepare(PG_SQL)?;
        Ok((c, st))
    }
    fn is_valid(&self, _: &mut Self::Connection) -> Result<(), Self::Error> {
        Ok(())
    }
    fn has_broken(&self, c: &mut Self::Connection) -> bool {
        c.0.is_closed()
    }
}

fn deadpool<M: managed::Manager>(m: M) -> managed::Pool<M> {
    managed::Pool::builder(m)
        .max_size(POOL)
        .runtime(deadpool::Runtime::Tokio1)
        .build()
        .unwrap()
}

async fn bb8<M: bb8::ManageConnection>(m: M) -> bb8::Pool<M> {
    bb8::Pool::builder()
        .max_size(POOL as u32)
        .test_on_check_out(false)
        .build(m)
        .await
        .unwrap()
}

/// One printed row: what, then calls/s at each task count.
fn line(what: &str, rates: &[f64]) {
    let cells: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    println!("| {what} | {} |", cells.join(" | "));
}

const TASKS: [usize; 2] = [1, 64];

/// Calls/s of `op` from 1 and from 64 tasks.
fn measure<F, Fut>(rt: &tokio::runtime::Runtime, op: F) -> [f64; 2]
where
    F: Fn(i32) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    TASKS.map(|t| rt.block_on(throughput(t, op.clone())))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list`, `--no-run` callers
    }
    let rt = support::runtime();
    let _guard = rt.enter();
    println!("\npools of {POOL}, calls/s ({} s each)", seconds());
    println!("| pool, work | 1 task | 64 tasks |\n|---|---|---|");

    let dp = deadpool(Nop);
    let rates = measure(&rt, move |_| {
        let p = dp.clone();
        async move { drop(p.get().await.unwrap()) }
    });
    line("deadpool, checkout + return", &rates);
    let bp = rt.block_on(bb8(Nop));
    let rates = measure(&rt, move |_| {
        let p = bp.clone();
        async move { drop(p.get().await.unwrap()) }
    });
    line("bb8, checkout + return", &rates);

    if let Ok(url) = std::env::var("DUALDB_PG_URL") {
        setup(&Database::open(&url).unwrap());
        let dp = deadpool(Pg(url.clone()));
        let rates = measure(&rt, move |id| {
            let p = dp.clone();
            async move { drop(pg_get(&p.get().await.unwrap(), id).await) }
        });
        line("deadpool, PostgreSQL get", &rates);
        let bp = rt.block_on(bb8(Pg(url.clone())));
        let rates = measure(&rt, move |id| {
            let p = bp.clone();
            async move { drop(pg_get(&p.get().await.unwrap(), id).await) }
        });
        line("bb8, PostgreSQL get", &rates); // both pools closed with their closures

        // blocking: threads, not tasks (1 and 16: one per connection)
        println!("\n| blocking pool, PostgreSQL get | 1 thread | 16 threads |\n|---|---|---|");
        let db = Database::builder(&url)
            .sync_pool_size(POOL)
            .build()
            .unwrap();
        let rates = [1, 16]
            .map(|t| thread_throughput(t, |id| drop(db.sync().get(BenchUser::by_id(id)).unwrap())));
        line("dualdb's own (its `get`)", &rates);
        let pool = std::thread::spawn(move || {
            r2d2::Pool::builder()
                .max_size(POOL as u32)
                .test_on_check_out(false)
                .build(PgSync(url))
                .unwrap()
        })
        .join()
        .unwrap();
        let rates = [1, 16].map(|t| {
            thread_throughput(t, |id| {
                let mut c = pool.get().unwrap();
                let (client, st) = &mut *c;
                let row = client.query_one(&*st, &[&id]).unwrap();
                let _: Raw = (row.get(0), row.get(1), row.get(2));
            })
        });
        line("r2d2 (get on the raw driver)", &rates);
        std::thread::spawn(move || drop(pool)).join().unwrap();
    }

    if let Ok(url) = std::env::var("DUALDB_MYSQL_URL") {
        setup(&Database::open(&url).unwrap());
        println!("\n| pool, MariaDB get | 1 task | 64 tasks |\n|---|---|---|");
        let dp = deadpool(My(url.clone()));
        let rates = measure(&rt, move |id| {
            let p = dp.clone();
            async move { drop(my_get(&mut p.get().await.unwrap(), id).await) }
        });
        line("deadpool", &rates);
        let bp = rt.block_on(bb8(My(url.clone())));
        let rates = measure(&rt, move |id| {
            let p = bp.clone();
            async move { drop(my_get(&mut p.get().await.unwrap(), id).await) }
        });
        line("bb8", &rates);
        let opts = mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(&url).unwrap())
            .pool_opts(
                mysql_async::PoolOpts::default()
                    .with_constraints(mysql_async::PoolConstraints::new(POOL, POOL).unwrap()),
            );
        let mp = mysql_async::Pool::new(opts);
        let theirs = mp.clone();
        let rates = measure(&rt, move |id| {
            let p = theirs.clone();
            async move { drop(my_get(&mut p.get_conn().await.unwrap(), id).await) }
        });
        line("mysql_async's own", &rates);
        rt.block_on(mp.disconnect()).unwrap();
        let db = Database::builder(&url)
            .async_pool_size(POOL)
            .build()
            .unwrap();
        let rates = measure(&rt, move |id| {
            let d = db.clone();
            async move { drop(d.aio().get(BenchUser::by_id(id)).await.unwrap()) }
        });
        line("dualdb async `get` (its own pool)", &rates);
    }
}
