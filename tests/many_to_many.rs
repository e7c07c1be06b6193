//! Many-to-many through a link model (peewee's `ManyToManyField`): `add`,
//! `remove`, `clear` and the far side of a row (`of`), on every backend and
//! both halves, in and out of transactions, checked against the link rows
//! stored; the far side prefetched for many parents in two queries (counted);
//! and columns that make no link refused before any I/O. One test: it counts
//! statements, which only the one test of its binary may do.

mod common;

use common::{StatementCounter, assert_usage, dead_and_live, isolated_all};
use dualdb::model::Links;
use dualdb::{Database, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "m2m_student")]
struct Student {
    #[model(primary_key, auto)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "m2m_course")]
struct Course {
    #[model(primary_key, auto)]
    id: i64,
    title: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "m2m_enrolment")]
struct Enrolment {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Student)]
    student: i64,
    #[model(references = Course)]
    course: i64,
}

const COURSES: Links<Enrolment, Student, Course> =
    Links::new(Enrolment::STUDENT, Enrolment::COURSE);
const STUDENTS: Links<Enrolment, Course, Student> =
    Links::new(Enrolment::COURSE, Enrolment::STUDENT);

/// The `(student, course)` pairs stored, in order.
fn stored(db: &Database) -> Vec<(i64, i64)> {
    let mut pairs: Vec<(i64, i64)> = db
        .sync()
        .execute_query(Enrolment::select())
        .unwrap()
        .into_iter()
        .map(|e| (e.student, e.course))
        .collect();
    pairs.sort();
    pairs
}

