//! The models and data the documentation's examples share, so that each
//! example shows only its own lines. Used by doc-tests alone (they compile
//! as a crate of their own, hence an exported macro); hidden from the docs.

/// `__doc_fixtures!(users)` defines `User`, `Post` (a foreign key to
/// `User`), `user(name)` and `run(async |db| { … })`, which gives the
/// closure a SQLite database with both tables on a fresh runtime.
///
/// `__doc_fixtures!(users: db, s)` defines the same models and binds `db` to
/// a SQLite database with both tables and `s` to its blocking half.
///
/// `__doc_fixtures!(posts: db, s)` is `users: db, s` with users ann, bob
/// and cy, and posts "hello" and "again" by ann and "mine" by bob.
///
/// `__doc_fixtures!(books: db, s)` defines `Book` and binds `db` to a SQLite
/// database and `s` to its blocking half, the table holding three books;
/// `__doc_fixtures!(no books: db, s)` leaves the table empty.
#[doc(hidden)]
#[macro_export]
macro_rules! __doc_fixtures {
    (users) => {
        #[allow(unused_imports)]
        use ::dualdb::{Database, Model};
        #[derive(::dualdb::Model, Debug, Clone, PartialEq)]
        struct User {
            #[model(primary_key, auto)]
            id: i64,
            #[model(unique, max_length = 40)]
            name: String,
            age: Option<i32>,
        }
        #[derive(::dualdb::Model, Debug, Clone, PartialEq)]
        struct Post {
            #[model(primary_key, auto)]
            id: i64,
            #[model(references = User)]
            author: i64,
            title: String,
        }
        #[allow(dead_code)]
        fn user(name: &str) -> User {
            User { id: 0, name: name.into(), age: None }
        }
        #[allow(dead_code)]
        fn run(f: impl AsyncFnOnce(::dualdb::Database) -> ::dualdb::Result<()>) {
            ::tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(async {
                    let db = ::dualdb::Database::open("sqlite::memory:")?;
                    db.sync().create_table::<User>()?;
                    db.sync().create_table::<Post>()?;
                    f(db).await
                })
                .unwrap()
        }
    };
    (users: $db:ident, $s:ident) => {
        $crate::__doc_fixtures!(users);
        let $db = ::dualdb::Database::open("sqlite::memory:").unwrap();
        let $s = $db.sync();
        $s.create_table::<User>().unwrap();
        $s.create_table::<Post>().unwrap();
    };
    (posts: $db:ident, $s:ident) => {
        $crate::__doc_fixtures!(users: $db, $s);
        let [ann, bob, _cy] = ["ann", "bob", "cy"].map(|n| $s.create(user(n)).unwrap());
        for (author, title) in [(&ann, "hello"), (&ann, "again"), (&bob, "mine")] {
            $s.create(Post { id: 0, author: author.id, title: title.into() }).unwrap();
        }
    };
    (books: $db:ident, $s:ident) => {
        $crate::__doc_fixtures!(no books: $db, $s);
        for (title, pages, year) in [("Dune", 412, Some(1965)), ("Emma", 474, Some(1815)), ("Notes", 90, None)] {
            $s.create(Book { id: 0, title: title.into(), pages, year }).unwrap();
        }
    };
    (no books: $db:ident, $s:ident) => {
        #[allow(unused_imports)]
        use ::dualdb::{Database, Model};
        #[derive(::dualdb::Model, Debug, Clone, PartialEq)]
        struct Book {
            #[model(primary_key, auto)]
            id: i64,
            title: String,
            pages: i32,
            year: Option<i32>,
        }
        let $db = ::dualdb::Database::open("sqlite::memory:").unwrap();
        let $s = $db.sync();
        $s.create_table::<Book>().unwrap();
    };
}
