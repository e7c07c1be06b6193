//! prefetch runs one query for the parents and one per sub-query, never
//! one per parent. Alone in its binary: it counts statements process-wide.

mod common;

use common::models::*;
use common::{HALVES, StatementCounter, isolated_all};
use dualdb::Model;

#[tokio::test(flavor = "current_thread")]
async fn prefetch_runs_one_query_per_sub_query() {
    for db in isolated_all("prefetch") {
        for half in HALVES {
            reset(&db, half).await;
            let mut authors = Vec::new();
            for i in 0..5 {
                let u = call!(half, db, create(user(&format!("a{i}"), i))).unwrap();
                for j in 0..i {
                    call!(
                        half,
                        db,
                        create(Post {
                            id: 0,
                            author: u.id,
                            title: format!("p{j}")
                        })
                    )
                    .unwrap();
                }
                authors.push(u);
            }
            let counter = StatementCounter::start();
            let result = call!(
                half,
                db,
                prefetch(
                    User::select()
                        .filter(User::AGE.ge(1))
                        .order_by(User::AGE.asc()),
                    Post::select().order_by(Post::ID.asc())
                )
            )
            .unwrap();
            assert_eq!(
                counter.take(),
                2,
                "{:?} {half:?}: parents + one child query",
                db.backend()
            );
            assert_eq!(result.len(), 4);
            for (u, posts) in &result {
                assert_eq!(posts.len() as i32, u.age, "{u:?}");
                assert!(posts.iter().all(|p| p.author == u.id));
            }
            // no parents: no child query
            let counter = StatementCounter::start();
            let empty = call!(
                half,
                db,
                prefetch(User::select().filter(User::AGE.gt(100)), Post::select())
            )
            .unwrap();
            assert!(empty.is_empty());
            assert_eq!(counter.take(), 1);

            // Several sub-queries, nested: users, their posts with each post's
            // comments, and their bookmarks: one query each.
            for u in &authors {
                call!(
                    half,
                    db,
                    create(Bookmark {
                        id: 0,
                        owner: Some(u.id),
                        url: format!("u{}", u.id)
                    })
                )
                .unwrap();
            }
            let posts: Vec<Post> = call!(half, db, execute_query(Post::select())).unwrap();
            for p in &posts {
                for k in 0..2 {
                    call!(
                        half,
                        db,
                        create(Comment {
                            id: 0,
                            post: p.id,
                            body: format!("c{k}")
                        })
                    )
                    .unwrap();
                }
            }
            let counter = StatementCounter::start();
            let tree = call!(
                half,
                db,
                prefetch(
                    User::select().order_by(User::AGE.asc()),
                    (Post::select().with(Comment::select()), Bookmark::select())
                )
            )
            .unwrap();
            assert_eq!(
                counter.take(),
                4,
                "{:?} {half:?}: users, posts, comments, bookmarks",
                db.backend()
            );
            assert_eq!(tree.len(), 5);
            for (u, (posts, marks)) in &tree {
                assert_eq!(posts.len() as i32, u.age);
                assert_eq!(marks.len(), 1);
                assert_eq!(marks[0].owner, Some(u.id));
                for (p, comments) in posts {
                    assert_eq!(p.author, u.id);
                    assert_eq!(comments.len(), 2);
                    assert!(comments.iter().all(|c| c.post == p.id));
                }
            }
        }
    }
}
