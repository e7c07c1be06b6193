//! `distinct`, `paginate`, `union`, `union_all`, `intersect`, `except`,
//! `group_by`, `having`, aggregates and `select_fields` on both halves of every backend, in and out of
//! transactions, checked against the rows stored.

mod common;

use common::{HALVES, isolated_all};
use dualdb::{Database, ErrorKind, Model};

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

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "grouped_people")]
struct Person {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "grouped_toys")]
struct Toy {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Person)]
    person: i64,
    kind: String,
    price: f64,
}

/// ann: ball 1.5, ball 2.5, kite 10; bob: kite 20; cy: ball 4; dee: none.
async fn toys(db: &Database) {
    let a = db.aio();
    a.drop_table::<Toy>().await.unwrap();
    a.drop_table::<Person>().await.unwrap();
    a.create_table::<Person>().await.unwrap();
    a.create_table::<Toy>().await.unwrap();
    let people = ["ann", "bob", "cy", "dee"].map(|n| Person {
        id: 0,
        name: n.into(),
    });
    let people = a
        .execute_query(Person::insert_many(people.to_vec()))
        .await
        .unwrap();
    let toy = |who: usize, kind: &str, price| Toy {
        id: 0,
        person: people[who].id,
        kind: kind.into(),
        price,
    };
    let rows = vec![
        toy(0, "ball", 1.5),
        toy(0, "ball", 2.5),
        toy(0, "kite", 10.0),
        toy(1, "kite", 20.0),
        toy(2, "ball", 4.0),
    ];
    a.execute_query(Toy::insert_many(rows)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_having_and_aggregates() {
    for db in isolated_all("grouping_aggregates") {
        toys(&db).await;
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            // Toys per person with more than one, the most first.
            let q = Person::select()
                .join::<Toy>()
                .group_by((Person::ID, Person::NAME))
                .having(Toy::ID.count().gt(0))
                .order_by(Toy::ID.count().desc())
                .order_by(Person::NAME.asc())
                .select_fields((Person::NAME, Toy::ID.count()));
            let rows: Vec<(String, i64)> = call!(half, db, execute_query(q)).unwrap();
            let rows: Vec<(&str, i64)> = rows.iter().map(|(n, c)| (n.as_str(), *c)).collect();
            assert_eq!(rows, [("ann", 3), ("bob", 1), ("cy", 1)], "{what}");
            let q = Person::select()
                .join::<Toy>()
                .group_by(Person::ID)
                .having(Toy::ID.count().gt(1))
                .select_fields(Person::NAME);
            let names: Vec<String> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(names, ["ann"], "{what}");
            // Aggregates per kind.
            let q = Toy::select()
                .group_by(Toy::KIND)
                .order_by(Toy::KIND.asc())
                .select_fields((
                    Toy::KIND,
                    Toy::ID.count(),
                    Toy::PRICE.sum(),
                    Toy::PRICE.avg(),
                    Toy::PRICE.min(),
                    Toy::PRICE.max(),
                    Toy::PERSON.count_distinct(),
                ));
            let rows: Vec<(String, i64, f64, f64, f64, f64, i64)> =
                call!(half, db, execute_query(q)).unwrap();
            assert_eq!(rows.len(), 2, "{what}");
            let (kind, n, sum, avg, min, max, people) = &rows[0];
            assert_eq!((kind.as_str(), *n, *people), ("ball", 3, 2), "{what}");
            assert!(
                (sum - 8.0).abs() < 1e-9 && (avg - 8.0 / 3.0).abs() < 1e-9,
                "{what}"
            );
            assert_eq!((*min, *max), (1.5, 4.0), "{what}");
            assert_eq!((rows[1].0.as_str(), rows[1].1), ("kite", 2), "{what}");
            // Models read from groups: people whose toys cost more than 10.
            let q = Person::select()
                .join::<Toy>()
                .group_by(Person::ID)
                .having(Toy::PRICE.sum().gt(10.0))
                .order_by(Person::NAME.asc());
            let got = call!(half, db, execute_query(q)).unwrap();
            let names: Vec<&str> = got.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["ann", "bob"], "{what}");
            // Expressions as fields; a left join keeps dee, with no toy.
            let q = Person::select()
                .left_outer_join::<Toy>()
                .group_by(Person::ID)
                .order_by(Person::NAME.asc())
                .select_fields((Person::NAME.upper(), Toy::ID.count()));
            let rows: Vec<(String, i64)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(rows.last().unwrap(), &("DEE".to_string(), 0), "{what}");
            let q = Toy::select()
                .filter(Toy::KIND.eq("kite"))
                .order_by(Toy::PRICE.asc())
                .select_fields(((Toy::PRICE * 2.0), Toy::KIND.upper()));
            let rows: Vec<(f64, String)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                rows,
                [(20.0, "KITE".into()), (40.0, "KITE".into())],
                "{what}"
            );
            // A count read as text is a Decode error, not a guess.
            let q = Toy::select().select_fields::<(String,)>((Toy::ID.count(),));
            let err = call!(half, db, execute_query(q)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{what}: {err}");
            // A grouping by a model the query does not read: refused before I/O.
            let q = Toy::select()
                .group_by(Person::ID)
                .select_fields::<(i64,)>(Person::ID);
            let err = call!(half, db, execute_query(q)).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Usage, "{what}: {err}");
            // A payload in a HAVING is a value.
            for p in ["ball' OR '1'='1", "\") OR 1=1 --"] {
                let q = Toy::select()
                    .group_by(Toy::KIND)
                    .having(Toy::KIND.max().eq(p))
                    .select_fields::<String>(Toy::KIND);
                assert!(
                    call!(half, db, execute_query(q)).unwrap().is_empty(),
                    "{what}"
                );
            }
        }
        // Inside transactions, groups count the transaction's rows.
        let per_kind = || {
            Toy::select()
                .group_by(Toy::KIND)
                .order_by(Toy::KIND.asc())
                .select_fields::<(String, i64)>((Toy::KIND, Toy::ID.count()))
        };
        let dee = db.aio().get(Person::NAME.eq("dee")).await.unwrap();
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.create(Toy {
                    id: 0,
                    person: dee.id,
                    kind: "yoyo".into(),
                    price: 1.0,
                })
                .await?;
                let rows = tx.execute_query(per_kind()).await?;
                assert_eq!(rows.last().unwrap(), &("yoyo".to_string(), 1));
                Err(dualdb::Error::new(ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        db.sync()
            .atomic(|tx| -> dualdb::Result<()> {
                tx.execute_query(Toy::delete_query().filter(Toy::KIND.eq("kite")))?;
                assert_eq!(tx.execute_query(per_kind())?, [("ball".to_string(), 3)]);
                Err(dualdb::Error::new(ErrorKind::Usage, "roll back"))
            })
            .unwrap_err();
        assert_eq!(db.aio().execute_query(per_kind()).await.unwrap().len(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unions_intersections_and_differences() {
    for db in isolated_all("grouping_sets") {
        db.aio().create_table::<Pet>().await.unwrap();
        db.aio()
            .execute_query(Pet::insert_many(pets()))
            .await
            .unwrap();
        let cats = || Pet::select().filter(Pet::KIND.eq("cat"));
        let anns = || Pet::select().filter(Pet::OWNER.eq("ann"));
        let ages = |pets: Vec<Pet>| -> Vec<i32> {
            let mut a: Vec<i32> = pets.into_iter().map(|p| p.age).collect();
            a.sort_unstable();
            a
        };
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            let got = call!(half, db, execute_query(cats().union(anns()))).unwrap();
            assert_eq!(ages(got), [1, 3, 5, 6, 7], "{what}");
            let got = call!(half, db, execute_query(cats().union_all(anns()))).unwrap();
            assert_eq!(ages(got), [1, 3, 3, 5, 6, 7], "{what}");
            let got = call!(half, db, execute_query(cats().intersect(anns()))).unwrap();
            assert_eq!(ages(got), [3], "{what}");
            let got = call!(half, db, execute_query(cats().except(anns()))).unwrap();
            assert_eq!(ages(got), [1, 6, 7], "{what}");
            // The first query's order and limit apply to the whole.
            let q = cats().union(anns()).order_by(Pet::AGE.desc()).limit(2);
            let got: Vec<i32> = call!(half, db, execute_query(q))
                .unwrap()
                .into_iter()
                .map(|p| p.age)
                .collect();
            assert_eq!(got, [7, 6], "{what}");
            assert_eq!(
                call!(half, db, count(cats().union(anns()), false)).unwrap(),
                5
            );
            assert!(call!(half, db, exists(cats().intersect(anns()))).unwrap());
            let none = Pet::select().filter(Pet::KIND.eq("fish"));
            assert!(!call!(half, db, exists(none.intersect(anns()))).unwrap());
            // A joined part with an order of its own is refused before I/O.
            let q = cats().union(anns().order_by(Pet::AGE.asc()));
            let err = call!(half, db, execute_query(q)).unwrap_err();
            assert_eq!(err.kind(), dualdb::ErrorKind::Usage, "{what}: {err}");
        }
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.execute_query(Pet::delete_query().filter(Pet::AGE.eq(3)))
                    .await?;
                let got = tx.execute_query(cats().intersect(anns())).await?;
                assert!(got.is_empty());
                Err(dualdb::Error::new(ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        let got = db
            .sync()
            .atomic(|tx| tx.execute_query(cats().except(anns())))
            .unwrap();
        assert_eq!(ages(got), [1, 6, 7]);
    }
}
