//! `is_in` and `not_in` with a sub-query, in selects, updates and deletes,
//! and correlated `filter_exists` / `filter_not_exists`, on both halves of
//! every backend, in and out of transactions, checked
//! against the rows stored. A sub-query with a `LIMIT` works on MariaDB
//! too (it is read from a derived table there and everywhere).

mod common;

use common::{HALVES, isolated_all};
use dualdb::{Database, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "sub_authors")]
struct Author {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "sub_books")]
struct Book {
    #[model(primary_key, auto)]
    id: i64,
    author_id: i64,
    title: String,
    pages: i32,
}

/// Authors ann, bob, cy; ann wrote 2 books, bob 1, cy none.
async fn fresh(db: &Database) -> Vec<Author> {
    db.aio().drop_table::<Book>().await.unwrap();
    db.aio().drop_table::<Author>().await.unwrap();
    db.aio().create_table::<Author>().await.unwrap();
    db.aio().create_table::<Book>().await.unwrap();
    let authors = ["ann", "bob", "cy"].map(|n| Author {
        id: 0,
        name: n.into(),
    });
    let authors = db
        .aio()
        .execute_query(Author::insert_many(authors.to_vec()))
        .await
        .unwrap();
    let books = vec![
        book(authors[0].id, "A1", 100),
        book(authors[0].id, "A2", 300),
        book(authors[1].id, "B1", 200),
    ];
    db.aio()
        .execute_query(Book::insert_many(books))
        .await
        .unwrap();
    authors
}

fn book(author_id: i64, title: &str, pages: i32) -> Book {
    Book {
        id: 0,
        author_id,
        title: title.into(),
        pages,
    }
}

fn titles(books: Vec<Book>) -> Vec<String> {
    let mut t: Vec<String> = books.into_iter().map(|b| b.title).collect();
    t.sort();
    t
}

fn names(authors: Vec<Author>) -> Vec<String> {
    let mut n: Vec<String> = authors.into_iter().map(|a| a.name).collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subqueries_in_selects_updates_and_deletes() {
    for db in isolated_all("subqueries") {
        for half in HALVES {
            fresh(&db).await;
            let what = format!("{:?} {half:?}", db.backend());
            // Books by authors whose name starts with "a" (the sub-query
            // selects the authors' keys: no fields given).
            let a_authors = Author::select().filter(Author::NAME.like("a%"));
            let q = Book::select().filter(Book::AUTHOR_ID.is_in(a_authors.clone()));
            let got = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(titles(got), ["A1", "A2"], "{what}");
            let q = Book::select().filter(Book::AUTHOR_ID.not_in(a_authors));
            assert_eq!(titles(call!(half, db, execute_query(q)).unwrap()), ["B1"]);
            // Authors with a long book: the sub-query names its column.
            let long = Book::select()
                .filter(Book::PAGES.ge(200))
                .fields([Book::AUTHOR_ID.field()]);
            let q = Author::select().filter(Author::ID.is_in(long.clone()));
            assert_eq!(
                names(call!(half, db, execute_query(q)).unwrap()),
                ["ann", "bob"]
            );
            // Authors with no book at all.
            let any = Book::select().fields([Book::AUTHOR_ID.field()]);
            let q = Author::select().filter(Author::ID.not_in(any));
            assert_eq!(names(call!(half, db, execute_query(q)).unwrap()), ["cy"]);
            // A sub-query with LIMIT: the author of the longest book.
            let longest = Book::select()
                .order_by(Book::PAGES.desc())
                .limit(1)
                .fields([Book::AUTHOR_ID.field()]);
            let q = Author::select().filter(Author::ID.is_in(longest));
            assert_eq!(
                names(call!(half, db, execute_query(q)).unwrap()),
                ["ann"],
                "{what}"
            );
            // An empty sub-query matches nothing (and NOT IN it everything).
            let none = Author::select().filter(Author::NAME.eq("nobody"));
            let q = Book::select().filter(Book::AUTHOR_ID.is_in(none.clone()));
            assert!(call!(half, db, execute_query(q)).unwrap().is_empty());
            let q = Book::select().filter(Book::AUTHOR_ID.not_in(none));
            assert_eq!(call!(half, db, count(q, false)).unwrap(), 3);

            // An update through a sub-query on another table: bob's books
            // get 10 more pages.
            let bob = Author::select().filter(Author::NAME.eq("bob"));
            let q = Book::update_query()
                .set_expr(Book::PAGES, Book::PAGES + 10)
                .filter(Book::AUTHOR_ID.is_in(bob));
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 1, "{what}");
            assert_eq!(db.aio().get(Book::TITLE.eq("B1")).await.unwrap().pages, 210);
            assert_eq!(db.aio().get(Book::TITLE.eq("A1")).await.unwrap().pages, 100);
            // A delete through one: authors with no books.
            let written = Book::select().fields([Book::AUTHOR_ID.field()]);
            let q = Author::delete_query().filter(Author::ID.not_in(written));
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 1, "{what}");
            let left = db.aio().execute_query(Author::select()).await.unwrap();
            assert_eq!(names(left), ["ann", "bob"], "{what}");
            // A delete whose sub-query reads the same table (MariaDB 10.3+
            // takes it; MySQL refuses it with its error 1093).
            let short = Book::select().filter(Book::PAGES.lt(150));
            let q = Book::delete_query().filter(Book::ID.is_in(short));
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 1, "{what}");
            let left = db.aio().execute_query(Book::select()).await.unwrap();
            assert_eq!(titles(left), ["A2", "B1"], "{what}");
        }
    }
}

