//! The model layer and every Manager operation, on both halves of every
//! backend, each test in a database of its own.

mod common;

use common::{HALVES, Half, isolated_all};
use dualdb::{ErrorKind, Model};

use common::models::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_operations() {
    for db in isolated_all("schema") {
        for half in HALVES {
            call!(half, db, drop_table::<Setting>()).unwrap();
            assert!(!call!(half, db, table_exists::<Setting>()).unwrap());
            call!(half, db, create_table::<Setting>()).unwrap();
            assert!(call!(half, db, table_exists::<Setting>()).unwrap());
            // safe: a second create is a no-op
            call!(half, db, create_table::<Setting>()).unwrap();
            call!(
                half,
                db,
                create(Setting {
                    name: "a".into(),
                    value: "1".into()
                })
            )
            .unwrap();
            call!(half, db, truncate::<Setting>()).unwrap();
            assert_eq!(call!(half, db, count(Setting::select(), false)).unwrap(), 0);
            call!(half, db, drop_table::<Setting>()).unwrap();
            assert!(!call!(half, db, table_exists::<Setting>()).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_update_delete() {
    for db in isolated_all("crud") {
        for half in HALVES {
            reset(&db, half).await;
            let b = db.backend();
            let ada = call!(half, db, create(user("ada", 36))).unwrap();
            assert!(ada.id > 0, "{b:?} {half:?}: generated key filled");
            let bob = call!(half, db, create(user("bob", 17))).unwrap();
            assert!(bob.id > ada.id);

            // get by primary key, by filter, by query
            assert_eq!(call!(half, db, get(User::by_id(ada.id))).unwrap(), ada);
            assert_eq!(call!(half, db, get(User::USERNAME.eq("bob"))).unwrap(), bob);
            let q = User::select()
                .filter(User::AGE.lt(18))
                .order_by(User::ID.desc());
            assert_eq!(call!(half, db, get(q)).unwrap(), bob);
            let err = call!(half, db, get(User::USERNAME.eq("nobody"))).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound);
            assert!(err.to_string().contains("User"), "{err}");
            assert_eq!(
                call!(half, db, get_or_none(User::USERNAME.eq("nobody"))).unwrap(),
                None
            );
            assert_eq!(
                call!(half, db, get_or_none(User::by_id(bob.id))).unwrap(),
                Some(bob.clone())
            );

            // a given (not generated) key
            let s = Setting {
                name: "theme".into(),
                value: "dark".into(),
            };
            assert_eq!(call!(half, db, create(s.clone())).unwrap(), s);
            assert_eq!(call!(half, db, get(Setting::by_id("theme"))).unwrap(), s);

            // unique violations are typed
            let err = call!(half, db, create(user("ada", 1))).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UniqueViolation);

            // update every field
            let mut changed = ada.clone();
            changed.email = Some("ada@example.com".into());
            changed.age = 37;
            assert_eq!(call!(half, db, update(&changed)).unwrap(), 1);
            assert_eq!(call!(half, db, get(User::by_id(ada.id))).unwrap(), changed);

            // update only the listed fields: age changes, email does not
            let mut partial = changed.clone();
            partial.age = 40;
            partial.email = None;
            assert_eq!(
                call!(half, db, update_only(&partial, &[&User::AGE])).unwrap(),
                1
            );
            let stored = call!(half, db, get(User::by_id(ada.id))).unwrap();
            assert_eq!(stored.age, 40);
            assert_eq!(stored.email.as_deref(), Some("ada@example.com"));

            // delete
            assert_eq!(call!(half, db, delete(&bob)).unwrap(), 1);
            assert_eq!(
                call!(half, db, get_or_none(User::by_id(bob.id))).unwrap(),
                None
            );
            assert_eq!(call!(half, db, delete(&bob)).unwrap(), 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_delete_and_delete_nullable() {
    for db in isolated_all("recursive") {
        for half in HALVES {
            for delete_nullable in [false, true] {
                reset(&db, half).await;
                let ada = call!(half, db, create(user("ada", 36))).unwrap();
                let other = call!(half, db, create(user("other", 20))).unwrap();
                let mut posts = Vec::new();
                for (author, title) in [(ada.id, "a1"), (ada.id, "a2"), (other.id, "o1")] {
                    posts.push(
                        call!(
                            half,
                            db,
                            create(Post {
                                id: 0,
                                author,
                                title: title.into()
                            })
                        )
                        .unwrap(),
                    );
                }
                for p in &posts {
                    for body in ["x", "y"] {
                        call!(
                            half,
                            db,
                            create(Comment {
                                id: 0,
                                post: p.id,
                                body: body.into()
                            })
                        )
                        .unwrap();
                    }
                }
                let mark = call!(
                    half,
                    db,
                    create(Bookmark {
                        id: 0,
                        owner: Some(ada.id),
                        url: "u".into()
                    })
                )
                .unwrap();

                // A plain delete is refused by the foreign keys.
                let err = call!(half, db, delete(&ada)).unwrap_err();
                assert_eq!(err.kind(), ErrorKind::IntegrityViolation, "{err:?}");

                assert_eq!(
                    call!(half, db, delete_recursive(&ada, delete_nullable)).unwrap(),
                    1
                );
                assert_eq!(
                    call!(half, db, get_or_none(User::by_id(ada.id))).unwrap(),
                    None
                );
                // ada's posts and their comments are gone, the other user's stay
                let left: Vec<Post> = call!(half, db, execute_query(Post::select())).unwrap();
                assert_eq!(left.len(), 1);
                assert_eq!(left[0].author, other.id);
                assert_eq!(call!(half, db, count(Comment::select(), false)).unwrap(), 2);
                // the nullable dependant: nulled, or deleted with delete_nullable
                let kept = call!(half, db, get_or_none(Bookmark::by_id(mark.id))).unwrap();
                if delete_nullable {
                    assert_eq!(kept, None);
                } else {
                    assert_eq!(kept.unwrap().owner, None);
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_or_create_and_create_or_get() {
    for db in isolated_all("goc") {
        for half in HALVES {
            reset(&db, half).await;
            let (first, created) = call!(
                half,
                db,
                get_or_create(User::USERNAME.eq("ada"), || user("ada", 36))
            )
            .unwrap();
            assert!(created);
            assert_eq!(first.age, 36);
            // The second call finds the row; its defaults are not used.
            let (second, created) = call!(
                half,
                db,
                get_or_create(User::USERNAME.eq("ada"), || user("ada", 99))
            )
            .unwrap();
            assert!(!created);
            assert_eq!(second, first);

            let (c, created) = call!(half, db, create_or_get(user("bob", 5))).unwrap();
            assert!(created);
            let (again, created) = call!(half, db, create_or_get(user("bob", 6))).unwrap();
            assert!(!created);
            assert_eq!(again, c);
            assert_eq!(call!(half, db, count(User::select(), false)).unwrap(), 2);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_or_create_is_safe_when_tasks_race() {
    for db in isolated_all("race") {
        reset(&db, Half::Async).await;
        for round in 0..10 {
            let name = format!("racer{round}");
            let tasks: Vec<_> = (0..8)
                .map(|_| {
                    let (db, name) = (db.clone(), name.clone());
                    tokio::spawn(async move {
                        db.aio()
                            .get_or_create(User::USERNAME.eq(name.as_str()), {
                                let name = name.clone();
                                move || user(&name, 1)
                            })
                            .await
                    })
                })
                .collect();
            let mut ids = Vec::new();
            let mut created = 0;
            for t in tasks {
                let (u, c) = t.await.unwrap().unwrap();
                ids.push(u.id);
                created += usize::from(c);
            }
            assert_eq!(created, 1, "{:?}: exactly one creator", db.backend());
            assert!(ids.iter().all(|&i| i == ids[0]), "{ids:?}");
        }
        // and the blocking half, from threads
        let name = "thread-racer";
        let results: Vec<(User, bool)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| {
                    s.spawn(|| {
                        db.sync()
                            .get_or_create(User::USERNAME.eq(name), move || user(name, 1))
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(results.iter().filter(|(_, c)| *c).count(), 1);
        assert!(results.iter().all(|(u, _)| u.id == results[0].0.id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_queries_count_scalar_exists_raw() {
    for db in isolated_all("exec") {
        for half in HALVES {
            reset(&db, half).await;
            let many: Vec<User> = (0..10).map(|i| user(&format!("u{i}"), i)).collect();
            let inserted = call!(half, db, execute_query(User::insert_many(many))).unwrap();
            assert_eq!(inserted.len(), 10);
            let mut ids: Vec<i64> = inserted.iter().map(|u| u.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), 10, "every row got its own key");
            for u in &inserted {
                let stored = call!(half, db, get(User::by_id(u.id))).unwrap();
                assert_eq!(&stored, u);
            }
            assert!(
                call!(half, db, execute_query(User::insert_many(Vec::new())))
                    .unwrap()
                    .is_empty()
            );
            // without reading the rows back: the count, and the rows are there
            let more: Vec<User> = (10..13).map(|i| user(&format!("u{i}"), i)).collect();
            let q = User::insert_many(more).without_returning();
            assert_eq!(call!(half, db, execute_query(q)).unwrap(), 3);
            assert_eq!(call!(half, db, count(User::AGE.ge(10), false)).unwrap(), 3);
            let q = User::insert_many(vec![user("u10", 99)]).without_returning();
            let err = call!(half, db, execute_query(q)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UniqueViolation);
            let gone = User::delete_query().filter(User::AGE.ge(10));
            assert_eq!(call!(half, db, execute_query(gone)).unwrap(), 3);

            let teens = call!(
                half,
                db,
                execute_query(
                    User::select()
                        .filter(User::AGE.ge(5))
                        .order_by(User::AGE.asc())
                )
            )
            .unwrap();
            assert_eq!(
                teens.iter().map(|u| u.age).collect::<Vec<_>>(),
                vec![5, 6, 7, 8, 9]
            );

            let n = call!(
                half,
                db,
                execute_query(
                    User::update_query()
                        .set(User::EMAIL, "x@y")
                        .filter(User::AGE.lt(3))
                )
            )
            .unwrap();
            assert_eq!(n, 3);
            assert_eq!(
                call!(half, db, count(User::EMAIL.is_not_null(), false)).unwrap(),
                3
            );

            // count respects LIMIT unless clear_limit
            let limited = User::select().order_by(User::ID.asc()).limit(4);
            assert_eq!(call!(half, db, count(limited.clone(), false)).unwrap(), 4);
            assert_eq!(call!(half, db, count(limited.clone(), true)).unwrap(), 10);
            assert_eq!(call!(half, db, count(limited.offset(8), false)).unwrap(), 2);

            // scalar: one value, and a tuple
            let max: i32 = call!(
                half,
                db,
                scalar::<User, i32>(User::select().fields([User::AGE.max()]))
            )
            .unwrap();
            assert_eq!(max, 9);
            let (n, min): (i64, i32) = call!(
                half,
                db,
                scalar::<User, (i64, i32)>(
                    User::select().fields([dualdb::model::Field::count_all(), User::AGE.min()])
                )
            )
            .unwrap();
            assert_eq!((n, min), (10, 0));

            assert!(call!(half, db, exists(User::USERNAME.eq("u3"))).unwrap());
            assert!(!call!(half, db, exists(User::USERNAME.eq("zz"))).unwrap());

            // raw SQL mapped to models, by column name in any order
            let sql = "SELECT age, username, email, id FROM users WHERE age > 7 ORDER BY age";
            let raw: Vec<User> = call!(half, db, raw::<User>(sql, &[])).unwrap();
            assert_eq!(raw.iter().map(|u| u.age).collect::<Vec<_>>(), vec![8, 9]);
            assert_eq!(raw[0], call!(half, db, get(User::AGE.eq(8))).unwrap());
            let err = call!(half, db, raw::<User>("SELECT id FROM users", &[])).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode);

            let n = call!(
                half,
                db,
                execute_query(User::delete_query().filter(User::AGE.ge(5)))
            )
            .unwrap();
            assert_eq!(n, 5);
            assert_eq!(call!(half, db, count(User::select(), false)).unwrap(), 5);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_joins_decode_into_tuples_of_models() {
    for db in isolated_all("joins") {
        for half in HALVES {
            reset(&db, half).await;
            let ada = call!(half, db, create(user("ada", 36))).unwrap();
            let bob = call!(half, db, create(user("bob", 40))).unwrap();
            let mut posts = Vec::new();
            for title in ["one", "two"] {
                let p = Post {
                    id: 0,
                    author: ada.id,
                    title: title.into(),
                };
                posts.push(call!(half, db, create(p)).unwrap());
            }
            let ph = common::ph(&db, 1);
            let sql = format!(
                "SELECT users.*, posts.* FROM users LEFT JOIN posts ON posts.author = users.id \
                 WHERE users.age >= {ph} ORDER BY users.id, posts.id"
            );
            let rows: Vec<(User, Option<Post>)> =
                call!(half, db, raw::<(User, Option<Post>)>(&sql, &[&30])).unwrap();
            assert_eq!(
                rows,
                vec![
                    (ada.clone(), Some(posts[0].clone())),
                    (ada.clone(), Some(posts[1].clone())),
                    (bob.clone(), None),
                ],
                "{:?} {half:?}",
                db.backend()
            );
            // a later row that does not decode (bob has no post, and a
            // `Post` is not optional): a Decode error, not a half-made pair
            let err = call!(half, db, raw::<(User, Post)>(&sql, &[&30])).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
            // an inner join into plain pairs, and three models side by side
            let inner = "SELECT posts.*, users.* FROM posts JOIN users ON users.id = posts.author ORDER BY posts.id";
            let pairs: Vec<(Post, User)> =
                call!(half, db, raw::<(Post, User)>(inner, &[])).unwrap();
            assert_eq!(
                pairs,
                vec![
                    (posts[0].clone(), ada.clone()),
                    (posts[1].clone(), ada.clone())
                ]
            );
            let c = Comment {
                id: 0,
                post: posts[1].id,
                body: "hi".into(),
            };
            let c = call!(half, db, create(c)).unwrap();
            let three = "SELECT comments.*, posts.*, users.* FROM comments \
                 JOIN posts ON posts.id = comments.post JOIN users ON users.id = posts.author";
            let got: Vec<(Comment, Post, User)> =
                call!(half, db, raw::<(Comment, Post, User)>(three, &[])).unwrap();
            assert_eq!(got, vec![(c, posts[1].clone(), ada.clone())]);
            // columns that do not line up with the tuple: a Decode error
            let err = call!(half, db, raw::<(User, Post)>(inner, &[])).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_compose_and_bind_hostile_values_safely() {
    for db in isolated_all("filters") {
        for half in HALVES {
            reset(&db, half).await;
            for (n, a) in [("x", 1), ("y", 2), ("z", 3)] {
                call!(half, db, create(user(n, a))).unwrap();
            }
            let either = User::USERNAME.eq("x") | User::AGE.eq(3);
            assert_eq!(call!(half, db, count(either, false)).unwrap(), 2);
            let neither = !(User::USERNAME.eq("x") | User::AGE.eq(3));
            assert_eq!(call!(half, db, get(neither)).unwrap().username, "y");
            let within = User::USERNAME.is_in(["x", "z", "w"]) & User::AGE.gt(1);
            assert_eq!(call!(half, db, get(within)).unwrap().username, "z");
            assert_eq!(
                call!(half, db, count(User::USERNAME.like("%"), false)).unwrap(),
                3
            );
            assert_eq!(
                call!(half, db, count(User::EMAIL.is_null(), false)).unwrap(),
                3
            );
            let none: Vec<&str> = Vec::new();
            assert_eq!(
                call!(half, db, count(User::USERNAME.is_in(none), false)).unwrap(),
                0
            );

            let hostile = "x'; DROP TABLE users; --";
            assert_eq!(
                call!(half, db, get_or_none(User::USERNAME.eq(hostile))).unwrap(),
                None
            );
            let stored = call!(half, db, create(user(hostile, 9))).unwrap();
            assert_eq!(
                call!(half, db, get(User::USERNAME.eq(hostile))).unwrap(),
                stored
            );
            assert_eq!(call!(half, db, count(User::select(), false)).unwrap(), 4);
        }
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "text_key_tags")]
struct Tag {
    #[model(primary_key, max_length = 40)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "text_key_notes")]
struct Note {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Tag, max_length = 40)]
    tag: String,
    body: String,
}

/// Children join their parents by a text key as by an integer one: each
/// parent gets its own rows, in the order they came, and a parent with none
/// gets an empty vector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefetch_joins_by_text_keys() {
    for db in isolated_all("text_keys") {
        for half in HALVES {
            call!(half, db, drop_table::<Note>()).unwrap();
            call!(half, db, drop_table::<Tag>()).unwrap();
            call!(half, db, create_table::<Tag>()).unwrap();
            call!(half, db, create_table::<Note>()).unwrap();
            for name in ["rust", "sql", "empty"] {
                call!(half, db, create(Tag { name: name.into() })).unwrap();
            }
            for (tag, body) in [("sql", "joins"), ("rust", "traits"), ("sql", "indexes")] {
                let note = Note {
                    id: 0,
                    tag: tag.into(),
                    body: body.into(),
                };
                call!(half, db, create(note)).unwrap();
            }
            let loaded = call!(
                half,
                db,
                prefetch(
                    Tag::select().order_by(Tag::NAME.asc()),
                    Note::select().order_by(Note::ID.asc())
                )
            )
            .unwrap();
            let bodies: Vec<(String, Vec<String>)> = loaded
                .into_iter()
                .map(|(t, ns)| (t.name, ns.into_iter().map(|n| n.body).collect()))
                .collect();
            let want =
                |t: &str, bs: &[&str]| (t.to_owned(), bs.iter().map(|b| b.to_string()).collect());
            assert_eq!(
                bodies,
                vec![
                    want("empty", &[]),
                    want("rust", &["traits"]),
                    want("sql", &["joins", "indexes"])
                ],
                "{} {half:?}",
                db.backend()
            );
        }
    }
}

/// `scalar` of a query that returns no row: `None` for an `Option` (a tuple
/// of `None`s for a tuple of `Option`s), `NotFound` for any other type; a row
/// whose value is NULL is `None` too. Both halves, in and out of a
/// transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scalar_of_no_row_is_none_for_an_option_and_not_found_otherwise() {
    for db in isolated_all("scalar_none") {
        reset(&db, Half::Async).await;
        db.aio().create(user("ada", 36)).await.unwrap();
        let none = || User::select().filter(User::USERNAME.eq("nobody"));
        let age = || none().fields([User::AGE.field()]);
        let pair = || none().fields([User::AGE.field(), User::EMAIL.field()]);
        for half in HALVES {
            let got = call!(half, db, scalar::<User, Option<i32>>(age())).unwrap();
            assert_eq!(got, None, "{:?} {half:?}", db.backend());
            let got = call!(
                half,
                db,
                scalar::<User, (Option<i32>, Option<String>)>(pair())
            )
            .unwrap();
            assert_eq!(got, (None, None));
            let err = call!(half, db, scalar::<User, i32>(age())).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::NotFound,
                "{:?} {half:?}",
                db.backend()
            );
            let err = call!(half, db, scalar::<User, (Option<i32>, String)>(pair())).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::NotFound);
            // A row whose value is NULL: None as well; a row: its value.
            let email = User::select()
                .filter(User::USERNAME.eq("ada"))
                .fields([User::EMAIL.field()]);
            assert_eq!(
                call!(half, db, scalar::<User, Option<String>>(email)).unwrap(),
                None
            );
            let ada = User::select()
                .filter(User::USERNAME.eq("ada"))
                .fields([User::AGE.field()]);
            assert_eq!(
                call!(half, db, scalar::<User, Option<i32>>(ada)).unwrap(),
                Some(36)
            );
        }
        db.aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                assert_eq!(tx.scalar::<User, Option<i32>>(age()).await?, None);
                assert_eq!(
                    tx.scalar::<User, i32>(age()).await.unwrap_err().kind(),
                    ErrorKind::NotFound
                );
                Ok(())
            })
            .await
            .unwrap();
        db.sync()
            .atomic(|tx| {
                assert_eq!(tx.scalar::<User, Option<i32>>(age())?, None);
                assert_eq!(
                    tx.scalar::<User, i32>(age()).unwrap_err().kind(),
                    ErrorKind::NotFound
                );
                Ok::<_, dualdb::Error>(())
            })
            .unwrap();
    }
}

/// A generated (`auto`) key that a row gives a value is written as given,
/// as peewee does; 0 leaves it to the server. `create`, `insert_many` of
/// rows that all give keys and of rows that mix given and generated keys
/// (each row gets its own: the given as given, the others fresh),
/// `create_or_get`; both halves, in and out of a transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_keys_of_generated_key_models_are_written() {
    let with_id = |id: i64, name: &str| User {
        id,
        ..user(name, 1)
    };
    for db in isolated_all("given_keys") {
        for half in HALVES {
            reset(&db, half).await;
            let a = call!(half, db, create(with_id(1001, "a"))).unwrap();
            assert_eq!(a.id, 1001, "{:?} {half:?}", db.backend());
            assert_eq!(call!(half, db, get(User::by_id(1001))).unwrap(), a);
            let all_given = vec![with_id(2001, "b"), with_id(2002, "c")];
            let stored = call!(half, db, execute_query(User::insert_many(all_given))).unwrap();
            assert_eq!(
                stored.iter().map(|u| u.id).collect::<Vec<_>>(),
                [2001, 2002]
            );
            let mixed = vec![with_id(0, "d"), with_id(3001, "e"), with_id(0, "f")];
            let stored = call!(half, db, execute_query(User::insert_many(mixed))).unwrap();
            let names: Vec<&str> = stored.iter().map(|u| u.username.as_str()).collect();
            assert_eq!(names, ["d", "e", "f"], "{:?}", db.backend());
            assert_eq!(stored[1].id, 3001);
            assert!(stored[0].id > 0 && stored[2].id > 0 && stored[0].id != stored[2].id);
            for u in &stored {
                assert_eq!(
                    &call!(half, db, get(User::by_id(u.id))).unwrap(),
                    u,
                    "{:?}",
                    db.backend()
                );
            }
            let counted = vec![with_id(4001, "g"), with_id(0, "h")];
            let n = call!(
                half,
                db,
                execute_query(User::insert_many(counted).without_returning())
            )
            .unwrap();
            assert_eq!(n, 2);
            assert_eq!(
                call!(half, db, get(User::USERNAME.eq("g"))).unwrap().id,
                4001
            );
            let (b, created) = call!(half, db, create_or_get(with_id(5001, "i"))).unwrap();
            assert!(created);
            assert_eq!(b.id, 5001);
            assert_eq!(call!(half, db, count(User::select(), false)).unwrap(), 9);
        }
        // In a transaction, both halves.
        db.aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                let u = tx.create(with_id(6001, "j")).await?;
                assert_eq!(u.id, 6001);
                // Given keys clear of the ones the server generates next.
                let mixed = vec![with_id(0, "k"), with_id(6501, "l")];
                let stored = tx.execute_query(User::insert_many(mixed)).await?;
                assert_eq!(stored[1].id, 6501);
                assert_eq!(tx.get(User::by_id(stored[0].id)).await?.username, "k");
                Ok(())
            })
            .await
            .unwrap();
        db.sync()
            .atomic(|tx| {
                let mixed = vec![with_id(7001, "m"), with_id(0, "n")];
                let stored = tx.execute_query(User::insert_many(mixed))?;
                assert_eq!(stored[0].id, 7001);
                assert_eq!(tx.get(User::by_id(stored[1].id))?.username, "n");
                Ok::<_, dualdb::Error>(())
            })
            .unwrap();
        assert_eq!(db.sync().count(User::select(), false).unwrap(), 14);
    }
}

/// A row of three columns: a generated key and two values.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "bulk")]
struct Bulk {
    #[model(primary_key, auto)]
    id: i64,
    #[model(unique)]
    n: i64,
    label: String,
}

fn bulk(range: std::ops::Range<i64>) -> Vec<Bulk> {
    range
        .map(|n| Bulk {
            id: 0,
            n,
            label: format!("row {n}"),
        })
        .collect()
}

async fn bulk_count(db: &dualdb::Database) -> i64 {
    db.aio().count(Bulk::select(), false).await.unwrap() as i64
}

/// `insert_many` of more rows than one statement may bind (100,000 rows of
/// three values; PostgreSQL and MySQL take 65,535 values a statement, SQLite
/// 32,766) splits itself into statements under the limit, all in one
/// transaction: every row is stored with a key of its own, in order; a
/// failure in a late statement leaves none of the rows (outside a
/// transaction, and inside one, where the transaction goes on). Both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_many_splits_under_the_limit() {
    for db in isolated_all("bulk") {
        for half in HALVES {
            call!(half, db, drop_table::<Bulk>()).unwrap();
            call!(half, db, create_table::<Bulk>()).unwrap();
            let stored =
                call!(half, db, execute_query(Bulk::insert_many(bulk(0..100_000)))).unwrap();
            assert_eq!(stored.len(), 100_000, "{:?} {half:?}", db.backend());
            assert!(
                stored.iter().enumerate().all(|(i, b)| b.n == i as i64),
                "in order"
            );
            let mut ids: Vec<i64> = stored.iter().map(|b| b.id).collect();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), 100_000, "a key each");
            let last = stored.last().unwrap();
            assert_eq!(&call!(half, db, get(Bulk::by_id(last.id))).unwrap(), last);
            let n = call!(
                half,
                db,
                execute_query(Bulk::insert_many(bulk(100_000..140_000)).without_returning())
            )
            .unwrap();
            assert_eq!(n, 40_000);
            assert_eq!(bulk_count(&db).await, 140_000);
            // The last row collides with a stored one: nothing of the batch stays.
            let mut failing = bulk(200_000..240_000);
            failing.last_mut().unwrap().n = 5;
            let err = call!(half, db, execute_query(Bulk::insert_many(failing))).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
            assert_eq!(
                bulk_count(&db).await,
                140_000,
                "{:?} {half:?}: all or nothing",
                db.backend()
            );
            assert_eq!(db.sync().status().in_use() + db.aio().status().in_use(), 0);
        }
        // Inside a transaction: the failed batch is undone alone.
        db.aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                let mut failing = bulk(300_000..340_000);
                failing.last_mut().unwrap().n = 5;
                let err = tx
                    .execute_query(Bulk::insert_many(failing))
                    .await
                    .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::UniqueViolation);
                let n = tx
                    .execute_query(Bulk::insert_many(bulk(400_000..440_000)))
                    .await?;
                assert_eq!(n.len(), 40_000);
                Ok(())
            })
            .await
            .unwrap();
        db.sync()
            .atomic(|tx| {
                let mut failing = bulk(500_000..540_000);
                failing.last_mut().unwrap().n = 5;
                let err = tx
                    .execute_query(Bulk::insert_many(failing).without_returning())
                    .unwrap_err();
                assert_eq!(err.kind(), ErrorKind::UniqueViolation);
                assert_eq!(
                    tx.execute_query(
                        Bulk::insert_many(bulk(600_000..640_000)).without_returning()
                    )?,
                    40_000
                );
                Ok::<_, dualdb::Error>(())
            })
            .unwrap();
        assert_eq!(bulk_count(&db).await, 220_000, "{:?}", db.backend());
    }
}

/// `update` and `update_only` count the row they matched, on every backend:
/// 1 for a stored row even if it held these values already (MySQL counts
/// only changed rows; dualdb asks it whether the row exists then), 0 for
/// none; in and out of transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_counts_its_row_even_if_nothing_changed() {
    for db in isolated_all("update_counts") {
        db.sync().drop_table::<User>().unwrap();
        db.sync().create_table::<User>().unwrap();
        let what = format!("{:?}", db.backend());
        for half in HALVES {
            let mut u = call!(half, db, create(user(&format!("same-{half:?}"), 7))).unwrap();
            assert_eq!(call!(half, db, update(&u)).unwrap(), 1, "{what} {half:?}");
            assert_eq!(
                call!(half, db, update_only(&u, &[&User::AGE])).unwrap(),
                1,
                "{what}"
            );
            u.age = 8;
            assert_eq!(call!(half, db, update(&u)).unwrap(), 1, "{what} {half:?}");
            let mut gone = u.clone();
            gone.id += 1_000;
            assert_eq!(
                call!(half, db, update(&gone)).unwrap(),
                0,
                "{what} {half:?}"
            );
            assert_eq!(call!(half, db, get(User::by_id(u.id))).unwrap().age, 8);
            // Nothing to set: refused before any I/O.
            for err in [
                call!(half, db, update_only(&u, &[])).unwrap_err(),
                call!(half, db, update_only(&u, &[&User::ID])).unwrap_err(),
            ] {
                assert_eq!(err.kind(), ErrorKind::Usage, "{what} {half:?}: {err}");
            }
        }
        let u = db.sync().get(User::USERNAME.eq("same-Sync")).unwrap();
        let counts = db
            .aio()
            .atomic(async |tx| -> dualdb::Result<_> {
                let mut gone = u.clone();
                gone.id += 1_000;
                Ok((tx.update(&u).await?, tx.update(&gone).await?))
            })
            .await
            .unwrap();
        assert_eq!(counts, (1, 0), "{what} async in a transaction");
        let counts = db
            .sync()
            .atomic(|tx| -> dualdb::Result<_> {
                let mut gone = u.clone();
                gone.id += 1_000;
                Ok((tx.update(&u)?, tx.update(&gone)?))
            })
            .unwrap();
        assert_eq!(counts, (1, 0), "{what} blocking in a transaction");
    }
}

/// Rows inserted several at a time get the keys the server stored for them
/// on every backend, both halves, in and out of transactions; on MySQL also
/// where the session's `auto_increment_increment` is not 1 (set here by an
/// `after_connect` statement, as replication setups and Galera set it), and
/// again after a pinned session's reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_many_keys_follow_the_servers_increment() {
    for url in common::urls() {
        let mut builder = dualdb::Database::builder(&common::isolated_url(&url, "key_steps"));
        if url.starts_with("mysql") {
            builder = builder.after_connect("SET SESSION auto_increment_increment = 3");
        }
        let db = builder.build().unwrap();
        db.sync().create_table::<User>().unwrap();
        let what = format!("{:?}", db.backend());
        let batch =
            |tag: &str| -> Vec<User> { (0..4).map(|i| user(&format!("{tag}{i}"), i)).collect() };
        let mut made = Vec::new();
        for half in HALVES {
            made.extend(
                call!(
                    half,
                    db,
                    execute_query(User::insert_many(batch(&format!("{half:?}"))))
                )
                .unwrap(),
            );
        }
        made.extend(
            db.aio()
                .atomic(async |tx| tx.execute_query(User::insert_many(batch("atx"))).await)
                .await
                .unwrap(),
        );
        made.extend(
            db.sync()
                .atomic(|tx| tx.execute_query(User::insert_many(batch("stx"))))
                .unwrap(),
        );
        // A pinned session ends with a reset, and its connection goes back.
        made.extend(
            db.aio()
                .session(async |s| s.execute_query(User::insert_many(batch("sess"))).await)
                .await
                .unwrap(),
        );
        made.extend(
            db.aio()
                .execute_query(User::insert_many(batch("after")))
                .await
                .unwrap(),
        );
        assert_eq!(made.len(), 24, "{what}");
        for m in &made {
            let stored = db.aio().get(User::by_id(m.id)).await.unwrap();
            assert_eq!(&stored, m, "{what}: the key returned is the stored row's");
        }
        if url.starts_with("mysql") {
            let mut ids: Vec<i64> = made.iter().map(|m| m.id).collect();
            ids.sort();
            assert!(ids.windows(2).all(|w| w[1] - w[0] >= 3), "{what}: {ids:?}");
        }
    }
}

/// Text in any script, emoji and characters outside the Basic Multilingual
/// Plane included, round-trips through the tables `create_table` makes, in
/// `TEXT` and length-limited columns, keyed and not, on every backend and
/// half (MySQL's tables are `utf8mb4`, whatever the server's default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_unicode_text_round_trips_in_created_tables() {
    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "unicode_notes")]
    struct Note {
        #[model(primary_key, auto)]
        id: i64,
        #[model(unique, max_length = 40)]
        title: String,
        body: String,
    }
    let text = "héllo Ωμέγα 日本語 🎉 𝄞 עברית";
    for db in isolated_all("unicode") {
        let kind = db.backend();
        for half in HALVES {
            call!(half, db, drop_table::<Note>()).unwrap();
            call!(half, db, create_table::<Note>()).unwrap();
            let made = call!(
                half,
                db,
                create(Note {
                    id: 0,
                    title: text.into(),
                    body: text.repeat(100),
                })
            )
            .unwrap();
            let back = call!(half, db, get(Note::TITLE.eq(text))).unwrap();
            assert_eq!(back, made, "{kind:?} {half:?}");
            assert_eq!(back.body, text.repeat(100), "{kind:?} {half:?}");
        }
    }
}

/// Eight callers creating the same table at once, on a fresh database each
/// round: every call succeeds and the table is there, on every backend,
/// from tasks and from threads, in and out of transactions. (PostgreSQL's
/// `CREATE TABLE IF NOT EXISTS` fails for all but one of sessions that run
/// it at once; dualdb finds the table the winner made.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_created_at_once_are_created_once() {
    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "made_at_once")]
    struct Once {
        #[model(primary_key, auto)]
        id: i64,
        name: String,
    }
    const CALLERS: usize = 8;
    for url in common::urls() {
        for round in 0..4 {
            let in_tx = round % 2 == 1;
            let url = common::shared_url(&url, &format!("once{round}"));
            let db = dualdb::Database::builder(&url)
                .sync_pool_size(CALLERS)
                .async_pool_size(CALLERS)
                .build()
                .unwrap();
            let what = format!("{:?} round {round} in_tx={in_tx}", db.backend());
            let gate = std::sync::Arc::new(tokio::sync::Barrier::new(CALLERS));
            let tasks: Vec<_> = (0..CALLERS)
                .map(|_| {
                    let (db, gate) = (db.clone(), gate.clone());
                    tokio::spawn(async move {
                        gate.wait().await;
                        match in_tx {
                            true => {
                                db.aio()
                                    .atomic(async |tx| tx.create_table::<Once>().await)
                                    .await
                            }
                            false => db.aio().create_table::<Once>().await,
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await
                    .unwrap()
                    .unwrap_or_else(|e| panic!("{what} async: {e}"));
            }
            db.sync().drop_table::<Once>().unwrap();
            let gate = std::sync::Barrier::new(CALLERS);
            std::thread::scope(|s| {
                for _ in 0..CALLERS {
                    s.spawn(|| {
                        gate.wait();
                        let out = match in_tx {
                            true => db.sync().atomic(|tx| tx.create_table::<Once>()),
                            false => db.sync().create_table::<Once>(),
                        };
                        out.unwrap_or_else(|e| panic!("{what} blocking: {e}"));
                    });
                }
            });
            assert!(db.sync().table_exists::<Once>().unwrap(), "{what}");
            db.sync()
                .create(Once {
                    id: 0,
                    name: "x".into(),
                })
                .unwrap();
        }
    }
}

/// Keys of bytes and of text without a length, unique byte columns, and
/// foreign keys to such keys make tables on every backend (MySQL indexes
/// neither `BLOB` nor `TEXT` without a length: such columns are
/// `VARBINARY`/`VARCHAR` there), and their rows round-trip, both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_keys_and_unique_bytes_make_tables_everywhere() {
    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "blob_parents")]
    struct Parent {
        #[model(primary_key)]
        id: Vec<u8>,
        #[model(unique)]
        tag: Vec<u8>,
    }
    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "text_parents")]
    struct Named {
        #[model(primary_key)]
        name: String,
    }
    #[derive(Model, Debug, Clone, PartialEq)]
    #[model(table = "blob_children")]
    struct Child {
        #[model(primary_key, auto)]
        id: i64,
        #[model(references = Parent)]
        parent: Vec<u8>,
        #[model(references = Named)]
        named: String,
    }
    for db in isolated_all("byte_keys") {
        let kind = db.backend();
        for half in HALVES {
            call!(half, db, drop_table::<Child>()).unwrap();
            call!(half, db, drop_table::<Parent>()).unwrap();
            call!(half, db, drop_table::<Named>()).unwrap();
            call!(half, db, create_table::<Parent>()).unwrap();
            call!(half, db, create_table::<Named>()).unwrap();
            call!(half, db, create_table::<Child>()).unwrap();
            let p = Parent {
                id: vec![0, 1, 255],
                tag: vec![7; 40],
            };
            call!(half, db, create(p.clone())).unwrap();
            call!(half, db, create(Named { name: "n".into() })).unwrap();
            let c = call!(
                half,
                db,
                create(Child {
                    id: 0,
                    parent: p.id.clone(),
                    named: "n".into()
                })
            )
            .unwrap();
            assert_eq!(
                call!(half, db, get(Parent::by_id(p.id.clone()))).unwrap(),
                p,
                "{kind:?}"
            );
            assert_eq!(
                call!(half, db, get(Child::PARENT.eq(p.id.clone()))).unwrap(),
                c
            );
            let orphan = Child {
                id: 0,
                parent: vec![9],
                named: "n".into(),
            };
            let err = call!(half, db, create(orphan)).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::IntegrityViolation,
                "{kind:?} {half:?}: {err}"
            );
        }
    }
}

