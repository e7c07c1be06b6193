//! A model joined twice under aliases (a document's author and its editor,
//! a person and their manager) on both halves of every backend, in and out
//! of transactions, checked against the rows returned: columns, filters,
//! orders, groups and tuples of models through each alias, and the misuses
//! (an alias not joined, a name taken, more models than the query reads),
//! refused before any I/O.

mod common;

use common::{HALVES, isolated_all};
use dualdb::model::Alias;
use dualdb::{Database, ErrorKind, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "alias_people")]
struct Person {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
    #[model(references = Person)]
    manager: Option<i64>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "alias_docs")]
struct Doc {
    #[model(primary_key, auto)]
    id: i64,
    title: String,
    #[model(references = Person)]
    author: i64,
    #[model(references = Person)]
    editor: Option<i64>,
}

const EDITOR: Alias<Person> = Alias::new("editor");
const BOSS: Alias<Person> = Alias::new("boss");

/// ann manages bob and cy; bob manages dee. Docs: "d1" by bob edited by
/// ann, "d2" by cy edited by ann, "d3" by ann edited by bob, "d4" by dee,
/// not edited.
async fn fresh(db: &Database) {
    let a = db.aio();
    a.drop_table::<Doc>().await.unwrap();
    a.drop_table::<Person>().await.unwrap();
    a.create_table::<Person>().await.unwrap();
    a.create_table::<Doc>().await.unwrap();
    let person = |name: &str, manager| Person {
        id: 0,
        name: name.into(),
        manager,
    };
    let ann = a.create(person("ann", None)).await.unwrap().id;
    let bob = a.create(person("bob", Some(ann))).await.unwrap().id;
    let cy = a.create(person("cy", Some(ann))).await.unwrap().id;
    let dee = a.create(person("dee", Some(bob))).await.unwrap().id;
    let doc = |title: &str, author, editor| Doc {
        id: 0,
        title: title.into(),
        author,
        editor,
    };
    a.execute_query(Doc::insert_many(vec![
        doc("d1", bob, Some(ann)),
        doc("d2", cy, Some(ann)),
        doc("d3", ann, Some(bob)),
        doc("d4", dee, None),
    ]))
    .await
    .unwrap();
}

/// Docs with their author (by `Doc::AUTHOR`) and, when edited, their
/// editor.
fn with_both() -> dualdb::Select<Doc> {
    Doc::select()
        .join_on(Doc::AUTHOR, Person::ID)
        .left_outer_join_on(Doc::EDITOR, EDITOR.col(Person::ID))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_joined_twice_reads_through_each_alias() {
    for db in isolated_all("aliases") {
        fresh(&db).await;
        for half in HALVES {
            let what = format!("{:?} {half:?}", db.backend());
            // Columns of both, one row a doc.
            let q = with_both().order_by(Doc::TITLE.asc()).select_fields((
                Doc::TITLE,
                Person::NAME,
                EDITOR.col(Person::NAME),
            ));
            let rows: Vec<(String, String, Option<String>)> =
                call!(half, db, execute_query(q)).unwrap();
            let seen: Vec<(&str, &str, Option<&str>)> = rows
                .iter()
                .map(|(t, a, e)| (t.as_str(), a.as_str(), e.as_deref()))
                .collect();
            assert_eq!(
                seen,
                [
                    ("d1", "bob", Some("ann")),
                    ("d2", "cy", Some("ann")),
                    ("d3", "ann", Some("bob")),
                    ("d4", "dee", None)
                ],
                "{what}"
            );
            // Whole models: the second Person of the tuple is the alias.
            let q = with_both()
                .order_by(Doc::TITLE.asc())
                .models::<(Doc, Person, Option<Person>)>();
            let rows = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(rows.len(), 4, "{what}");
            for (doc, author, editor) in &rows {
                assert_eq!(doc.author, author.id, "{what}: {doc:?}");
                assert_eq!(doc.editor, editor.as_ref().map(|e| e.id), "{what}: {doc:?}");
            }
            assert_eq!(rows[2].1.name, "ann", "{what}");
            assert_eq!(rows[2].2.as_ref().map(|e| e.name.as_str()), Some("bob"));
            // A filter on the alias, another on the own table, an order
            // through the alias.
            let q = with_both()
                .filter(EDITOR.col(Person::NAME).eq("ann") & Person::NAME.ne("cy"))
                .order_by(EDITOR.col(Person::NAME).desc());
            let got = call!(half, db, execute_query(q)).unwrap();
            let titles: Vec<&str> = got.iter().map(|d| d.title.as_str()).collect();
            assert_eq!(titles, ["d1"], "{what}");
            // An OR across the alias and the table, an expression on the
            // alias, `is_null` on the outer side.
            let q = with_both().filter(
                EDITOR.col(Person::NAME).upper().eq("BOB") | EDITOR.col(Person::ID).is_null(),
            );
            assert_eq!(call!(half, db, count(q, false)).unwrap(), 2, "{what}");
            // Grouped by the alias: docs each editor edited.
            let q = Doc::select()
                .join_on(Doc::EDITOR, EDITOR.col(Person::ID))
                .group_by(EDITOR.col(Person::NAME))
                .having(Doc::ID.count().ge(1))
                .order_by(EDITOR.col(Person::NAME).asc())
                .select_fields((EDITOR.col(Person::NAME), Doc::ID.count()));
            let counts: Vec<(String, i64)> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(
                counts,
                [("ann".to_string(), 2), ("bob".to_string(), 1)],
                "{what}"
            );
            // A self-join: the people ann manages, and their managers' names.
            let q = Person::select()
                .join_on(Person::MANAGER, BOSS.col(Person::ID))
                .filter(BOSS.col(Person::NAME).eq("ann"))
                .order_by(Person::NAME.asc())
                .models::<(Person, Person)>();
            let rows = call!(half, db, execute_query(q)).unwrap();
            let seen: Vec<(&str, &str)> = rows
                .iter()
                .map(|(p, b)| (p.name.as_str(), b.name.as_str()))
                .collect();
            assert_eq!(seen, [("bob", "ann"), ("cy", "ann")], "{what}");
            // An alias's name is quoted, not written: one with quotes in it
            // reads the same rows.
            let odd: Alias<Person> = Alias::new("e\"d`i'tor");
            let q = Doc::select()
                .join_on(Doc::EDITOR, odd.col(Person::ID))
                .filter(odd.col(Person::NAME).eq("bob"))
                .select_fields(Doc::TITLE);
            let got: Vec<String> = call!(half, db, execute_query(q)).unwrap();
            assert_eq!(got, ["d3"], "{what}");
        }
    }
}

/// Inside a transaction the aliases read the transaction's rows, on both
/// halves; a rolled-back row is gone after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aliases_in_transactions() {
    for db in isolated_all("aliases_tx") {
        fresh(&db).await;
        let what = format!("{:?}", db.backend());
        let dee = db.aio().get(Person::NAME.eq("dee")).await.unwrap().id;
        let edited_by_dee = || {
            with_both()
                .filter(EDITOR.col(Person::NAME).eq("dee"))
                .select_fields((Doc::TITLE, Person::NAME))
        };
        let doc = |title: &str| Doc {
            id: 0,
            title: title.into(),
            author: dee,
            editor: Some(dee),
        };
        db.aio()
            .atomic(async |tx| -> dualdb::Result<()> {
                tx.create(doc("t1")).await?;
                let rows: Vec<(String, String)> = tx.execute_query(edited_by_dee()).await?;
                assert_eq!(rows, [("t1".to_string(), "dee".to_string())], "{what}");
                Err(dualdb::Error::new(ErrorKind::Usage, "roll back"))
            })
            .await
            .unwrap_err();
        db.sync()
            .atomic(|tx| -> dualdb::Result<()> {
                assert!(tx.execute_query(edited_by_dee())?.is_empty(), "{what}");
                tx.create(doc("t2"))?;
                let rows: Vec<(String, String)> = tx.execute_query(edited_by_dee())?;
                assert_eq!(rows, [("t2".to_string(), "dee".to_string())], "{what}");
                Ok(())
            })
            .unwrap();
        let rows: Vec<(String, String)> = db.aio().execute_query(edited_by_dee()).await.unwrap();
        assert_eq!(rows, [("t2".to_string(), "dee".to_string())], "{what}");
    }
}