/// Inside a transaction, a sub-query sees the transaction's own rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subqueries_see_the_transactions_rows() {
    for db in isolated_all("subqueries_tx") {
        fresh(&db).await;
        let what = format!("{:?}", db.backend());
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                let dee = tx
                    .create(Author {
                        id: 0,
                        name: "dee".into(),
                    })
                    .await?;
                tx.create(book(dee.id, "D1", 50)).await?;
                let d = Author::select().filter(Author::NAME.eq("dee"));
                let q = Book::select().filter(Book::AUTHOR_ID.is_in(d));
                assert_eq!(titles(tx.execute_query(q).await?), ["D1"], "{what}");
                Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        db.sync()
            .atomic(|tx| -> dualdb::Result<()> {
                let written = Book::select().fields([Book::AUTHOR_ID.field()]);
                let q = Author::delete_query().filter(Author::ID.not_in(written));
                assert_eq!(tx.execute_query(q)?, 1, "{what}");
                assert_eq!(tx.count(Author::select(), false)?, 2);
                Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
            })
            .unwrap_err();
        assert_eq!(db.aio().count(Author::select(), false).await.unwrap(), 3);
        assert_eq!(db.aio().count(Book::select(), false).await.unwrap(), 3);
    }
}

/// Correlated EXISTS and NOT EXISTS: the sub-query names the outer query's
/// model through `eq_col`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exists_and_not_exists() {
    for db in isolated_all("subqueries_exists") {
        fresh(&db).await;
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            let books_of = || Book::select().filter(Book::AUTHOR_ID.eq_col(Author::ID));
            let q = Author::select().filter_exists(books_of());
            assert_eq!(
                names(call!(half, db, execute_query(q)).unwrap()),
                ["ann", "bob"],
                "{what}"
            );
            let q = Author::select().filter_not_exists(books_of());
            assert_eq!(
                names(call!(half, db, execute_query(q)).unwrap()),
                ["cy"],
                "{what}"
            );
            // With a condition of its own: authors of a book over 250 pages.
            let q = Author::select().filter_exists(books_of().filter(Book::PAGES.gt(250)));
            assert_eq!(
                names(call!(half, db, execute_query(q)).unwrap()),
                ["ann"],
                "{what}"
            );
            assert_eq!(
                call!(
                    half,
                    db,
                    count(Author::select().filter_not_exists(Book::select()), false)
                )
                .unwrap(),
                0,
                "{what}: an uncorrelated sub-query with rows"
            );
            // The sub-query alone names a model it does not read: refused.
            let err = call!(half, db, execute_query(books_of())).unwrap_err();
            assert_eq!(err.kind(), dualdb::ErrorKind::Usage, "{what}: {err}");
        }
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                let cy = tx.get(Author::NAME.eq("cy")).await?;
                tx.create(book(cy.id, "C1", 10)).await?;
                let books_of = Book::select().filter(Book::AUTHOR_ID.eq_col(Author::ID));
                let q = Author::select().filter_not_exists(books_of);
                assert!(tx.execute_query(q).await?.is_empty());
                Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        let q = Author::select()
            .filter_not_exists(Book::select().filter(Book::AUTHOR_ID.eq_col(Author::ID)));
        let lonely = db.sync().atomic(|tx| tx.execute_query(q)).unwrap();
        assert_eq!(names(lonely), ["cy"]);
    }
}

