//! prefetch runs one query for the parents and one per sub-query, never
//! one per parent. Alone in its binary: it counts statements process-wide.

mod common;

use common::models::*;
use common::{isolated_all, StatementCounter, HALVES};
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
        }
    }
}
