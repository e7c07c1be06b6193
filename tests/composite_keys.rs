//! Composite primary keys (peewee's `CompositeKey`) and foreign keys of two
//! columns, on every backend and both halves, in and out of transactions:
//! the table's key as the server keeps it, `by_id((a, b))`, `update`,
//! `delete`, `get_or_create`, `create_or_get`, an upsert on the key, a
//! join and a prefetch over the two-column foreign key, the recursive
//! delete through it, `RETURNING` (read back by key on MySQL), and the
//! misuses refused before any I/O. Each check reads back what is stored.

mod common;

use common::{assert_usage, dead_and_live, isolated_all};
use dualdb::model::Links;
use dualdb::{AsyncExecutor, Database, ErrorKind, Model, SyncExecutor};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ck_order")]
struct Order {
    #[model(primary_key, auto)]
    id: i64,
    customer: String,
}

/// A key of two columns named on the struct, the first of them also a
/// foreign key of one column.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ck_line", primary_key(order_id, line))]
struct Line {
    #[model(references = Order)]
    order_id: i64,
    line: i32,
    sku: String,
    qty: i32,
}

/// A foreign key of two columns to `Line`.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ck_shipment")]
struct Shipment {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Line)]
    order_id: i64,
    #[model(references = Line)]
    line: i32,
    carrier: String,
}

