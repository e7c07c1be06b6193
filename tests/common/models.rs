//! The models the model-layer tests share.
#![allow(dead_code)]

use dualdb::{Database, Model};

use super::Half;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "users")]
pub struct User {
    #[model(primary_key, auto)]
    pub id: i64,
    #[model(unique, max_length = 50)]
    pub username: String,
    pub email: Option<String>,
    #[model(default = "0")]
    pub age: i32,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "posts")]
pub struct Post {
    #[model(primary_key, auto)]
    pub id: i64,
    #[model(references = User)]
    pub author: i64,
    pub title: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "comments")]
pub struct Comment {
    #[model(primary_key, auto)]
    pub id: i64,
    #[model(references = Post)]
    pub post: i64,
    pub body: String,
}

/// A dependant whose foreign key is nullable.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "bookmarks")]
pub struct Bookmark {
    #[model(primary_key, auto)]
    pub id: i64,
    #[model(references = User)]
    pub owner: Option<i64>,
    pub url: String,
}

/// A model whose key is given, not generated.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "settings")]
pub struct Setting {
    #[model(primary_key, max_length = 40)]
    pub name: String,
    pub value: String,
}

/// The usernames stored, sorted, read by `db`'s blocking half: what is
/// committed, read from another handle.
pub fn usernames(db: &Database) -> Vec<String> {
    let mut names: Vec<String> = db
        .sync()
        .execute_query(User::select())
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    names.sort();
    names
}

pub fn user(name: &str, age: i32) -> User {
    User {
        id: 0,
        username: name.into(),
        email: None,
        age,
    }
}

pub async fn reset(db: &Database, half: Half) {
    crate::call!(half, db, drop_table::<Comment>()).unwrap();
    crate::call!(half, db, drop_table::<Post>()).unwrap();
    crate::call!(half, db, drop_table::<Bookmark>()).unwrap();
    crate::call!(half, db, drop_table::<User>()).unwrap();
    crate::call!(half, db, drop_table::<Setting>()).unwrap();
    crate::call!(half, db, create_table::<User>()).unwrap();
    crate::call!(half, db, create_table::<Post>()).unwrap();
    crate::call!(half, db, create_table::<Comment>()).unwrap();
    crate::call!(half, db, create_table::<Bookmark>()).unwrap();
    crate::call!(half, db, create_table::<Setting>()).unwrap();
}

/// A team of players: the window, per-group and aggregate tests' rows.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "teams")]
pub struct Team {
    #[model(primary_key, auto)]
    pub id: i64,
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "scores")]
pub struct Score {
    #[model(primary_key, auto)]
    pub id: i64,
    #[model(references = Team)]
    pub team: i64,
    pub player: String,
    pub points: i32,
}

/// The teams and scores made anew: red (ann 10, bob 30, cid 30) and blue
/// (dee 20, eve 5), the teams' ids 1 and 2 and the scores' 1 to 5 in that
/// order.
pub async fn plant_scores(db: &Database) {
    let a = db.aio();
    a.drop_table::<Score>().await.unwrap();
    a.drop_table::<Team>().await.unwrap();
    a.create_table::<Team>().await.unwrap();
    a.create_table::<Score>().await.unwrap();
    let mut teams = Vec::new();
    for name in ["red", "blue"] {
        let team = Team {
            id: 0,
            name: name.into(),
        };
        teams.push(a.create(team).await.unwrap().id);
    }
    assert_eq!(teams, [1, 2], "a fresh table's keys");
    let rows = [
        (1, "ann", 10),
        (1, "bob", 30),
        (1, "cid", 30),
        (2, "dee", 20),
        (2, "eve", 5),
    ]
    .map(|(team, player, points)| Score {
        id: 0,
        team,
        player: player.into(),
        points,
    });
    a.execute_query(Score::insert_many(rows.to_vec()))
        .await
        .unwrap();
}
