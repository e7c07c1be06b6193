//! Joins on both halves of every backend, in and out of transactions,
//! checked against the rows returned: conditions inferred from
//! `references` (either direction) or given with `join_on`, inner and left
//! outer, several in one query, filters and orders on any joined model,
//! rows read as tuples of models (`(Post, Author)`, `(Author,
//! Option<Post>)`), and the bad joins, refused before any I/O.

mod common;

use common::{HALVES, Half, isolated_all};
use dualdb::{Database, ErrorKind, Model};
use futures::TryStreamExt;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "join_authors")]
struct Author {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "join_posts")]
struct Post {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Author)]
    author: i64,
    title: String,
    views: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "join_comments")]
struct Comment {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Post)]
    post: i64,
    body: String,
}

/// Two foreign keys to `Author`: a join must say which.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "join_transfers")]
struct Transfer {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Author)]
    giver: i64,
    #[model(references = Author)]
    taker: i64,
}

/// No foreign key at all.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "join_notes")]
struct Note {
    #[model(primary_key, auto)]
    id: i64,
    text: String,
}

/// ann wrote "a1" (5 views) and "a2" (50), bob "b1" (500), cy nothing;
/// "a1" has comments "x" and "y", "b1" has "z".
async fn fresh(db: &Database) {
    let a = db.aio();
    for drop in [
        a.drop_table::<Comment>().await,
        a.drop_table::<Transfer>().await,
        a.drop_table::<Post>().await,
        a.drop_table::<Author>().await,
        a.drop_table::<Note>().await,
    ] {
        drop.unwrap();
    }
    a.create_table::<Author>().await.unwrap();
    a.create_table::<Post>().await.unwrap();
    a.create_table::<Comment>().await.unwrap();
    a.create_table::<Transfer>().await.unwrap();
    a.create_table::<Note>().await.unwrap();
    let author = |n: &str| Author {
        id: 0,
        name: n.into(),
    };
    let authors = a
        .execute_query(Author::insert_many(vec![
            author("ann"),
            author("bob"),
            author("cy"),
        ]))
        .await
        .unwrap();
    let post = |by: usize, title: &str, views| Post {
        id: 0,
        author: authors[by].id,
        title: title.into(),
        views,
    };
    let posts = a
        .execute_query(Post::insert_many(vec![
            post(0, "a1", 5),
            post(0, "a2", 50),
            post(1, "b1", 500),
        ]))
        .await
        .unwrap();
    let comment = |on: usize, body: &str| Comment {
        id: 0,
        post: posts[on].id,
        body: body.into(),
    };
    a.execute_query(Comment::insert_many(vec![
        comment(0, "x"),
        comment(0, "y"),
        comment(2, "z"),
    ]))
    .await
    .unwrap();
}

/// Each author with each of their posts, by name then post: cy has none.
const EVERY_AUTHORS_POSTS: [(&str, Option<&str>); 4] = [
    ("ann", Some("a1")),
    ("ann", Some("a2")),
    ("bob", Some("b1")),
    ("cy", None),
];