/// A scalar sub-query (`single_value`), correlated or not, as a selected
/// value, in a filter and in an order, on both halves, in and out of a
/// transaction; and sub-queries that fail their own check make the query
/// around them a `Usage` error before any I/O.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scalar_subqueries_select_filter_and_order() {
    use dualdb::model::Field;
    let books_of = || Book::select().filter(Book::AUTHOR_ID.eq_col(Author::ID));
    let count_of = || {
        books_of()
            .fields([Field::count_all()])
            .single_value::<i64>()
    };
    let longest = || {
        books_of()
            .fields([Book::PAGES.max()])
            .single_value::<Option<i32>>()
    };
    for db in isolated_all("subqueries_scalar") {
        fresh(&db).await;
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            let q = Author::select()
                .order_by(Author::NAME.asc())
                .select_fields((Author::NAME, count_of(), longest()));
            let rows: Vec<(String, i64, Option<i32>)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                rows,
                [
                    ("ann".to_string(), 2, Some(300)),
                    ("bob".to_string(), 1, Some(200)),
                    ("cy".to_string(), 0, None)
                ],
                "{what}"
            );
            // In a filter, and ordered by.
            let q = Author::select()
                .filter(count_of().ge(1))
                .order_by(longest().field().asc());
            let got: Vec<String> = call!(half, db, execute_query(q))
                .unwrap()
                .into_iter()
                .map(|a| a.name)
                .collect();
            assert_eq!(got, ["bob", "ann"], "{what}");
            // Uncorrelated: books longer than the shortest book by bob.
            let bobs = Book::select()
                .join_on(Book::AUTHOR_ID, Author::ID)
                .filter(Author::NAME.eq("bob"))
                .fields([Book::PAGES.min()])
                .single_value::<i32>();
            let q = Book::select().filter(bobs.lt(Book::PAGES));
            assert_eq!(
                titles(call!(half, db, execute_query(q)).unwrap()),
                ["A2"],
                "{what}"
            );
            // More than one row: the server's error on PostgreSQL and MySQL,
            // the first row on SQLite (as documented).
            let all_pages = Book::select()
                .fields([Book::PAGES.field()])
                .single_value::<i32>();
            let q = Author::select().select_fields(all_pages);
            let r: dualdb::Result<Vec<i32>> = call!(half, db, execute_query(q));
            match db.backend() {
                dualdb::BackendKind::Sqlite => assert_eq!(r.unwrap().len(), 3, "{what}"),
                _ => assert_eq!(r.unwrap_err().kind(), dualdb::ErrorKind::Query, "{what}"),
            }
            // A sub-query whose own join cannot be made, in each place a
            // sub-query goes: refused before the query runs.
            let broken = || Book::select().join::<Book>().fields([Book::ID.count()]);
            let q = Author::select().select_fields(broken().single_value::<i64>());
            let r: dualdb::Result<Vec<i64>> = call!(half, db, execute_query(q));
            let e = r.unwrap_err();
            assert_eq!(e.kind(), dualdb::ErrorKind::Usage, "{what}: {e}");
            assert!(e.to_string().contains("alias"), "{what}: {e}");
            let q = Author::select().filter_exists(Book::select().join::<Book>());
            let e = call!(half, db, execute_query(q)).unwrap_err();
            assert_eq!(e.kind(), dualdb::ErrorKind::Usage, "{what}: {e}");
            let q = Author::select().filter(Author::ID.is_in(Book::select().join::<Book>()));
            let e = call!(half, db, count(q, false)).unwrap_err();
            assert_eq!(e.kind(), dualdb::ErrorKind::Usage, "{what}: {e}");
            let q = Author::delete_query().filter(Author::ID.not_in(Book::select().join::<Book>()));
            let e = call!(half, db, execute_query(q)).unwrap_err();
            assert_eq!(e.kind(), dualdb::ErrorKind::Usage, "{what}: {e}");
            // A correlated sub-query used where the table it names is not read.
            let q = Book::select().select_fields(count_of());
            let r: dualdb::Result<Vec<i64>> = call!(half, db, execute_query(q));
            let e = r.unwrap_err();
            assert!(e.to_string().contains("Author"), "{what}: {e}");
            assert_eq!(call!(half, db, count(Author::select(), false)).unwrap(), 3);
        }
        let what = format!("{:?}", db.backend());
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                let cy = tx.get(Author::NAME.eq("cy")).await?;
                tx.create(book(cy.id, "C1", 10)).await?;
                let q = Author::select()
                    .filter(Author::NAME.eq("cy"))
                    .select_fields(count_of());
                let n: Vec<i64> = tx.execute_query(q).await?;
                assert_eq!(n, [1], "{what}");
                Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        let q = Author::select()
            .filter(Author::NAME.eq("cy"))
            .select_fields(count_of());
        let n: Vec<i64> = db.sync().atomic(|tx| tx.execute_query(q)).unwrap();
        assert_eq!(n, [0], "{what}");
    }
}