/// Misused aliases are `Usage` errors before any I/O: against a server
/// that is not there, the error is still `Usage`, not `Connect`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misused_aliases_fail_before_any_io() {
    for (url, db) in common::dead_and_live() {
        for half in HALVES {
            let what = format!("{url} {half:?}");
            let usage = |r: dualdb::Error, says: &str| common::assert_usage(&r, says, &what);
            // The alias is not joined: in a filter, an order, a selection.
            let q = Doc::select()
                .join_on(Doc::AUTHOR, Person::ID)
                .filter(EDITOR.col(Person::NAME).eq("ann"));
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "Person as editor",
            );
            let q = with_both().order_by(BOSS.col(Person::NAME).asc());
            usage(
                call!(half, db, get_or_none(q)).unwrap_err(),
                "Person as boss",
            );
            let q = with_both().select_fields(BOSS.col(Person::NAME));
            let r: dualdb::Result<Vec<String>> = call!(half, db, execute_query(q));
            usage(r.unwrap_err(), "Person as boss");
            // The table itself is not read, only its alias.
            let q = Doc::select()
                .join_on(Doc::EDITOR, EDITOR.col(Person::ID))
                .filter(Person::NAME.eq("ann"));
            usage(call!(half, db, count(q, false)).unwrap_err(), "Person");
            // A name the query has already, and an empty one.
            let taken: Alias<Person> = Alias::new("alias_docs");
            let q = Doc::select().join_on(Doc::EDITOR, taken.col(Person::ID));
            usage(call!(half, db, execute_query(q)).unwrap_err(), "taken");
            let q = with_both().join_on(Doc::AUTHOR, EDITOR.col(Person::ID));
            usage(call!(half, db, execute_query(q)).unwrap_err(), "taken");
            let empty: Alias<Person> = Alias::new("");
            let q = Doc::select().join_on(Doc::EDITOR, empty.col(Person::ID));
            usage(call!(half, db, execute_query(q)).unwrap_err(), "empty");
            // join_on from an alias not joined yet.
            let q = Doc::select().join_on(BOSS.col(Person::ID), Person::MANAGER);
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "join Person as boss first",
            );
            // Three people in a row, two read.
            let q = with_both().models::<(Doc, Person, Person, Person)>();
            usage(call!(half, db, execute_query(q)).unwrap_err(), "alias");
            // An update or delete through an alias it does not read.
            let q = Doc::update_query()
                .set(Doc::TITLE, "x")
                .filter(Doc::ID.gt(0) & EDITOR.col(Person::NAME).eq("ann"));
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "Person as editor",
            );
            let q = Doc::delete_query().filter(Doc::ID.eq(1) & EDITOR.col(Person::ID).eq(1));
            usage(call!(half, db, execute_query(q)).unwrap_err(), "sub-query");
            let q = Person::update_query().set_expr(Person::NAME, BOSS.col(Person::NAME).upper());
            usage(
                call!(half, db, execute_query(q)).unwrap_err(),
                "Person as boss",
            );
        }
    }
}