/// A tree: each node's parent is a node of the same table (a nullable key).
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tree_nodes")]
struct Node {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Node)]
    parent: Option<i64>,
    name: String,
}

/// A node's dependant whose key is not nullable: it goes with its node.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tree_marks")]
struct Mark {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Node)]
    node: i64,
    label: String,
}

/// A tree of its own under each node: a node's folders (all of them the
/// node's, so a recursive delete from the node finds parents and children
/// among the rows it starts from).
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "tree_dirs")]
struct Dir {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Node)]
    node: i64,
    #[model(references = Dir)]
    parent: Option<i64>,
    name: String,
}

/// The tree `r → (a → (a1 → a11, a2), b)` beside `o → c`, a mark on `r`,
/// `a11`, `b` and `c`, and chains of folders on `r`, `a11` and `c`; returns
/// the nodes by name.
async fn plant(db: &dualdb::Database, half: Half) -> std::collections::HashMap<String, Node> {
    call!(half, db, drop_table::<Dir>()).unwrap();
    call!(half, db, drop_table::<Mark>()).unwrap();
    call!(half, db, drop_table::<Node>()).unwrap();
    call!(half, db, create_table::<Node>()).unwrap();
    call!(half, db, create_table::<Mark>()).unwrap();
    call!(half, db, create_table::<Dir>()).unwrap();
    let mut nodes: std::collections::HashMap<String, Node> = Default::default();
    for (name, parent) in [
        ("r", None),
        ("a", Some("r")),
        ("b", Some("r")),
        ("a1", Some("a")),
        ("a2", Some("a")),
        ("a11", Some("a1")),
        ("o", None),
        ("c", Some("o")),
    ] {
        let parent = parent.map(|p: &str| nodes[p].id);
        let node = Node {
            id: 0,
            parent,
            name: name.into(),
        };
        let node: Node = call!(half, db, create(node)).unwrap();
        nodes.insert(name.to_string(), node);
    }
    for on in ["r", "a11", "b", "c"] {
        let mark = Mark {
            id: 0,
            node: nodes[on].id,
            label: on.into(),
        };
        call!(half, db, create(mark)).unwrap();
    }
    for (on, depth) in [("r", 2), ("a11", 3), ("c", 1)] {
        let mut parent = None;
        for i in 0..depth {
            let name = format!("{on}/{i}");
            let dir = Dir {
                id: 0,
                node: nodes[on].id,
                parent,
                name,
            };
            parent = Some(call!(half, db, create(dir)).unwrap().id);
        }
    }
    nodes
}