fn titles(posts: &[Post]) -> Vec<&str> {
    posts.iter().map(|p| p.title.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_filter_order_and_read_tuples() {
    for db in isolated_all("joins") {
        fresh(&db).await;
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            // Inferred from Post.author; a filter and an order on the joined model.
            let q = Post::select()
                .join::<Author>()
                .filter(Author::NAME.eq("ann"))
                .order_by(Post::VIEWS.desc());
            let got = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(titles(&got), ["a2", "a1"], "{what}");
            // The other direction: authors through their posts' views.
            let q = Author::select()
                .join::<Post>()
                .filter(Post::VIEWS.ge(50))
                .order_by(Author::NAME.asc());
            let got = call!(half, db, execute_query(q)).unwrap();
            let names: Vec<&str> = got.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(names, ["ann", "bob"], "{what}");
            // One row a match: ann twice, unless DISTINCT.
            let q = Author::select().join::<Post>();
            assert_eq!(call!(half, db, count(q.clone(), false)).unwrap(), 3);
            assert_eq!(call!(half, db, count(q.distinct(), false)).unwrap(), 2);
            // An OR across the two models, and an order by the joined one.
            let q = Post::select()
                .join::<Author>()
                .filter(Post::VIEWS.gt(40) | Author::NAME.eq("ann"))
                .order_by(Author::NAME.desc())
                .order_by(Post::ID.asc());
            let got = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(titles(&got), ["b1", "a1", "a2"], "{what}");
            // Rows as tuples of models.
            let q = Post::select()
                .join::<Author>()
                .order_by(Post::ID.asc())
                .models::<(Post, Author)>();
            let rows = call!(half, db, execute_query(q)).unwrap();
            let pairs: Vec<(&str, &str)> = rows
                .iter()
                .map(|(p, a)| (p.title.as_str(), a.name.as_str()))
                .collect();
            assert_eq!(
                pairs,
                [("a1", "ann"), ("a2", "ann"), ("b1", "bob")],
                "{what}"
            );
            assert!(rows.iter().all(|(p, a)| p.author == a.id));
            // A left outer join: cy has no post.
            let q = Author::select()
                .left_outer_join::<Post>()
                .order_by(Author::NAME.asc())
                .order_by(Post::ID.asc())
                .models::<(Author, Option<Post>)>();
            let rows = call!(half, db, execute_query(q)).unwrap();
            let seen: Vec<(&str, Option<&str>)> = rows
                .iter()
                .map(|(a, p)| (a.name.as_str(), p.as_ref().map(|p| p.title.as_str())))
                .collect();
            assert_eq!(seen, EVERY_AUTHORS_POSTS, "{what}");
            // Three models: comments with their posts and authors.
            let q = Comment::select()
                .join::<Post>()
                .join::<Author>()
                .filter(Author::NAME.eq("ann"))
                .order_by(Comment::BODY.asc())
                .models::<(Comment, Post, Author)>();
            let rows = call!(half, db, execute_query(q)).unwrap();
            let seen: Vec<(&str, &str, &str)> = rows
                .iter()
                .map(|(c, p, a)| (c.body.as_str(), p.title.as_str(), a.name.as_str()))
                .collect();
            assert_eq!(seen, [("x", "a1", "ann"), ("y", "a1", "ann")], "{what}");
            // join_on, inner and left outer: posts with more than 10 views.
            let q = Author::select()
                .join_on(Author::ID, Post::AUTHOR)
                .filter(Post::VIEWS.gt(10))
                .order_by(Post::VIEWS.asc())
                .models::<(Author, Post)>();
            let rows = call!(half, db, execute_query(q)).unwrap();
            let seen: Vec<(&str, i64)> = rows
                .iter()
                .map(|(a, p)| (a.name.as_str(), p.views))
                .collect();
            assert_eq!(seen, [("ann", 50), ("bob", 500)], "{what}");
            let q = Post::select()
                .left_outer_join_on(Post::ID, Comment::POST)
                .filter(Comment::ID.is_null());
            let got = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(titles(&got), ["a2"], "{what}: the post with no comment");
            // A transfer's giver, said with join_on where the key is ambiguous.
            // count, exists, scalar and get through joins.
            let ann_posts = Post::select()
                .join::<Author>()
                .filter(Author::NAME.eq("ann"));
            assert_eq!(call!(half, db, count(ann_posts.clone(), false)).unwrap(), 2);
            assert!(call!(half, db, exists(ann_posts.clone())).unwrap());
            let most: i64 = call!(
                half,
                db,
                scalar(ann_posts.clone().fields([Post::VIEWS.max()]))
            )
            .unwrap();
            assert_eq!(most, 50, "{what}");
            let top = ann_posts.order_by(Post::VIEWS.desc());
            assert_eq!(call!(half, db, get(top)).unwrap().title, "a2");
        }
        // The async stream reads a join too.
        let q = Post::select()
            .join::<Author>()
            .filter(Author::NAME.eq("bob"));
        let streamed: Vec<Post> = db.aio().fetch(q.clone()).try_collect().await.unwrap();
        assert_eq!(titles(&streamed), ["b1"]);
        let iterated: Vec<Post> = db.sync().fetch(q).collect::<Result<_, _>>().unwrap();
        assert_eq!(titles(&iterated), ["b1"]);
        // Tuples of models and of values stream too, on both halves and in
        // transactions, as execute_query reads them.
        let pairs = || {
            Post::select()
                .join::<Author>()
                .order_by(Post::ID.asc())
                .models::<(Post, Author)>()
        };
        let values = || {
            Author::select()
                .left_outer_join::<Post>()
                .order_by(Author::NAME.asc())
                .order_by(Post::ID.asc())
                .select_fields((Author::NAME, Post::TITLE))
        };
        let want = call!(Half::Async, db, execute_query(pairs())).unwrap();
        let streamed: Vec<(Post, Author)> = db.aio().fetch(pairs()).try_collect().await.unwrap();
        assert_eq!(streamed, want);
        let iterated: Vec<(Post, Author)> =
            db.sync().fetch(pairs()).collect::<Result<_, _>>().unwrap();
        assert_eq!(iterated, want);
        let named: Vec<(String, Option<String>)> =
            db.aio().fetch(values()).try_collect().await.unwrap();
        let seen: Vec<(&str, Option<&str>)> = named
            .iter()
            .map(|(a, t)| (a.as_str(), t.as_deref()))
            .collect();
        assert_eq!(seen, EVERY_AUTHORS_POSTS);
        let in_tx: Vec<(String, Option<String>)> = db
            .sync()
            .atomic(|tx| tx.fetch(values()).collect::<Result<_, _>>())
            .unwrap();
        assert_eq!(in_tx, named);
        let in_tx: Vec<(Post, Author)> = db
            .aio()
            .atomic(async |tx| tx.fetch(pairs()).try_collect().await)
            .await
            .unwrap();
        assert_eq!(in_tx, want);
        // A tuple query that fails its check fails the stream, before I/O.
        let bad = Post::select().models::<(Post, Author)>();
        let err = db
            .aio()
            .fetch(bad.clone())
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
        let err = db.sync().fetch(bad).next().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{err}");
    }
}

/// Inside transactions, joins read the transaction's rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_in_transactions() {
    for db in isolated_all("joins_tx") {
        fresh(&db).await;
        let what = format!("{:?}", db.backend());
        let cy = db.aio().get(Author::NAME.eq("cy")).await.unwrap();
        let by_cy = || {
            Post::select()
                .join::<Author>()
                .filter(Author::NAME.eq("cy"))
                .models::<(Post, Author)>()
        };
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.create(Post {
                    id: 0,
                    author: cy.id,
                    title: "c1".into(),
                    views: 1,
                })
                .await?;
                let rows = tx.execute_query(by_cy()).await?;
                assert_eq!(rows.len(), 1, "{what}");
                assert_eq!(
                    (rows[0].0.title.as_str(), rows[0].1.name.as_str()),
                    ("c1", "cy")
                );
                Err(dualdb::Error::new(ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        db.sync()
            .atomic(|tx| -> dualdb::Result<()> {
                assert!(tx.execute_query(by_cy())?.is_empty(), "{what}: rolled back");
                tx.create(Post {
                    id: 0,
                    author: cy.id,
                    title: "c2".into(),
                    views: 2,
                })?;
                assert_eq!(tx.execute_query(by_cy())?.len(), 1);
                Ok(())
            })
            .unwrap();
        assert_eq!(db.aio().execute_query(by_cy()).await.unwrap().len(), 1);
    }
}

/// Joins that cannot be made, and queries naming a model they do not read
/// from, are `Usage` errors before any I/O: against a server that is not
/// there, the error is still `Usage`, not `Connect`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_joins_fail_before_any_io() {
    for (url, db) in common::dead_and_live() {
        for half in HALVES {
            let what = format!("{url} {half:?}");
            let usage = |r: dualdb::Error, says: &str| common::assert_usage(&r, says, &what);
            // No foreign key between the models.
            let q = Post::select().join::<Note>();
            usage(call!(half, db, execute_query(q)).unwrap_err(), "join_on");
            // Two: the join must say which.
            let q = Transfer::select().join::<Author>();
            usage(call!(half, db, count(q, false)).unwrap_err(), "giver");
            // A filter, an order, a selected model not joined.
            let q = Post::select().filter(Author::NAME.eq("ann"));
            usage(call!(half, db, execute_query(q)).unwrap_err(), "Author");
            let q = Post::select().filter(Post::VIEWS.gt(1) & Comment::BODY.eq("x"));
            usage(call!(half, db, exists(q)).unwrap_err(), "Comment");
            let q = Post::select().order_by(Author::NAME.asc());
            usage(
                call!(half, db, get_or_none(q)).unwrap_err(),
                "an order names Author",
            );
            let q = Post::select().join::<Author>().models::<(Post, Comment)>();
            usage(call!(half, db, execute_query(q)).unwrap_err(), "Comment");
            // join_on from a model not in the query yet.
            let q = Post::select().join_on(Comment::POST, Author::ID);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "join Comment first",
            );
            // The same model twice.
            let q = Post::select().join::<Author>().join::<Author>();
            usage(call!(half, db, execute_query(q)).unwrap_err(), "alias");
            // An update or delete whose filter names another model.
            let q = Post::update_query()
                .set(Post::VIEWS, 0)
                .filter(Post::VIEWS.gt(1) & Author::NAME.eq("ann"));
            usage(call!(half, db, execute_query(q)).unwrap_err(), "sub-query");
            let q = Post::delete_query().filter(Post::ID.eq(1) | Author::NAME.eq("ann"));
            usage(call!(half, db, execute_query(q)).unwrap_err(), "sub-query");
        }
        let stream = db.aio().fetch(Post::select().filter(Author::NAME.eq("x")));
        let err = stream.try_collect::<Vec<_>>().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Usage, "{url}: {err}");
    }
}