/// A query over a sub-query's rows (`Select::from_subquery`): ordered,
/// counted, grouped, joined and filtered on both halves, in and out of a
/// transaction; an inner query with fields of its own, or a lock, is a
/// `Usage` error before any I/O.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_over_a_subquerys_rows() {
    use dualdb::Select;
    use dualdb::model::Field;
    let longest_two = || Book::select().order_by(Book::PAGES.desc()).limit(2);
    for db in isolated_all("subqueries_from") {
        fresh(&db).await;
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            let q = Select::from_subquery(longest_two()).order_by(Book::TITLE.asc());
            let got: Vec<String> = call!(half, db, execute_query(q))
                .unwrap()
                .into_iter()
                .map(|b| b.title)
                .collect();
            assert_eq!(got, ["A2", "B1"], "{what}");
            let q = Select::from_subquery(longest_two());
            assert_eq!(call!(half, db, count(q, false)).unwrap(), 2, "{what}");
            // Grouped over the derived table, and joined to another table.
            let q = Select::from_subquery(longest_two())
                .join_on(Book::AUTHOR_ID, Author::ID)
                .group_by(Author::NAME)
                .order_by(Author::NAME.asc())
                .select_fields((Author::NAME, Field::<Book>::count_all(), Book::PAGES.sum()));
            let rows: Vec<(String, i64, i64)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                rows,
                [("ann".to_string(), 1, 300), ("bob".to_string(), 1, 200)],
                "{what}"
            );
            // A filter outside on what the inner query found, paged.
            let q = Select::from_subquery(Book::select().filter(Book::PAGES.ge(200)))
                .filter(Book::TITLE.like("A%"))
                .paginate(1, 10);
            assert_eq!(
                titles(call!(half, db, execute_query(q)).unwrap()),
                ["A2"],
                "{what}"
            );
            // Misuse, refused before the query runs.
            let usage = |e: dualdb::Error| {
                assert_eq!(e.kind(), dualdb::ErrorKind::Usage, "{what}: {e}");
                assert!(e.to_string().contains("from_subquery"), "{what}: {e}");
            };
            let q = Select::from_subquery(Book::select().fields([Book::TITLE.field()]));
            usage(call!(half, db, execute_query(q)).unwrap_err());
            let q = Select::from_subquery(longest_two().for_update());
            usage(call!(half, db, execute_query(q)).unwrap_err());
            let q = Select::from_subquery(longest_two()).for_update();
            usage(call!(half, db, execute_query(q)).unwrap_err());
            let q = Select::from_subquery(Book::select().join::<Book>());
            let e = call!(half, db, execute_query(q)).unwrap_err();
            assert_eq!(e.kind(), dualdb::ErrorKind::Usage, "{what}: {e}");
        }
        let what = format!("{:?}", db.backend());
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                let cy = tx.get(Author::NAME.eq("cy")).await?;
                tx.create(book(cy.id, "C1", 900)).await?;
                let got = tx
                    .execute_query(Select::from_subquery(longest_two()))
                    .await?;
                assert_eq!(titles(got), ["A2", "C1"], "{what}");
                Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        let got = db
            .sync()
            .atomic(|tx| tx.execute_query(Select::from_subquery(longest_two())))
            .unwrap();
        assert_eq!(titles(got), ["A2", "B1"], "{what}");
    }
}