/// The folders' names, sorted.
async fn dirs_of(db: &dualdb::Database, half: Half) -> Vec<String> {
    let dirs: Vec<Dir> = call!(half, db, execute_query(Dir::select())).unwrap();
    let mut names: Vec<String> = dirs.into_iter().map(|d| d.name).collect();
    names.sort();
    names
}

/// The folders `delete_recursive(r, delete_nullable)` leaves.
fn pruned_dirs(delete_nullable: bool) -> Vec<String> {
    let mut dirs = vec!["c/0".to_string()];
    if !delete_nullable {
        dirs.extend(["a11/0", "a11/1", "a11/2"].map(String::from));
    }
    dirs.sort();
    dirs
}

/// The stored nodes as (name, parent's name), and the marks' labels, sorted.
async fn tree_of(
    db: &dualdb::Database,
    half: Half,
) -> (Vec<(String, Option<String>)>, Vec<String>) {
    let nodes: Vec<Node> = call!(half, db, execute_query(Node::select())).unwrap();
    let name = |id: i64| nodes.iter().find(|n| n.id == id).map(|n| n.name.clone());
    let mut shape: Vec<_> = nodes
        .iter()
        .map(|n| (n.name.clone(), n.parent.and_then(name)))
        .collect();
    shape.sort();
    let marks: Vec<Mark> = call!(half, db, execute_query(Mark::select())).unwrap();
    let mut labels: Vec<String> = marks.into_iter().map(|m| m.label).collect();
    labels.sort();
    (shape, labels)
}