/// A transfer names two authors: with `join_on` each is reachable, and a
/// payload in a joined filter is a value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_on_picks_the_key_and_values_stay_bound() {
    for db in isolated_all("joins_on") {
        fresh(&db).await;
        let ann = db.aio().get(Author::NAME.eq("ann")).await.unwrap();
        let bob = db.aio().get(Author::NAME.eq("bob")).await.unwrap();
        db.aio()
            .create(Transfer {
                id: 0,
                giver: ann.id,
                taker: bob.id,
            })
            .await
            .unwrap();
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            let by_giver = Transfer::select().join_on(Transfer::GIVER, Author::ID);
            let q = by_giver.clone().filter(Author::NAME.eq("ann"));
            assert_eq!(call!(half, db, count(q, false)).unwrap(), 1, "{what}");
            let by_taker = Transfer::select().join_on(Transfer::TAKER, Author::ID);
            let q = by_taker.filter(Author::NAME.eq("ann"));
            assert_eq!(call!(half, db, count(q, false)).unwrap(), 0, "{what}");
            for payload in [
                "ann' OR '1'='1",
                "\" OR 1=1 --",
                "ann`; DROP TABLE join_authors; --",
            ] {
                let q = by_giver.clone().filter(Author::NAME.eq(payload));
                assert_eq!(call!(half, db, count(q, false)).unwrap(), 0, "{what}");
                let q = Post::select()
                    .join::<Author>()
                    .filter(Author::NAME.lower().eq(payload) | Author::NAME.like(payload));
                assert!(call!(half, db, execute_query(q)).unwrap().is_empty());
            }
            assert_eq!(db.aio().count(Author::select(), false).await.unwrap(), 3);
        }
    }
}