fn titles(courses: &[Course]) -> Vec<&str> {
    courses.iter().map(|c| c.title.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_add_remove_clear_read_and_prefetch_on_every_backend() {
    let counter = StatementCounter::start();
    for db in isolated_all("m2m") {
        let b = db.backend();
        let s = db.sync();
        s.create_table::<Student>().unwrap();
        s.create_table::<Course>().unwrap();
        s.create_table::<Enrolment>().unwrap();
        let huey = s
            .create(Student {
                id: 0,
                name: "huey".into(),
            })
            .unwrap();
        let zaizee = s
            .create(Student {
                id: 0,
                name: "zaizee".into(),
            })
            .unwrap();
        let mickey = s
            .create(Student {
                id: 0,
                name: "mickey".into(),
            })
            .unwrap();
        let mut courses = Vec::new();
        for title in ["math", "art", "history", "biology"] {
            courses.push(
                s.create(Course {
                    id: 0,
                    title: title.into(),
                })
                .unwrap(),
            );
        }
        let [math, art, history, biology] = [0, 1, 2, 3].map(|i| courses[i].clone());

        // Blocking half, out of a transaction.
        let n = s
            .execute_query(COURSES.add(&huey, [&math, &art, &history]))
            .unwrap();
        assert_eq!(n, 3, "{b:?}");
        assert_eq!(
            stored(&db),
            [(huey.id, math.id), (huey.id, art.id), (huey.id, history.id)]
        );
        let n = s.execute_query(COURSES.remove(&huey, [&art])).unwrap();
        assert_eq!(n, 1, "{b:?}");
        let of = s
            .execute_query(COURSES.of(&huey).order_by(Course::TITLE.asc()))
            .unwrap();
        assert_eq!(titles(&of), ["history", "math"], "{b:?}");
        let none: [&Course; 0] = [];
        assert_eq!(
            s.execute_query(COURSES.add(&huey, none)).unwrap(),
            0,
            "{b:?}: nothing to add"
        );

        // Async half, in a transaction that commits, then one that rolls back.
        let tx = db.aio().begin().await.unwrap();
        tx.execute_query(COURSES.add(&zaizee, [&math, &biology]))
            .await
            .unwrap();
        let of = tx
            .execute_query(STUDENTS.of(&math).order_by(Student::NAME.asc()))
            .await
            .unwrap();
        let names: Vec<&str> = of.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            ["huey", "zaizee"],
            "{b:?}: the other side, in the transaction"
        );
        tx.commit().await.unwrap();
        let tx = db.aio().begin().await.unwrap();
        assert_eq!(tx.execute_query(COURSES.clear(&zaizee)).await.unwrap(), 2);
        tx.rollback().await.unwrap();
        assert_eq!(
            stored(&db),
            [
                (huey.id, math.id),
                (huey.id, history.id),
                (zaizee.id, math.id),
                (zaizee.id, biology.id)
            ],
            "{b:?}"
        );
        // Blocking half in a transaction; async half outside one.
        let tx = s.begin().unwrap();
        tx.execute_query(COURSES.add(&mickey, [&art])).unwrap();
        tx.commit().unwrap();
        let of = db.aio().execute_query(COURSES.of(&mickey)).await.unwrap();
        assert_eq!(titles(&of), ["art"], "{b:?}");

        // The far side for every student: the students, the links, the
        // courses; three statements however many students there are.
        counter.take();
        let rows = s
            .prefetch(
                Student::select().order_by(Student::NAME.asc()),
                COURSES.prefetch(Course::select().order_by(Course::TITLE.asc())),
            )
            .unwrap();
        assert_eq!(counter.take(), 3, "{b:?}: no query per student");
        let got: Vec<(&str, Vec<&str>)> = rows
            .iter()
            .map(|(st, cs)| (st.name.as_str(), titles(cs)))
            .collect();
        assert_eq!(
            got,
            [
                ("huey", vec!["history", "math"]),
                ("mickey", vec!["art"]),
                ("zaizee", vec!["biology", "math"])
            ],
            "{b:?}"
        );
        // The same from the async half, in a transaction, with a filter on
        // the far side.
        let tx = db.aio().begin().await.unwrap();
        let rows = tx
            .prefetch(
                Student::select().order_by(Student::NAME.asc()),
                COURSES.prefetch(Course::select().filter(Course::TITLE.ne("math"))),
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let counts: Vec<usize> = rows.iter().map(|(_, cs)| cs.len()).collect();
        assert_eq!(counts, [1, 1, 1], "{b:?}");

        // Clear on the blocking half; the courses themselves stay.
        assert_eq!(s.execute_query(COURSES.clear(&huey)).unwrap(), 2);
        assert!(s.execute_query(COURSES.of(&huey)).unwrap().is_empty());
        assert_eq!(s.execute_query(Course::select()).unwrap().len(), 4);
    }

    // Columns that make no Student-to-Course link: refused before any I/O,
    // on dead servers too.
    const WRONG: Links<Enrolment, Student, Course> =
        Links::new(Enrolment::STUDENT, Enrolment::STUDENT);
    let huey = Student {
        id: 1,
        name: "huey".into(),
    };
    let math = Course {
        id: 1,
        title: "math".into(),
    };
    for (url, db) in dead_and_live() {
        let e = db
            .sync()
            .execute_query(WRONG.add(&huey, [&math]))
            .unwrap_err();
        assert_usage(&e, "not foreign keys", &url);
        let e = db.sync().execute_query(WRONG.of(&huey)).unwrap_err();
        assert_usage(&e, "not foreign keys", &url);
        let e = db
            .aio()
            .execute_query(WRONG.clear(&huey))
            .await
            .unwrap_err();
        assert_usage(&e, "not foreign keys", &url);
        let e = db
            .aio()
            .execute_query(WRONG.remove(&huey, [&math]))
            .await
            .unwrap_err();
        assert_usage(&e, "not foreign keys", &url);
        let e = db
            .sync()
            .prefetch(Student::select(), WRONG.prefetch(Course::select()))
            .unwrap_err();
        assert_usage(&e, "not foreign keys", &url);
        // A sub-query with no foreign key to its parent: the same, at once.
        let e = db
            .aio()
            .prefetch(Student::select(), (Enrolment::select(), Course::select()))
            .await
            .unwrap_err();
        assert_usage(&e, "no foreign key", &url);
    }
}
