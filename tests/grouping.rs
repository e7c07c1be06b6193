//! `distinct` and `paginate` on both halves of every backend, in and out of
//! transactions, checked against the rows stored.

mod common;

use common::{HALVES, isolated_all};
use dualdb::Model;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "grouped_pets")]
struct Pet {
    #[model(primary_key, auto)]
    id: i64,
    owner: String,
    kind: String,
    age: i32,
}

fn pets() -> Vec<Pet> {
    [
        ("ann", "cat", 3),
        ("ann", "dog", 5),
        ("bob", "cat", 1),
        ("bob", "cat", 7),
        ("cy", "fish", 2),
        ("cy", "dog", 4),
        ("cy", "cat", 6),
    ]
    .into_iter()
    .map(|(owner, kind, age)| Pet {
        id: 0,
        owner: owner.into(),
        kind: kind.into(),
        age,
    })
    .collect()
}

fn ids(pets: &[Pet]) -> Vec<i64> {
    pets.iter().map(|p| p.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distinct_and_pages() {
    for db in isolated_all("grouping") {
        db.aio().create_table::<Pet>().await.unwrap();
        let stored = db
            .aio()
            .execute_query(Pet::insert_many(pets()))
            .await
            .unwrap();
        let all = ids(&stored);
        let what = format!("{:?}", db.backend());
        for half in HALVES {
            let by_id = || Pet::select().order_by(Pet::ID.asc());
            let page = |n| by_id().paginate(n, 3);
            assert_eq!(
                ids(&call!(half, db, execute_query(page(1))).unwrap()),
                all[..3]
            );
            assert_eq!(
                ids(&call!(half, db, execute_query(page(2))).unwrap()),
                all[3..6]
            );
            assert_eq!(
                ids(&call!(half, db, execute_query(page(3))).unwrap()),
                all[6..]
            );
            assert!(call!(half, db, execute_query(page(4))).unwrap().is_empty());
            assert_eq!(
                ids(&call!(half, db, execute_query(page(0))).unwrap()),
                all[..3],
                "{what}: page 0 is page 1"
            );
            // A page with a filter: the cats, two a page.
            let cats = by_id().filter(Pet::KIND.eq("cat")).paginate(2, 2);
            let got = call!(half, db, execute_query(cats)).unwrap();
            assert_eq!(ids(&got), [all[3], all[6]], "{what}");

            // Distinct values of a column: four kinds' rows, three owners.
            let kinds = Pet::select().fields([Pet::KIND.field()]).distinct();
            assert_eq!(call!(half, db, count(kinds, false)).unwrap(), 3, "{what}");
            let owners = Pet::select().fields([Pet::OWNER.field()]).distinct();
            assert_eq!(call!(half, db, count(owners.clone(), false)).unwrap(), 3);
            // Ordered and limited: the last owner by name.
            let last = owners.order_by(Pet::OWNER.desc());
            let name: String = call!(half, db, scalar(last)).unwrap();
            assert_eq!(name, "cy");
            // Whole rows are distinct already (each has its key).
            let rows = call!(half, db, count(Pet::select().distinct(), false)).unwrap();
            assert_eq!(rows, 7, "{what}");
        }
        // Inside transactions, where the pages see the transaction's rows.
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.execute_query(Pet::delete_query().filter(Pet::KIND.eq("fish")))
                    .await?;
                let page = Pet::select().order_by(Pet::ID.asc()).paginate(2, 3);
                let got = tx.execute_query(page).await?;
                assert_eq!(ids(&got), [all[3], all[5], all[6]], "{what}");
                let kinds = Pet::select().fields([Pet::KIND.field()]).distinct();
                assert_eq!(tx.count(kinds, false).await?, 2);
                Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        db.sync()
            .atomic(|tx| -> dualdb::Result<()> {
                tx.execute_query(Pet::delete_query().filter(Pet::OWNER.eq("ann")))?;
                let page = Pet::select().order_by(Pet::ID.asc()).paginate(1, 2);
                assert_eq!(ids(&tx.execute_query(page)?), all[2..4], "{what}");
                let owners = Pet::select().fields([Pet::OWNER.field()]).distinct();
                assert_eq!(tx.count(owners, false)?, 2);
                Err(dualdb::Error::new(dualdb::ErrorKind::Usage, "roll back"))
            })
            .unwrap_err();
        assert_eq!(db.aio().count(Pet::select(), false).await.unwrap(), 7);
    }
}