/// Checks the nodes, marks and folders stored are what
/// `delete_recursive(r, delete_nullable)` leaves of [`plant`]'s.
async fn assert_pruned(db: &dualdb::Database, half: Half, delete_nullable: bool) {
    let what = format!(
        "{:?} {half:?} delete_nullable={delete_nullable}",
        db.backend()
    );
    assert_eq!(tree_of(db, half).await, pruned(delete_nullable), "{what}");
    assert_eq!(
        dirs_of(db, half).await,
        pruned_dirs(delete_nullable),
        "{what}"
    );
}

/// What `delete_recursive(r, delete_nullable)` leaves of [`plant`]'s tree.
fn pruned(delete_nullable: bool) -> (Vec<(String, Option<String>)>, Vec<String>) {
    let edge = |n: &str, p: Option<&str>| (n.to_string(), p.map(str::to_string));
    let mut shape = vec![edge("o", None), edge("c", Some("o"))];
    let mut marks = vec!["c".to_string()];
    if !delete_nullable {
        // r's children lose their parent; the subtrees below them stay.
        shape.extend([
            edge("a", None),
            edge("b", None),
            edge("a1", Some("a")),
            edge("a2", Some("a")),
            edge("a11", Some("a1")),
        ]);
        marks.extend(["a11".to_string(), "b".to_string()]);
    }
    shape.sort();
    marks.sort();
    (shape, marks)
}

