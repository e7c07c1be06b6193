mod common;
use common::models::{User, user};
use dualdb::Model;
#[tokio::test]
async fn x() {
    for db in common::isolated_all("zzx") {
        db.sync().create_table::<User>().unwrap();
        db.sync().create(user("a", 1)).unwrap();
        let mut b = user("b", 2);
        b.email = Some("b@x".into());
        db.sync().create(b).unwrap();
        let k = db.backend();
        let r = db
            .sync()
            .execute_query(User::select().filter(User::EMAIL.eq(None::<String>)));
        eprintln!(
            "{k:?} eq(None) -> {:?}",
            r.map(|v| v.len()).map_err(|e| e.to_string())
        );
        let r = db
            .sync()
            .execute_query(User::select().filter(User::EMAIL.ne(None::<String>)));
        eprintln!(
            "{k:?} ne(None) -> {:?}",
            r.map(|v| v.len()).map_err(|e| e.to_string())
        );
        let r = db
            .sync()
            .execute_query(User::select().filter(User::EMAIL.ne(Some("b@x".to_string()))));
        eprintln!(
            "{k:?} ne(Some b) -> {:?}",
            r.map(|v| v.len()).map_err(|e| e.to_string())
        );
    }
}
