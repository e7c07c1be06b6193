//! The Manager operations as methods: [`manager_methods!`] gives
//! [`SyncDb`](crate::SyncDb), [`SyncTx`](crate::SyncTx),
//! [`AsyncDb`](crate::AsyncDb) and [`AsyncTx`](crate::AsyncTx) one method
//! each over the same plan, and the list below is every operation with its
//! documentation.

use super::alter::{
    add_column, add_index, columns, drop_column, drop_index, indexes, rename_column, rename_table,
    sequence_exists, set_not_null, tables,
};
use super::executable::Executable;
use super::fetch::Fetchable;
use super::races::{CreateOrGet, GetOrCreate};
use super::reads::{count, exists, fold, fold_rows, get, get_or_none, query_as, raw, scalar};
use super::recursive::delete;
use super::schema::{create_table, drop_table, table_exists, truncate};
use super::writes::{create, update};
use crate::error::{Error, Result};
use crate::model::column::ColumnOf;
use crate::model::prefetch::{Prefetch, Related};
use crate::model::query::Select;
use crate::model::{ColumnInfo, IndexInfo, Model, ModelRow};
use crate::plan::{Action, One, Reply};
use crate::row::{FromRow, Row};
use crate::statement::{Stmt, at_most_one, exactly_one};
use crate::value::ToSql;