/// A nullable foreign key of two columns (cleared, not deleted, by a
/// recursive delete), on a key of two fields marked one by one.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ck_note")]
struct Note {
    #[model(primary_key)]
    author: String,
    #[model(primary_key)]
    seq: i32,
    #[model(references = Line)]
    order_id: Option<i64>,
    #[model(references = Line)]
    line: Option<i32>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ck_tag")]
struct Tag {
    #[model(primary_key, auto)]
    id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ck_line_tag")]
struct LineTag {
    #[model(primary_key, auto)]
    id: i64,
    /// No `references`: one column cannot reference `Line`'s key (the
    /// derive refuses it), and the link is refused for the composite key
    /// before its columns are looked at.
    line: i64,
    #[model(references = Tag)]
    tag: i64,
}

fn line(order_id: i64, line: i32, sku: &str) -> Line {
    Line {
        order_id,
        line,
        sku: sku.into(),
        qty: 1,
    }
}

fn setup(db: &Database) -> (i64, i64) {
    let s = db.sync();
    for drop in [
        "ck_line_tag",
        "ck_tag",
        "ck_note",
        "ck_shipment",
        "ck_line",
        "ck_order",
    ] {
        s.execute(&format!("DROP TABLE IF EXISTS {drop}"), &[])
            .unwrap();
    }
    s.create_table::<Order>().unwrap();
    s.create_table::<Line>().unwrap();
    s.create_table::<Shipment>().unwrap();
    s.create_table::<Note>().unwrap();
    let a = s
        .create(Order {
            id: 0,
            customer: "ada".into(),
        })
        .unwrap();
    let b = s
        .create(Order {
            id: 0,
            customer: "bo".into(),
        })
        .unwrap();
    (a.id, b.id)
}

/// The `(order, line, sku, qty)` rows stored, in key order.
fn stored(db: &Database) -> Vec<(i64, i32, String, i32)> {
    let q = Line::select()
        .order_by(Line::ORDER_ID.asc())
        .order_by(Line::LINE.asc());
    (db.sync().execute_query(q).unwrap().into_iter())
        .map(|l| (l.order_id, l.line, l.sku, l.qty))
        .collect()
}

/// The key's operations through any blocking handle: the database, or a
/// transaction. Orders `a` and `b` have no lines on entry.
fn key_ops_sync(x: &impl SyncExecutor, a: i64, b: i64) -> dualdb::Result<()> {
    x.create(line(a, 1, "A-1"))?;
    x.create(line(a, 2, "A-2"))?;
    x.create(line(b, 1, "B-1"))?;
    assert_eq!(x.get(Line::by_id((a, 2)))?.sku, "A-2");
    assert_eq!(x.get(Line::by_id((b, 1i32)))?.sku, "B-1");
    assert!(x.get_or_none(Line::by_id((b, 2)))?.is_none());
    let mut l = x.get(Line::by_id((a, 2)))?;
    l.qty = 5;
    assert_eq!(x.update(&l)?, 1);
    assert_eq!(x.get(Line::by_id((a, 2)))?.qty, 5);
    assert_eq!(
        x.get(Line::by_id((a, 1)))?.qty,
        1,
        "only the row of the key"
    );
    // get_or_create by the key: found, then made.
    let (found, made) = x.get_or_create(Line::by_id((a, 1)), || line(a, 1, "no"))?;
    assert_eq!((found.sku.as_str(), made), ("A-1", false));
    let (_, made) = x.get_or_create(Line::by_id((b, 2)), || line(b, 2, "B-2"))?;
    assert!(made);
    // create_or_get looks the row up by the whole key: (b, 3) matches
    // neither (b, 1) by its order nor (a, 3)-like rows by its line.
    let (got, made) = x.create_or_get(line(b, 3, "B-3"))?;
    assert!(made && got.sku == "B-3", "{got:?}");
    let (got, made) = x.create_or_get(line(b, 3, "other"))?;
    assert!(!made && got.sku == "B-3", "{got:?}");
    assert_eq!(x.delete(&line(b, 3, ""))?, 1);
    assert_eq!(x.delete(&line(b, 3, ""))?, 0);
    Ok(())
}

async fn key_ops_async(x: &impl AsyncExecutor, a: i64, b: i64) -> dualdb::Result<()> {
    x.create(line(a, 1, "A-1")).await?;
    x.create(line(a, 2, "A-2")).await?;
    x.create(line(b, 1, "B-1")).await?;
    assert_eq!(x.get(Line::by_id((a, 2))).await?.sku, "A-2");
    assert_eq!(x.get(Line::by_id((b, 1i32))).await?.sku, "B-1");
    assert!(x.get_or_none(Line::by_id((b, 2))).await?.is_none());
    let mut l = x.get(Line::by_id((a, 2))).await?;
    l.qty = 5;
    assert_eq!(x.update(&l).await?, 1);
    assert_eq!(x.get(Line::by_id((a, 2))).await?.qty, 5);
    assert_eq!(x.get(Line::by_id((a, 1))).await?.qty, 1);
    let (found, made) = x
        .get_or_create(Line::by_id((a, 1)), || line(a, 1, "no"))
        .await?;
    assert_eq!((found.sku.as_str(), made), ("A-1", false));
    let (_, made) = x
        .get_or_create(Line::by_id((b, 2)), || line(b, 2, "B-2"))
        .await?;
    assert!(made);
    let (got, made) = x.create_or_get(line(b, 3, "B-3")).await?;
    assert!(made && got.sku == "B-3", "{got:?}");
    let (got, made) = x.create_or_get(line(b, 3, "other")).await?;
    assert!(!made && got.sku == "B-3", "{got:?}");
    assert_eq!(x.delete(&line(b, 3, "")).await?, 1);
    assert_eq!(x.delete(&line(b, 3, "")).await?, 0);
    Ok(())
}

/// What the key operations leave stored.
fn after_key_ops(a: i64, b: i64) -> Vec<(i64, i32, String, i32)> {
    vec![
        (a, 1, "A-1".into(), 1),
        (a, 2, "A-2".into(), 5),
        (b, 1, "B-1".into(), 1),
        (b, 2, "B-2".into(), 1),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn composite_keys_get_update_delete_and_create_on_both_halves_in_and_out_of_transactions() {
    for db in isolated_all("ck_ops") {
        let bk = db.backend();
        let (a, b) = setup(&db);
        let s = db.sync();

        // Blocking, outside a transaction.
        key_ops_sync(s, a, b).unwrap();
        assert_eq!(stored(&db), after_key_ops(a, b), "{bk:?} blocking");
        // The same pair twice: the table's key refuses it (a server error,
        // which in a PostgreSQL transaction would abort it: checked here).
        let dup = s.create(line(a, 2, "again")).unwrap_err();
        assert_eq!(dup.kind(), ErrorKind::UniqueViolation, "{bk:?}: {dup}");
        let dup = db.aio().create(line(b, 1, "again")).await.unwrap_err();
        assert_eq!(dup.kind(), ErrorKind::UniqueViolation, "{bk:?}: {dup}");
        assert_eq!(stored(&db), after_key_ops(a, b), "{bk:?} nothing written");

        // Blocking, in a transaction: committed, then rolled back.
        s.execute("DELETE FROM ck_line", &[]).unwrap();
        s.atomic(|tx| key_ops_sync(tx, a, b)).unwrap();
        assert_eq!(stored(&db), after_key_ops(a, b), "{bk:?} blocking tx");
        s.execute("DELETE FROM ck_line", &[]).unwrap();
        let tx = s.begin().unwrap();
        key_ops_sync(&tx, a, b).unwrap();
        tx.rollback().unwrap();
        assert!(stored(&db).is_empty(), "{bk:?} rolled back");

        // Async, outside and inside a transaction.
        key_ops_async(db.aio(), a, b).await.unwrap();
        assert_eq!(stored(&db), after_key_ops(a, b), "{bk:?} async");
        s.execute("DELETE FROM ck_line", &[]).unwrap();
        db.aio()
            .atomic(async |tx| key_ops_async(tx, a, b).await)
            .await
            .unwrap();
        assert_eq!(stored(&db), after_key_ops(a, b), "{bk:?} async tx");
        s.execute("DELETE FROM ck_line", &[]).unwrap();
        let tx = db.aio().begin().await.unwrap();
        key_ops_async(&tx, a, b).await.unwrap();
        tx.rollback().await.unwrap();
        assert!(stored(&db).is_empty(), "{bk:?} async rolled back");

        // An upsert on the key: the colliding row updated, the new one
        // written, the others untouched.
        key_ops_sync(s, a, b).unwrap();
        let rows = vec![line(a, 2, "A-2 new"), line(b, 9, "B-9")];
        let up = Line::insert_many(rows)
            .on_conflict(&[&Line::ORDER_ID, &Line::LINE])
            .preserve(&[&Line::SKU]);
        let done = db.aio().execute_query(up).await.unwrap();
        assert_eq!(done.rows.len(), 2, "{bk:?}");
        let ignored =
            Line::insert_many(vec![line(a, 1, "ignored"), line(b, 8, "B-8")]).on_conflict_ignore();
        s.execute_query(ignored).unwrap();
        let skus: Vec<String> = stored(&db).into_iter().map(|r| r.2).collect();
        assert_eq!(
            skus,
            ["A-1", "A-2 new", "B-1", "B-2", "B-8", "B-9"],
            "{bk:?}"
        );

        // RETURNING the rows an update changed (MySQL reads them back by
        // their keys, each a pair).
        let q = Line::update_query()
            .set(Line::QTY, 7)
            .filter(Line::SKU.is_in(["A-1", "B-8"]))
            .returning();
        let mut changed = db.aio().execute_query(q).await.unwrap();
        changed.sort_by_key(|l| (l.order_id, l.line));
        let keys: Vec<(i64, i32, i32)> = changed
            .iter()
            .map(|l| (l.order_id, l.line, l.qty))
            .collect();
        assert_eq!(keys, [(a, 1, 7), (b, 8, 7)], "{bk:?}");
        let deleted = s
            .execute_query(Line::delete_query().filter(Line::QTY.eq(7)).returning())
            .unwrap();
        assert_eq!(deleted.len(), 2, "{bk:?}");
        assert_eq!(stored(&db).len(), 4, "{bk:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_column_foreign_keys_join_prefetch_and_delete_recursively() {
    for db in isolated_all("ck_fk") {
        let bk = db.backend();
        let (a, b) = setup(&db);
        let s = db.sync();
        key_ops_sync(s, a, b).unwrap();
        let ship = |order_id, line, carrier: &str| Shipment {
            id: 0,
            order_id,
            line,
            carrier: carrier.into(),
        };
        s.create(ship(a, 1, "dhl")).unwrap();
        s.create(ship(a, 2, "ups")).unwrap();
        s.create(ship(a, 2, "fedex")).unwrap();
        s.create(ship(b, 1, "post")).unwrap();
        // The server keeps the foreign key over the pair: (b, 5) is no line.
        let orphan = s.create(ship(b, 5, "nowhere")).unwrap_err();
        assert_eq!(
            orphan.kind(),
            ErrorKind::IntegrityViolation,
            "{bk:?}: {orphan}"
        );
        for (seq, key) in [(1, Some((a, 2))), (2, Some((b, 1))), (3, None)] {
            let note = Note {
                author: "kim".into(),
                seq,
                order_id: key.map(|k| k.0),
                line: key.map(|k| k.1),
            };
            s.create(note).unwrap();
        }

        // A join inferred from the two-column foreign key.
        let q = Shipment::select()
            .join::<Line>()
            .filter(Line::SKU.eq("A-2"))
            .order_by(Shipment::CARRIER.asc());
        let carriers: Vec<String> = (db.aio().execute_query(q).await.unwrap().into_iter())
            .map(|s| s.carrier)
            .collect();
        assert_eq!(carriers, ["fedex", "ups"], "{bk:?}");
        let q = Line::select()
            .left_outer_join::<Shipment>()
            .order_by(Line::ORDER_ID.asc())
            .order_by(Line::LINE.asc())
            .order_by(Shipment::ID.asc())
            .models::<(Line, Option<Shipment>)>();
        let pairs: Vec<(String, Option<String>)> = (s.execute_query(q).unwrap().into_iter())
            .map(|(l, sh)| (l.sku, sh.map(|sh| sh.carrier)))
            .collect();
        let want: Vec<(String, Option<String>)> = [
            ("A-1", Some("dhl")),
            ("A-2", Some("ups")),
            ("A-2", Some("fedex")),
            ("B-1", Some("post")),
            ("B-2", None),
        ]
        .into_iter()
        .map(|(l, c)| (l.to_string(), c.map(str::to_string)))
        .collect();
        assert_eq!(pairs, want, "{bk:?}");

        // Prefetch: each line gets its shipments, matched on both columns
        // (line 1 of order a and line 1 of order b are different lines);
        // nested under the orders, on both halves and in a transaction.
        let by_line = |rows: Vec<(Line, Vec<Shipment>)>| -> Vec<(String, Vec<String>)> {
            rows.into_iter()
                .map(|(l, sh)| (l.sku, sh.into_iter().map(|s| s.carrier).collect()))
                .collect()
        };
        let lines = Line::select()
            .order_by(Line::ORDER_ID.asc())
            .order_by(Line::LINE.asc());
        let shipments = Shipment::select().order_by(Shipment::ID.asc());
        let want = vec![
            ("A-1".to_string(), vec!["dhl".to_string()]),
            ("A-2".into(), vec!["ups".into(), "fedex".into()]),
            ("B-1".into(), vec!["post".into()]),
            ("B-2".into(), vec![]),
        ];
        let got = s.prefetch(lines.clone(), shipments.clone()).unwrap();
        assert_eq!(by_line(got), want, "{bk:?} blocking");
        let got = db
            .aio()
            .prefetch(lines.clone(), shipments.clone())
            .await
            .unwrap();
        assert_eq!(by_line(got), want, "{bk:?} async");
        let tx = db.aio().begin().await.unwrap();
        let got = tx.prefetch(lines.clone(), shipments.clone()).await.unwrap();
        assert_eq!(by_line(got), want, "{bk:?} async tx");
        tx.commit().await.unwrap();
        let nested = s
            .prefetch(
                Order::select().order_by(Order::ID.asc()),
                Line::select()
                    .order_by(Line::LINE.asc())
                    .with(Shipment::select().order_by(Shipment::ID.asc())),
            )
            .unwrap();
        let shape: Vec<(String, Vec<(i32, usize)>)> = (nested.into_iter())
            .map(|(o, ls)| {
                (
                    o.customer,
                    ls.into_iter().map(|(l, sh)| (l.line, sh.len())).collect(),
                )
            })
            .collect();
        let want = vec![
            ("ada".to_string(), vec![(1, 1), (2, 2)]),
            ("bo".to_string(), vec![(1, 1), (2, 0)]),
        ];
        assert_eq!(shape, want, "{bk:?} nested");

        // The recursive delete of line (a, 2): its shipments deleted, its
        // note's nullable pair cleared; the other lines' rows kept. In a
        // transaction rolled back first, then for good on the async half.
        let a2 = s.get(Line::by_id((a, 2))).unwrap();
        s.atomic(|tx| -> dualdb::Result<()> {
            assert_eq!(tx.delete_recursive(&a2, false)?, 1);
            assert_eq!(tx.count(Shipment::select(), false)?, 2);
            Err(dualdb::Error::new(ErrorKind::Other, "roll back"))
        })
        .unwrap_err();
        assert_eq!(s.count(Shipment::select(), false).unwrap(), 4, "{bk:?}");
        assert_eq!(db.aio().delete_recursive(&a2, false).await.unwrap(), 1);
        let carriers: Vec<String> = (s
            .execute_query(Shipment::select().order_by(Shipment::ID.asc()))
            .unwrap()
            .into_iter())
        .map(|s| s.carrier)
        .collect();
        assert_eq!(carriers, ["dhl", "post"], "{bk:?}");
        let notes: Vec<(i32, Option<i64>, Option<i32>)> = (s
            .execute_query(Note::select().order_by(Note::SEQ.asc()))
            .unwrap()
            .into_iter())
        .map(|n| (n.seq, n.order_id, n.line))
        .collect();
        assert_eq!(
            notes,
            [(1, None, None), (2, Some(b), Some(1)), (3, None, None)],
            "{bk:?}"
        );
        assert_eq!(s.get(Note::by_id(("kim", 2))).unwrap().line, Some(1));
        assert!(s.get_or_none(Line::by_id((a, 2))).unwrap().is_none());
        assert_eq!(stored(&db).len(), 3, "{bk:?}");
    }
}

/// Misuses of composite keys fail before any I/O, with the same error on a
/// live backend and a dead server.
/// A tree whose key and foreign key to its own table are two columns.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "ck_folder", primary_key(owner, name))]
struct Folder {
    owner: String,
    name: String,
    #[model(references = Folder)]
    parent_owner: Option<String>,
    #[model(references = Folder)]
    parent_name: Option<String>,
}

fn folder(owner: &str, name: &str, parent: Option<(&str, &str)>) -> Folder {
    Folder {
        owner: owner.into(),
        name: name.into(),
        parent_owner: parent.map(|p| p.0.into()),
        parent_name: parent.map(|p| p.1.into()),
    }
}

/// The recursive delete of a tree keyed by two columns: its descendants
/// read level by level as `(a, b) IN ((?, ?), …)` and deleted deepest first,
/// another owner's folders of the same names kept; in a transaction rolled
/// back, then for good, on both halves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_keyed_by_two_columns_is_deleted_deepest_first() {
    for db in isolated_all("ck_tree") {
        let bk = db.backend();
        for sync in [true, false] {
            let s = db.sync();
            s.drop_table::<Folder>().unwrap();
            s.create_table::<Folder>().unwrap();
            for owner in ["ada", "bo"] {
                s.create(folder(owner, "/", None)).unwrap();
                s.create(folder(owner, "/a", Some((owner, "/")))).unwrap();
                s.create(folder(owner, "/a/b", Some((owner, "/a"))))
                    .unwrap();
                s.create(folder(owner, "/a/b/c", Some((owner, "/a/b"))))
                    .unwrap();
                s.create(folder(owner, "/d", Some((owner, "/")))).unwrap();
            }
            let root = s.get(Folder::by_id(("ada", "/"))).unwrap();
            s.atomic(|tx| -> dualdb::Result<()> {
                assert_eq!(tx.delete_recursive(&root, true)?, 1);
                assert_eq!(tx.count(Folder::select(), false)?, 5);
                Err(dualdb::Error::new(ErrorKind::Other, "roll back"))
            })
            .unwrap_err();
            assert_eq!(s.count(Folder::select(), false).unwrap(), 10, "{bk:?}");
            let n = match sync {
                true => s.delete_recursive(&root, true).unwrap(),
                false => db.aio().delete_recursive(&root, true).await.unwrap(),
            };
            assert_eq!(n, 1, "{bk:?}");
            let left: Vec<(String, String)> = s
                .execute_query(Folder::select().order_by(Folder::NAME.asc()))
                .unwrap()
                .into_iter()
                .map(|f| (f.owner, f.name))
                .collect();
            let want: Vec<(String, String)> = ["/", "/a", "/a/b", "/a/b/c", "/d"]
                .iter()
                .map(|n| ("bo".to_string(), n.to_string()))
                .collect();
            assert_eq!(left, want, "{bk:?} sync={sync}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misused_composite_keys_are_refused_before_any_io() {
    const TAGS: Links<LineTag, Line, Tag> = Links::new(LineTag::LINE, LineTag::TAG);
    for (url, db) in dead_and_live() {
        let s = db.sync();
        let e = s.get(Line::by_id(7)).unwrap_err();
        assert_usage(&e, "2 column(s); the key given has 1", &url);
        let e = db.aio().get(Line::by_id((7, 1, 2))).await.unwrap_err();
        assert_usage(&e, "the key given has 3", &url);
        let e = s.get(Order::by_id((1, 2))).unwrap_err();
        assert_usage(&e, "1 column(s); the key given has 2", &url);
        let e = s
            .execute_query(Shipment::select().filter(Shipment::ORDER_ID.is_in(Line::select())))
            .unwrap_err();
        assert_usage(&e, "select the one field", &url);
        let l = line(1, 1, "x");
        let e = s.execute_query(TAGS.of(&l)).unwrap_err();
        assert_usage(&e, "Line has a composite key", &url);
        let e = db.aio().execute_query(TAGS.clear(&l)).await.unwrap_err();
        assert_usage(&e, "Line has a composite key", &url);
    }
}

#[test]
fn the_model_describes_its_key_and_foreign_keys() {
    let key: Vec<&str> = Line::META.key_columns().map(|c| c.name).collect();
    assert_eq!(key, ["order_id", "line"]);
    assert!(Line::META.composite_key() && !Order::META.composite_key());
    let l = line(3, 4, "x");
    assert_eq!(
        l.key_values(),
        vec![dualdb::Value::I64(3), dualdb::Value::I64(4)]
    );
    let fks = Shipment::META.foreign_keys();
    assert_eq!(fks.len(), 1);
    assert_eq!(fks[0].target.table, "ck_line");
    assert!(!fks[0].nullable() && Note::META.foreign_keys()[0].nullable());
    // Line's own foreign key (one column, to Order) beside its key.
    let own: Vec<_> = Line::META
        .foreign_keys()
        .iter()
        .map(|k| (k.target.table, k.columns.clone()))
        .collect();
    assert_eq!(own, [("ck_order", vec![0])]);
    let deps: Vec<&str> = Line::META
        .dependents()
        .iter()
        .map(|k| k.model.table)
        .collect();
    assert!(
        deps.contains(&"ck_shipment") && deps.contains(&"ck_note"),
        "{deps:?}"
    );
}