/// A model whose foreign key references its own table (a tree): the
/// recursive delete with `delete_nullable` deletes the whole subtree, its
/// deepest nodes first, with the dependants of every node in it; without,
/// the children are cut loose. In a transaction rolled back (nothing lost),
/// then in one committed, then outside one; on both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recursive_delete_of_a_tree() {
    for db in isolated_all("tree") {
        let bk = db.backend();
        for half in HALVES {
            for delete_nullable in [true, false] {
                let want = pruned(delete_nullable);
                let nodes = plant(&db, half).await;
                let whole = tree_of(&db, half).await;
                let r = &nodes["r"];
                // In a transaction: the subtree is gone inside it, back after
                // the rollback.
                let deleted = match half {
                    Half::Sync => {
                        let tx = db.sync().begin().unwrap();
                        let n = tx.delete_recursive(r, delete_nullable).unwrap();
                        assert_eq!(
                            tx.count(Node::select(), false).unwrap(),
                            want.0.len() as i64
                        );
                        tx.rollback().unwrap();
                        n
                    }
                    Half::Async => {
                        let tx = db.aio().begin().await.unwrap();
                        let n = tx.delete_recursive(r, delete_nullable).await.unwrap();
                        let inside = tx.count(Node::select(), false).await.unwrap();
                        assert_eq!(inside, want.0.len() as i64);
                        tx.rollback().await.unwrap();
                        n
                    }
                };
                assert_eq!(deleted, 1, "{bk:?} {half:?}");
                assert_eq!(
                    tree_of(&db, half).await,
                    whole,
                    "{bk:?} {half:?}: rolled back"
                );
                // Committed.
                match half {
                    Half::Sync => db
                        .sync()
                        .atomic(|tx| tx.delete_recursive(r, delete_nullable))
                        .unwrap(),
                    Half::Async => db
                        .aio()
                        .atomic(async |tx| tx.delete_recursive(r, delete_nullable).await)
                        .await
                        .unwrap(),
                };
                assert_pruned(&db, half, delete_nullable).await;
                // Outside a transaction, from a fresh tree.
                let nodes = plant(&db, half).await;
                let n = call!(half, db, delete_recursive(&nodes["r"], delete_nullable)).unwrap();
                assert_eq!(n, 1);
                assert_pruned(&db, half, delete_nullable).await;
                // A leaf's recursive delete is its own row and marks only.
                let n = call!(half, db, delete_recursive(&nodes["c"], delete_nullable)).unwrap();
                assert_eq!(n, 1);
                let (shape, marks) = tree_of(&db, half).await;
                assert!(!shape.iter().any(|(n, _)| n == "c"), "{bk:?} {half:?}");
                assert!(!marks.contains(&"c".to_string()), "{bk:?} {half:?}");
            }
        }
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "many_pages")]
struct Page {
    #[model(primary_key, auto)]
    id: i64,
    title: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "many_labels")]