/// Gives [`SyncDb`](crate::SyncDb) and [`AsyncDb`](crate::AsyncDb), and
/// their transaction handles, the same method for each operation: the
/// blocking one drives the plan on a pooled blocking connection (after the
/// `allow_sync` check), the async one on a pooled async connection. The plan
/// is built before the call, so the returned future does not borrow the
/// arguments. It also writes the executor traits ([`SyncExecutor`],
/// [`AsyncExecutor`]) from the same list, each method calling the handle's
/// own, so a handle cannot lack one of them (tests/executor.rs).
///
/// An entry's `-> T | E` returns `Result<T, E>` for an error type `E` of the
/// caller's closure, carried through the plan whole
/// ([`Error::into_caller`](crate::Error)).
macro_rules! manager_methods {
    ($(
        $(#[$doc:meta])*
        fn $name:ident <$($g:ident),*> (&self $(, $arg:ident : $ty:ty)*) -> $out:ty $(| $err:ident)?
            where [$($bounds:tt)*] = |$d:ident| $plan:expr;
    )*) => {
        /// The names of the Manager operations every half and transaction
        /// handle has (for tests that must cover each one).
        #[doc(hidden)]
        pub const MANAGER_OPERATIONS: &[&str] = &[$(stringify!($name)),*];

        /// The Manager operations and raw SQL of the blocking half, for a
        /// function written once that takes the database's blocking half, a
        /// transaction or a savepoint: `fn register(db: &impl SyncExecutor)`.
        /// Each method is the handle's own method of the same name
        /// ([`SyncDb`](crate::SyncDb)'s documents them); sealed: dualdb's
        /// handles are its only implementations.
        ///
        /// ```
        /// use dualdb::{Database, SyncExecutor};
        ///
        /// fn add(db: &impl SyncExecutor, x: i64) -> dualdb::Result<u64> {
        ///     db.execute("INSERT INTO t VALUES (?)", &[&x])
        /// }
        ///
        /// let db = Database::open("sqlite::memory:")?;
        /// db.sync().execute("CREATE TABLE t (x INTEGER)", &[])?;
        /// add(db.sync(), 1)?; // the database
        /// db.sync().atomic(|tx| add(tx, 2))?; // a transaction
        /// db.sync().atomic(|tx| tx.atomic(|sp| add(sp, 3)))?; // a savepoint
        /// let n: i64 = db.sync().query_one("SELECT SUM(x) FROM t", &[])?.get(0)?;
        /// assert_eq!(n, 6);
        /// # Ok::<(), dualdb::Error>(())
        /// ```
        pub trait SyncExecutor: sealed::Sealed {
            $(
                #[doc = concat!("See [`SyncDb::", stringify!($name), "`](crate::SyncDb::", stringify!($name), ").")]
                fn $name <$($g),*> (&self $(, $arg: $ty)*) -> manager_methods!(@ret $out $(, $err)?)
                where $($bounds)*;
            )*
            /// See [`SyncDb::fetch`](crate::SyncDb::fetch).
            fn fetch<Q: Fetchable>(&self, query: Q) -> crate::RowIter<'_, Q::Item>;
            /// See [`SyncDb::fetch_rows`](crate::SyncDb::fetch_rows).
            fn fetch_rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> crate::RowIter<'_, Row>;
            /// See [`SyncDb::fetch_as`](crate::SyncDb::fetch_as).
            fn fetch_as<T: FromRow + Send + 'static>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> crate::RowIter<'_, T>;
            /// See [`SyncDb::copy_in`](crate::SyncDb::copy_in).
            fn copy_in<I, B>(&self, sql: &str, data: I) -> Result<u64>
            where I: IntoIterator<Item = B>, I::IntoIter: Send, B: Into<Vec<u8>>;
            /// See [`SyncDb::copy_in_rows`](crate::SyncDb::copy_in_rows).
            fn copy_in_rows<I, R>(&self, table: &str, columns: &[&str], rows: I) -> Result<u64>
            where I: IntoIterator<Item = R>, I::IntoIter: Send, R: crate::CopyRow;
        }

        /// The Manager operations and raw SQL of the async half, for a
        /// function written once that takes the database's async half, a
        /// transaction or a savepoint: `async fn register(db: &impl
        /// AsyncExecutor)`. Each method is the handle's own method of the
        /// same name ([`AsyncDb`](crate::AsyncDb)'s documents them); its
        /// future is `Send`, so a generic function's future can be spawned.
        /// Sealed: dualdb's handles are its only implementations.
        ///
        /// ```
        /// use dualdb::{AsyncExecutor, Database};
        ///
        /// async fn add(db: &impl AsyncExecutor, x: i64) -> dualdb::Result<u64> {
        ///     db.execute("INSERT INTO t VALUES (?)", &[&x]).await
        /// }
        ///
        /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
        /// let db = Database::open("sqlite::memory:")?;
        /// db.aio().execute("CREATE TABLE t (x INTEGER)", &[]).await?;
        /// add(db.aio(), 1).await?; // the database
        /// db.aio().atomic(async |tx| add(tx, 2).await).await?; // a transaction
        /// db.aio().atomic(async |tx| tx.atomic(async |sp| add(sp, 3).await).await).await?; // a savepoint
        /// let n: i64 = db.aio().query_one("SELECT SUM(x) FROM t", &[]).await?.get(0)?;
        /// assert_eq!(n, 6);
        /// # Ok::<(), dualdb::Error>(())
        /// # }).unwrap();
        /// ```
        pub trait AsyncExecutor: sealed::Sealed + Sync {
            $(
                #[doc = concat!("See [`AsyncDb::", stringify!($name), "`](crate::AsyncDb::", stringify!($name), ").")]
                fn $name <$($g),*> (&self $(, $arg: $ty)*)
                    -> impl std::future::Future<Output = manager_methods!(@ret $out $(, $err)?)> + Send
                where $($bounds)*;
            )*
            /// See [`AsyncDb::fetch`](crate::AsyncDb::fetch).
            fn fetch<Q: Fetchable>(&self, query: Q) -> crate::RowStream<'_, Q::Item>;
            /// See [`AsyncDb::fetch_rows`](crate::AsyncDb::fetch_rows).
            fn fetch_rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> crate::RowStream<'_, Row>;
            /// See [`AsyncDb::fetch_as`](crate::AsyncDb::fetch_as).
            fn fetch_as<T: FromRow + Send + 'static>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> crate::RowStream<'_, T>;
            /// See [`AsyncDb::copy_in`](crate::AsyncDb::copy_in).
            fn copy_in<S, B>(&self, sql: &str, data: S) -> impl std::future::Future<Output = Result<u64>> + Send
            where S: futures_core::Stream<Item = B> + Send, B: Into<Vec<u8>>;
            /// See [`AsyncDb::copy_in_rows`](crate::AsyncDb::copy_in_rows).
            fn copy_in_rows<S, R>(&self, table: &str, columns: &[&str], rows: S) -> impl std::future::Future<Output = Result<u64>> + Send
            where S: futures_core::Stream<Item = R> + Send, R: crate::CopyRow;
        }

        manager_methods!(@sync crate::SyncDb; $($(#[$doc])* fn $name <$($g),*> ($($arg: $ty),*) -> $out $(| $err)? where [$($bounds)*] = |$d| $plan;)*);
        manager_methods!(@sync crate::SyncTx<'_>; $($(#[$doc])* fn $name <$($g),*> ($($arg: $ty),*) -> $out $(| $err)? where [$($bounds)*] = |$d| $plan;)*);
        manager_methods!(@async crate::AsyncDb; $($(#[$doc])* fn $name <$($g),*> ($($arg: $ty),*) -> $out $(| $err)? where [$($bounds)*] = |$d| $plan;)*);
        manager_methods!(@async crate::AsyncTx<'_>; $($(#[$doc])* fn $name <$($g),*> ($($arg: $ty),*) -> $out $(| $err)? where [$($bounds)*] = |$d| $plan;)*);
    };
    (@ret $out:ty) => { Result<$out> };
    (@ret $out:ty, $err:ident) => { Result<$out, $err> };
    (@sync $target:ty; $(
        $(#[$doc:meta])*
        fn $name:ident <$($g:ident),*> ($($arg:ident : $ty:ty),*) -> $out:ty $(| $err:ident)?
            where [$($bounds:tt)*] = |$d:ident| $plan:expr;
    )*) => {
        impl $target {
            $(
                $(#[$doc])*
                #[track_caller]
                pub fn $name <$($g),*> (&self $(, $arg: $ty)*) -> manager_methods!(@ret $out $(, $err)?)
                where $($bounds)*
                {
                    let (scope, $d) = self.context();
                    let plan = $plan;
                    let out = self.drive(stringify!($name), scope, plan);
                    $(let out = out.map_err(crate::Error::into_caller::<$err>);)?
                    out
                }
            )*
        }
        impl sealed::Sealed for $target {}
        impl SyncExecutor for $target {
            $(
                #[track_caller]
                fn $name <$($g),*> (&self $(, $arg: $ty)*) -> manager_methods!(@ret $out $(, $err)?)
                where $($bounds)*
                {
                    <$target>::$name::<$($g),*>(self $(, $arg)*)
                }
            )*
            #[track_caller]
            fn fetch<Q: Fetchable>(&self, query: Q) -> crate::RowIter<'_, Q::Item> {
                <$target>::fetch(self, query)
            }
            #[track_caller]
            fn fetch_rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> crate::RowIter<'_, Row> {
                <$target>::fetch_rows(self, sql, params)
            }
            #[track_caller]
            fn fetch_as<T: FromRow + Send + 'static>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> crate::RowIter<'_, T> {
                <$target>::fetch_as(self, sql, params)
            }
            #[track_caller]
            fn copy_in<I, B>(&self, sql: &str, data: I) -> Result<u64>
            where I: IntoIterator<Item = B>, I::IntoIter: Send, B: Into<Vec<u8>>
            {
                <$target>::copy_in(self, sql, data)
            }
            #[track_caller]
            fn copy_in_rows<I, R>(&self, table: &str, columns: &[&str], rows: I) -> Result<u64>
            where I: IntoIterator<Item = R>, I::IntoIter: Send, R: crate::CopyRow
            {
                <$target>::copy_in_rows(self, table, columns, rows)
            }
        }
    };
    (@async $target:ty; $(
        $(#[$doc:meta])*
        fn $name:ident <$($g:ident),*> ($($arg:ident : $ty:ty),*) -> $out:ty $(| $err:ident)?
            where [$($bounds:tt)*] = |$d:ident| $plan:expr;
    )*) => {
        impl $target {
            $(
                $(#[$doc])*
                pub fn $name <$($g),*> (&self $(, $arg: $ty)*)
                    -> impl std::future::Future<Output = manager_methods!(@ret $out $(, $err)?)> + Send + use<'_, $($g),*>
                where $($bounds)*
                {
                    let (scope, $d) = self.context();
                    let out = self.drive(scope, $plan);
                    $(let out = async move { out.await.map_err(crate::Error::into_caller::<$err>) };)?
                    out
                }
            )*
        }
        impl sealed::Sealed for $target {}
        impl AsyncExecutor for $target {
            $(
                fn $name <$($g),*> (&self $(, $arg: $ty)*)
                    -> impl std::future::Future<Output = manager_methods!(@ret $out $(, $err)?)> + Send
                where $($bounds)*
                {
                    <$target>::$name::<$($g),*>(self $(, $arg)*)
                }
            )*
            fn fetch<Q: Fetchable>(&self, query: Q) -> crate::RowStream<'_, Q::Item> {
                <$target>::fetch(self, query)
            }
            fn fetch_rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> crate::RowStream<'_, Row> {
                <$target>::fetch_rows(self, sql, params)
            }
            fn fetch_as<T: FromRow + Send + 'static>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> crate::RowStream<'_, T> {
                <$target>::fetch_as(self, sql, params)
            }
            fn copy_in<S, B>(&self, sql: &str, data: S) -> impl std::future::Future<Output = Result<u64>> + Send
            where S: futures_core::Stream<Item = B> + Send, B: Into<Vec<u8>>
            {
                <$target>::copy_in(self, sql, data)
            }
            fn copy_in_rows<S, R>(&self, table: &str, columns: &[&str], rows: S) -> impl std::future::Future<Output = Result<u64>> + Send
            where S: futures_core::Stream<Item = R> + Send, R: crate::CopyRow
            {
                <$target>::copy_in_rows(self, table, columns, rows)
            }
        }
    };
}

/// Keeps the executor traits dualdb's own: a new operation is then not a
/// breaking change.
mod sealed {
    pub trait Sealed {}
}

manager_methods! {
    /// Runs a statement and returns the number of rows it changed, as the
    /// server counts them: for an `UPDATE`, PostgreSQL and SQLite count the
    /// rows it matched, MySQL/MariaDB only those whose values it changed.
    /// A statement that begins or ends a transaction or savepoint (`BEGIN`,
    /// `COMMIT`, `SAVEPOINT`, MySQL's `SET autocommit`, …) is a `Usage`
    /// error before any I/O, here and in `query`, `query_one` and
    /// `query_opt`: transactions go through
    /// [`begin`](crate::SyncDb::begin), `atomic`, `savepoint` and `session`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute("CREATE TABLE t (x INTEGER)", &[])?;
    /// let n = db.aio().execute("INSERT INTO t VALUES (?), (?)", &[&1, &2]).await?;
    /// assert_eq!(n, 2);
    /// assert_eq!(db.sync().execute("DELETE FROM t", &[])?, 2);
    /// # Ok(())
    /// # });
    /// ```
    fn execute<>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> u64
        where [] = |_d| crate::plan::either(raw_execute(sql, params));

    /// Sends a notification on `channel` with `payload` to every session
    /// listening to it (PostgreSQL's `pg_notify`; see
    /// [`AsyncDb::listen`](crate::AsyncDb::listen)). In a transaction it
    /// is sent at commit, and not at all if the transaction rolls back.
    /// Other backends have no notifications: a `Usage` error before any
    /// I/O.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// // The fixtures' database is SQLite, which has none.
    /// let err = db.aio().notify("orders", "42").await.unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::Usage);
    /// # Ok(())
    /// # });
    /// ```
    fn notify<>(&self, channel: &str, payload: &str) -> ()
        where [] = |d| crate::plan::either(notify(d, channel, payload));

    /// Runs `sql`, a `COPY … TO STDOUT` (PostgreSQL), handing its output
    /// to `f` a chunk at a time as the server sends it (in the format the
    /// statement names), never all in memory; returns the bytes written.
    /// An error from `f` stops the COPY and comes back unchanged. On the
    /// blocking half `f` runs outside the connection's runtime, so it may
    /// block. Other backends: a `Usage` error before any I/O.
    ///
    /// ```no_run
    /// # fn f(db: dualdb::Database) -> dualdb::Result<()> {
    /// use std::io::Write;
    /// let mut file = std::fs::File::create("people.csv")?;
    /// let bytes = db.sync().copy_out("COPY people TO STDOUT (FORMAT csv)", |chunk| {
    ///     file.write_all(chunk).map_err(dualdb::Error::from)
    /// })?;
    /// # Ok(()) }
    /// ```
    fn copy_out<E, F>(&self, sql: &str, f: F) -> u64 | E
        where [E: From<Error> + Send + Sync + 'static, F: FnMut(&[u8]) -> Result<(), E> + Send] = |d| crate::plan::either(super::copy::copy_out(d, sql, f));

    /// Runs a statement and returns all its rows.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let rows = db.aio().query("SELECT 1 AS n UNION ALL SELECT 2", &[]).await?;
    /// assert_eq!(rows.len(), 2);
    /// assert_eq!(db.sync().query("SELECT ?", &[&"x"])?[0].get::<String>(0)?, "x");
    /// # Ok(())
    /// # });
    /// ```
    fn query<>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<Row>
        where [] = |_d| crate::plan::either(raw_query(sql, params).map(|q| One::new(q, Reply::rows)));

    /// Runs a statement and decodes each row into `T` (sqlx's `query_as`,
    /// peewee's `Model.raw(…).dicts()` typed): a `#[derive(FromRow)]` struct
    /// (by column name), a tuple (by position) or one value. A missing or
    /// ill-typed column is a [`Decode`](crate::ErrorKind::Decode) error
    /// naming the column and the field.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// #[derive(dualdb::FromRow, Debug, PartialEq)]
    /// struct Tally { label: String, #[row(rename = "n")] count: i64 }
    /// let rows: Vec<Tally> = db.aio().query_as("SELECT 'users' AS label, COUNT(*) AS n FROM user", &[]).await?;
    /// assert_eq!(rows, [Tally { label: "users".into(), count: 0 }]);
    /// let pairs: Vec<(i64, String)> = db.sync().query_as("SELECT 1, 'a'", &[])?;
    /// assert_eq!(pairs, [(1, "a".to_string())]);
    /// # Ok(())
    /// # });
    /// ```
    fn query_as<T>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<T>
        where [T: FromRow + Send + 'static] = |_d| query_as::<T>(sql, params);

    /// Runs a statement that must return exactly one row;
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if it returns none,
    /// [`ErrorKind::TooManyRows`](crate::ErrorKind::TooManyRows) if more.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let n: i64 = db.aio().query_one("SELECT COUNT(*) FROM user", &[]).await?.get(0)?;
    /// assert_eq!(n, 0);
    /// let err = db.sync().query_one("SELECT 1 UNION ALL SELECT 2", &[]).unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::TooManyRows);
    /// # Ok(())
    /// # });
    /// ```
    fn query_one<>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Row
        where [] = |_d| crate::plan::either(raw_query(sql, params).map(|q| One::new(q, |r| exactly_one(r.rows()?))));

    /// Runs a statement that returns at most one row.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// assert!(db.aio().query_opt("SELECT name FROM user", &[]).await?.is_none());
    /// db.sync().create(user("ada"))?;
    /// assert!(db.sync().query_opt("SELECT name FROM user", &[])?.is_some());
    /// # Ok(())
    /// # });
    /// ```
    fn query_opt<>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Option<Row>
        where [] = |_d| crate::plan::either(raw_query(sql, params).map(|q| One::new(q, |r| at_most_one(r.rows()?))));

    /// `CREATE TABLE IF NOT EXISTS` for the model, with its keys, unique
    /// columns and foreign keys.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().create_table::<User>()?; // again: IF NOT EXISTS, no error
    /// db.aio().create_table::<User>().await?;
    /// assert!(db.aio().table_exists::<User>().await?);
    /// # Ok(())
    /// # });
    /// ```
    fn create_table<M>(&self) -> ()
        where [M: Model] = |d| create_table::<M>(d);

    /// `DROP TABLE IF EXISTS` for the model.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().drop_table::<Post>()?;
    /// db.aio().drop_table::<Post>().await?; // IF EXISTS: no error
    /// assert!(!db.sync().table_exists::<Post>()?);
    /// # Ok(())
    /// # });
    /// ```
    fn drop_table<M>(&self) -> ()
        where [M: Model] = |d| drop_table::<M>(d);

    /// Whether the model's table exists.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// assert!(db.sync().table_exists::<User>()?);
    /// db.aio().drop_table::<Post>().await?;
    /// assert!(!db.aio().table_exists::<Post>().await?);
    /// # Ok(())
    /// # });
    /// ```
    fn table_exists<M>(&self) -> bool
        where [M: Model] = |d| table_exists::<M>(d);

    /// Adds the model's column to its table (`ALTER TABLE … ADD COLUMN`),
    /// its type, nullability and default as `create_table` writes them
    /// (peewee's `migrator.add_column`). A `NOT NULL` column added to rows
    /// needs a default; a foreign key or unique index is added apart
    /// ([`add_index`](crate::SyncDb::add_index)), since SQLite adds neither
    /// with a column.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute("CREATE TABLE book (id INTEGER PRIMARY KEY)", &[])?;
    /// #[derive(dualdb::Model)]
    /// struct Book { id: i64, #[model(default = "'untitled'")] title: String }
    /// db.aio().add_column(&Book::TITLE).await?;
    /// let names: Vec<String> = db.sync().columns("book")?.into_iter().map(|c| c.name).collect();
    /// assert_eq!(names, ["id", "title"]);
    /// # Ok(())
    /// # });
    /// ```
    fn add_column<M>(&self, column: &dyn ColumnOf<M>) -> ()
        where [M: Model] = |d| add_column::<M>(d, column);

    /// Drops a column (peewee's `drop_column`). SQLite rebuilds the table
    /// without it (its indexes on the column go too), in a transaction,
    /// or a savepoint inside the caller's; where other tables reference
    /// the table, that needs foreign keys off, which only works outside a
    /// transaction: inside one, a `Usage` error before anything changes.
    fn drop_column<>(&self, table: &str, column: &str) -> ()
        where [] = |d| drop_column(d, table, column);

    /// Renames a column (peewee's `rename_column`).
    fn rename_column<>(&self, table: &str, old: &str, new: &str) -> ()
        where [] = |d| rename_column(d, table, old, new);

    /// Renames a table (peewee's `rename_table`).
    fn rename_table<>(&self, old: &str, new: &str) -> ()
        where [] = |d| rename_table(d, old, new);

    /// Adds an index named `table_col1_col2` (peewee's name), unique or
    /// not, on the columns in order.
    fn add_index<>(&self, table: &str, columns: &[&str], unique: bool) -> ()
        where [] = |d| add_index(d, table, columns, unique);

    /// Drops an index by name.
    fn drop_index<>(&self, table: &str, name: &str) -> ()
        where [] = |d| drop_index(d, table, name);

    /// Makes a column `NOT NULL` (peewee's `add_not_null`): in place on
    /// PostgreSQL, by `MODIFY` with its type and default on MySQL, by a
    /// rebuild of the table on SQLite (as [`drop_column`](crate::SyncDb::drop_column)).
    /// Rows holding NULL there make it fail, changing nothing.
    fn add_not_null<>(&self, table: &str, column: &str) -> ()
        where [] = |d| set_not_null(d, table, column, true);

    /// Lets a column hold NULL (peewee's `drop_not_null`), as
    /// [`add_not_null`](crate::SyncDb::add_not_null) does the reverse.
    fn drop_not_null<>(&self, table: &str, column: &str) -> ()
        where [] = |d| set_not_null(d, table, column, false);

    /// The tables of the current schema or database, by name.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// assert!(db.aio().tables().await?.contains(&"user".to_string())); // User's table
    /// # Ok(())
    /// # });
    /// ```
    fn tables<>(&self) -> Vec<String>
        where [] = |d| tables(d);

    /// A table's columns, in order, as the database describes them (none
    /// for a table that does not exist).
    fn columns<>(&self, table: &str) -> Vec<ColumnInfo>
        where [] = |d| columns(d, table);

    /// A table's indexes, its primary key's aside, by name.
    fn indexes<>(&self, table: &str) -> Vec<IndexInfo>
        where [] = |d| indexes(d, table);

    /// Whether a sequence of that name is in the current schema
    /// (PostgreSQL; elsewhere a `Usage` error before any I/O).
    fn sequence_exists<>(&self, name: &str) -> bool
        where [] = |d| sequence_exists(d, name);

    /// Deletes every row of the model's table (`TRUNCATE`; `DELETE` on SQLite).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().create(user("ada"))?;
    /// db.aio().truncate::<User>().await?;
    /// assert_eq!(db.sync().count(User::select(), false)?, 0);
    /// # Ok(())
    /// # });
    /// ```
    fn truncate<M>(&self) -> ()
        where [M: Model] = |d| truncate::<M>(d);

    /// The first row matching a query or filter (`User::by_id(1)`,
    /// `User::NAME.eq("x")`, `User::select()…`);
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) if none.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// assert_eq!(db.aio().get(User::by_id(ada.id)).await?, ada);
    /// assert_eq!(db.sync().get(User::NAME.eq("ada"))?, ada);
    /// let err = db.aio().get(User::NAME.eq("nobody")).await.unwrap_err();
    /// assert_eq!(err.kind(), dualdb::ErrorKind::NotFound);
    /// # Ok(())
    /// # });
    /// ```
    fn get<M, L>(&self, lookup: L) -> M
        where [M: Model, L: Into<Select<M>>] = |d| get(d, lookup.into());

    /// The first row matching a query or filter, or `None`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// assert_eq!(db.aio().get_or_none(User::NAME.eq("ada")).await?, None);
    /// let ada = db.sync().create(user("ada"))?;
    /// assert_eq!(db.sync().get_or_none(User::NAME.eq("ada"))?, Some(ada));
    /// # Ok(())
    /// # });
    /// ```
    fn get_or_none<M, L>(&self, lookup: L) -> Option<M>
        where [M: Model, L: Into<Select<M>>] = |d| get_or_none(d, lookup.into());

    /// Inserts the model and returns it as stored, with its generated key
    /// (`RETURNING` on PostgreSQL and SQLite, `LAST_INSERT_ID()` on MySQL).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// let bob = db.aio().create(user("bob")).await?;
    /// assert!(ada.id > 0 && bob.id > ada.id); // generated keys filled in
    /// let err = db.sync().create(user("ada")).unwrap_err(); // name is unique
    /// assert_eq!(err.kind(), dualdb::ErrorKind::UniqueViolation);
    /// # Ok(())
    /// # });
    /// ```
    fn create<M>(&self, model: M) -> M
        where [M: Model] = |d| create(d, model);

    /// Updates every column of the model's row (found by primary key);
    /// returns the rows matched: 1 if the row is stored, even if it held
    /// these values already, and 0 if it is not, on every backend (MySQL
    /// counts only changed rows: when it counts none, a locking read of the
    /// key follows).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let mut ada = db.sync().create(user("ada"))?;
    /// ada.age = Some(36);
    /// assert_eq!(db.aio().update(&ada).await?, 1);
    /// assert_eq!(db.sync().get(User::by_id(ada.id))?.age, Some(36));
    /// # Ok(())
    /// # });
    /// ```
    fn update<M>(&self, model: &M) -> u64
        where [M: Model] = |d| crate::plan::either(update(d, model, None));

    /// Updates only the listed columns: `update_only(&user, &[&User::NAME])`;
    /// returns the rows matched, as [`update`](Self::update) does.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let mut ada = db.sync().create(user("ada"))?;
    /// ada.age = Some(36);
    /// ada.name = "not saved".into();
    /// db.aio().update_only(&ada, &[&User::AGE]).await?;
    /// let stored = db.sync().get(User::by_id(ada.id))?;
    /// assert_eq!((stored.name.as_str(), stored.age), ("ada", Some(36)));
    /// # Ok(())
    /// # });
    /// ```
    fn update_only<M>(&self, model: &M, columns: &[&dyn ColumnOf<M>]) -> u64
        where [M: Model] = |d| crate::plan::either(update(d, model, Some(columns)));

    /// Deletes the model's row; returns the rows deleted.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// assert_eq!(db.aio().delete(&ada).await?, 1);
    /// assert_eq!(db.sync().delete(&ada)?, 0); // already gone
    /// # Ok(())
    /// # });
    /// ```
    fn delete<M>(&self, model: &M) -> u64
        where [M: Model] = |d| delete(d, model, false, false);

    /// Deletes the model's row and, first, its dependants through every
    /// registered foreign key: dependants with a nullable key get it set to
    /// NULL unless `delete_nullable`, the others are deleted (recursively).
    /// Through a key to the model's own table (a tree of replies or
    /// categories) that means the whole subtree: read a level at a time and
    /// deleted leaves first, each node's dependants with it. All or
    /// nothing. Returns the rows of the model's own table deleted.
    ///
    /// ```rust,standalone_crate
    /// # // standalone: the model registry would see the other examples' models
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// db.sync().create(Post { id: 0, author: ada.id, title: "hello".into() })?;
    /// // the post goes first (its key is not nullable), then the user
    /// assert_eq!(db.aio().delete_recursive(&ada, false).await?, 1);
    /// assert_eq!(db.sync().count(Post::select(), false)?, 0);
    /// # Ok(())
    /// # });
    /// ```
    fn delete_recursive<M>(&self, model: &M, delete_nullable: bool) -> u64
        where [M: Model] = |d| delete(d, model, true, delete_nullable);

    /// The first row matching `lookup`, or, if there is none, `make()`
    /// inserted; `true` if it was created. `make` runs only when creating.
    /// Safe when two callers race on a unique key: the loser gets the
    /// winner's row.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let make = || User { id: 0, name: "ada".into(), age: None }; // runs only when creating
    /// let (ada, created) = db.aio().get_or_create(User::NAME.eq("ada"), make).await?;
    /// assert!(created);
    /// let (again, created) = db.sync().get_or_create(User::NAME.eq("ada"), || unreachable!())?;
    /// assert!(!created);
    /// assert_eq!(again, ada);
    /// # Ok(())
    /// # });
    /// ```
    fn get_or_create<M, L, F>(&self, lookup: L, make: F) -> (M, bool)
        where [M: Model, L: Into<Select<M>>, F: FnOnce() -> M + Send] = |d| GetOrCreate::new(d, lookup.into(), make);

    /// Inserts the model, or, if a unique column already holds one of its
    /// values, returns that row; `true` if it was created.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let (ada, created) = db.sync().create_or_get(user("ada"))?;
    /// assert!(created);
    /// let (same, created) = db.aio().create_or_get(user("ada")).await?; // name is unique
    /// assert!(!created);
    /// assert_eq!(same.id, ada.id);
    /// # Ok(())
    /// # });
    /// ```
    fn create_or_get<M>(&self, model: M) -> (M, bool)
        where [M: Model] = |d| CreateOrGet::new(d, model);

    /// Runs a query: a [`Select`] returns models, an [`UpdateQuery`](crate::model::UpdateQuery) or
    /// [`DeleteQuery`](crate::model::DeleteQuery) the rows changed (an update's as the server counts
    /// them: on MySQL/MariaDB the rows whose values changed, elsewhere the rows matched), an
    /// [`InsertMany`](crate::model::InsertMany) the stored rows.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute_query(User::insert_many(vec![user("a"), user("b"), user("c")]))?;
    /// let two = db.aio().execute_query(User::select().order_by(User::NAME.desc()).limit(2)).await?;
    /// assert_eq!(two[0].name, "c");
    /// assert_eq!(db.sync().execute_query(User::delete_query().filter(User::NAME.ne("a")))?, 2);
    /// # Ok(())
    /// # });
    /// ```
    fn execute_query<Q>(&self, query: Q) -> Q::Output
        where [Q: Executable] = |d| query.into_plan(d);

    /// Parents and what is related to them through foreign keys: the parent
    /// query, then one query per sub-query (no N+1). `related` is a
    /// [`Select`] of a model with a foreign key to `P`, a tuple of such, or
    /// nested with [`Select::with`]; see [`prefetch`](crate::model::prefetch).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let ada = db.sync().create(user("ada"))?;
    /// db.sync().create(user("bob"))?;
    /// for title in ["one", "two"] {
    ///     db.sync().create(Post { id: 0, author: ada.id, title: title.into() })?;
    /// }
    /// // two queries in all, however many users
    /// let rows = db.aio().prefetch(User::select().order_by(User::NAME.asc()), Post::select()).await?;
    /// assert_eq!(rows[0].1.len(), 2); // ada's posts
    /// assert!(rows[1].1.is_empty()); // bob's
    /// # Ok(())
    /// # });
    /// ```
    fn prefetch<P, R>(&self, parents: Select<P>, related: R) -> Vec<(P, R::Output)>
        where [P: Model, R: Related<P>] = |d| {
            crate::plan::either(parents.check(&[]).map(|()| Prefetch::new(d, parents, related)))
        };

    /// `SELECT COUNT(*)` of the query, respecting its `LIMIT`/`OFFSET` unless
    /// `clear_limit`.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute_query(User::insert_many(vec![user("a"), user("b"), user("c")]))?;
    /// assert_eq!(db.aio().count(User::select().limit(2), false).await?, 2);
    /// assert_eq!(db.sync().count(User::select().limit(2), true)?, 3);
    /// assert_eq!(db.sync().count(User::NAME.eq("b"), false)?, 1);
    /// # Ok(())
    /// # });
    /// ```
    fn count<M, L>(&self, query: L, clear_limit: bool) -> i64
        where [M: Model, L: Into<Select<M>>] = |d| count(d, query.into(), clear_limit);

    /// Whether the query matches any row.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// assert!(!db.aio().exists(User::NAME.eq("ada")).await?);
    /// db.sync().create(user("ada"))?;
    /// assert!(db.sync().exists(User::NAME.eq("ada"))?);
    /// # Ok(())
    /// # });
    /// ```
    fn exists<M, L>(&self, query: L) -> bool
        where [M: Model, L: Into<Select<M>>] = |d| exists(d, query.into());

    /// The first row of a query on [`Select::fields`], as one value or a
    /// tuple: `scalar::<_, (i64, Option<i32>)>(User::select().fields([…]))`.
    /// A query that returns no row gives `None` for an `Option<T>` (a tuple
    /// of `None`s for a tuple of `Option`s), and a
    /// [`NotFound`](crate::ErrorKind::NotFound) error for any other type.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// use dualdb::model::Field;
    /// db.sync().execute_query(User::insert_many(vec![user("a"), user("b")]))?;
    /// let n: i64 = db.aio().scalar(User::select().fields([Field::count_all()])).await?;
    /// let (first, last): (String, String) =
    ///     db.sync().scalar(User::select().fields([User::NAME.min(), User::NAME.max()]))?;
    /// assert_eq!((n, first.as_str(), last.as_str()), (2, "a", "b"));
    /// // No row: None for an Option, NotFound otherwise.
    /// let none: Option<String> = db.aio().scalar(User::select().filter(User::NAME.eq("zed")).fields([User::NAME.field()])).await?;
    /// assert_eq!(none, None);
    /// let err = db.sync().scalar::<_, String>(User::select().filter(User::NAME.eq("zed")).fields([User::NAME.field()]));
    /// assert_eq!(err.unwrap_err().kind(), dualdb::ErrorKind::NotFound);
    /// # Ok(())
    /// # });
    /// ```
    fn scalar<M, T>(&self, query: Select<M>) -> T
        where [M: Model, T: FromRow + Send] = |d| scalar::<M, T>(d, query);

    /// Runs a statement and folds its rows into `init` with `f`, one row at
    /// a time as the server sends them: the rows are never all in memory, so
    /// a million-row export takes no more memory than one row (and the
    /// driver's buffer). An error from `f` stops the statement and is
    /// returned as it was; the connection is left clean. `f` may return the
    /// caller's own error type (`E: From<dualdb::Error>`; `'static`, as it
    /// travels inside dualdb's error until the call hands it back); where
    /// nothing names it, write `Ok::<_, dualdb::Error>(…)`. Inside a
    /// transaction its connection is reading the rows while `f` runs, so a
    /// call of the same transaction from `f` is a
    /// [`Usage`](crate::ErrorKind::Usage) error: collect the rows first.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// let sql = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) SELECT i FROM n";
    /// // 100,000 rows, one in memory at a time
    /// let sum = db.aio().fold_rows(sql, &[], 0i64, |sum, row| Ok::<_, dualdb::Error>(sum + row.get::<i64>(0)?)).await?;
    /// assert_eq!(sum, 5_000_050_000);
    /// let (n, last) = db.sync().fold_rows(sql, &[], (0, 0i64), |(n, _), row| Ok::<_, dualdb::Error>((n + 1, row.get(0)?)))?;
    /// assert_eq!((n, last), (100_000, 100_000));
    /// // An error from the closure stops the statement:
    /// let err = db.sync().fold_rows(sql, &[], (), |_, _| Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "enough")));
    /// assert_eq!(err.unwrap_err().message(), "enough");
    /// # Ok(())
    /// # });
    /// ```
    fn fold_rows<A, E, F>(&self, sql: &str, params: &[&(dyn ToSql + Sync)], init: A, f: F) -> A | E
        where [A: Send, E: From<Error> + Send + Sync + 'static, F: FnMut(A, Row) -> Result<A, E> + Send] = |_d| fold_rows(sql, params, init, f);

    /// [`fold_rows`](Self::fold_rows) over a model query: each row decoded
    /// into `M` as it arrives (on the read replica, if there is one).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().execute_query(User::insert_many(vec![
    ///     User { id: 0, name: "ada".into(), age: Some(36) },
    ///     User { id: 0, name: "bob".into(), age: None },
    /// ]))?;
    /// let names = db.aio().fold(User::select().order_by(User::NAME.asc()), String::new(), |mut s, u: User| {
    ///     s.push_str(&u.name);
    ///     Ok::<_, dualdb::Error>(s)
    /// }).await?;
    /// assert_eq!(names, "adabob");
    /// let ages: i32 = db.sync().fold(User::select(), 0, |sum, u: User| Ok::<_, dualdb::Error>(sum + u.age.unwrap_or(0)))?;
    /// assert_eq!(ages, 36);
    /// # Ok(())
    /// # });
    /// ```
    fn fold<M, A, E, F>(&self, query: Select<M>, init: A, f: F) -> A | E
        where [M: Model, A: Send, E: From<Error> + Send + Sync + 'static, F: FnMut(A, M) -> Result<A, E> + Send] = |d| fold(d, query, init, f);

    /// Raw SQL, each row mapped to a model by column name, or to a tuple of
    /// models side by side for a join (see [`ModelRow`](crate::ModelRow)).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(users);
    /// # run(async |db| {
    /// db.sync().create(user("ada"))?;
    /// let found: Vec<User> = db.aio().raw("SELECT * FROM user WHERE name LIKE ?", &[&"a%"]).await?;
    /// assert_eq!(found[0].name, "ada");
    /// let none: Vec<User> = db.sync().raw("SELECT * FROM user WHERE age > ?", &[&100])?;
    /// assert!(none.is_empty());
    /// let joined: Vec<(User, Option<Post>)> = db
    ///     .aio()
    ///     .raw("SELECT user.*, post.* FROM user LEFT JOIN post ON post.author = user.id", &[])
    ///     .await?;
    /// assert!(joined[0].1.is_none()); // ada has no posts
    /// # Ok(())
    /// # });
    /// ```
    fn raw<T>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<T>
        where [T: ModelRow] = |_d| raw::<T>(sql, params);
}

/// The action of `query`, `query_one` and `query_opt`, or its refusal of a
/// transaction statement ([`crate::raw_transactions`]).
fn raw_query(sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Action> {
    crate::raw_transactions::refuse(sql)?;
    Ok(Action::Query(Stmt::new(sql, params)))
}

/// `execute`'s plan, or its refusal of a transaction statement
/// ([`crate::raw_transactions`]).
#[inline]
fn raw_execute(
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<impl crate::plan::Plan<Output = u64> + use<>> {
    crate::raw_transactions::refuse(sql)?;
    Ok(One::new(Action::Execute(Stmt::new(sql, params)), |r| {
        Ok(r.done()?.rows_affected)
    }))
}

/// `pg_notify(channel, payload)`, or the error of a backend without it.
fn notify(
    d: crate::model::Dialect,
    channel: &str,
    payload: &str,
) -> Result<impl crate::plan::Plan<Output = ()> + use<>> {
    if d.kind != crate::BackendKind::Postgres {
        return Err(Error::new(
            crate::ErrorKind::Usage,
            format!("NOTIFY is PostgreSQL's: {} has no notifications", d.kind),
        ));
    }
    let stmt = Stmt::new("SELECT pg_notify($1, $2)", &[&channel, &payload]);
    Ok(One::new(Action::Execute(stmt), |r| r.done().map(|_| ())))
}