struct Label {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "many_labellings")]
struct Labelling {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Page)]
    page: i64,
    #[model(references = Label)]
    label: i64,
}

const LABELS: dualdb::model::Links<Labelling, Page, Label> =
    dualdb::model::Links::new(Labelling::PAGE, Labelling::LABEL);

/// `Links::add` of more links than one statement binds (two values a link)
/// splits itself as `insert_many` does, all or nothing: a bad link in the
/// last statement stores none; in a transaction rolled back, none. `remove`
/// of as many splits likewise. On every backend and both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_add_splits_under_the_limit_all_or_nothing() {
    for db in isolated_all("many_links") {
        let b = db.backend();
        let s = db.sync();
        s.create_table::<Page>().unwrap();
        s.create_table::<Label>().unwrap();
        s.create_table::<Labelling>().unwrap();
        let n = match b {
            dualdb::BackendKind::Sqlite => 32_766 / 2 + 5,
            _ => 65_535 / 2 + 5,
        };
        let page = s
            .create(Page {
                id: 0,
                title: "p".into(),
            })
            .unwrap();
        let labels: Vec<Label> = (0..n)
            .map(|i| Label {
                id: 0,
                name: format!("l{i}"),
            })
            .collect();
        let mut labels = s.execute_query(Label::insert_many(labels)).unwrap();
        let stored = || s.count(Labelling::select(), false).unwrap();
        // The last link names no label: nothing is stored.
        labels.push(Label {
            id: i64::MAX,
            name: "none".into(),
        });
        let e = s.execute_query(LABELS.add(&page, &labels)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::IntegrityViolation, "{b:?}: {e}");
        assert_eq!(stored(), 0, "{b:?}");
        labels.pop();
        // In a transaction rolled back: none.
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                assert_eq!(
                    tx.execute_query(LABELS.add(&page, &labels)).await?,
                    n as u64
                );
                Err(dualdb::Error::new(ErrorKind::Other, "roll back"))
            })
            .await
            .unwrap_err();
        assert_eq!(stored(), 0, "{b:?}");
        for half in HALVES {
            call!(half, db, execute_query(Labelling::delete_query())).unwrap();
            let added = call!(half, db, execute_query(LABELS.add(&page, &labels))).unwrap();
            assert_eq!(added, n as u64, "{b:?} {half:?}");
            assert_eq!(stored(), n as i64, "{b:?} {half:?}");
        }
        let linked = s.count(LABELS.of(&page), false).unwrap();
        assert_eq!(linked, n as i64, "{b:?}");
        // `remove` of them all splits likewise: rolled back, all stay.
        s.atomic(|tx| -> dualdb::Result<()> {
            assert_eq!(tx.execute_query(LABELS.remove(&page, &labels))?, n as u64);
            Err(dualdb::Error::new(ErrorKind::Other, "roll back"))
        })
        .unwrap_err();
        assert_eq!(stored(), n as i64, "{b:?}");
        for half in HALVES {
            if stored() == 0 {
                s.execute_query(LABELS.add(&page, &labels)).unwrap();
            }
            let removed = call!(half, db, execute_query(LABELS.remove(&page, &labels))).unwrap();
            assert_eq!(removed, n as u64, "{b:?} {half:?}");
            assert_eq!(stored(), 0, "{b:?} {half:?}");
        }
        // No links to remove: no statement, none removed.
        let none: [&Label; 0] = [];
        assert_eq!(s.execute_query(LABELS.remove(&page, none)).unwrap(), 0);
    }
}
