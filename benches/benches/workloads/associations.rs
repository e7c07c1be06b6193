//! The two diesel_bench workloads over several tables: the medium query
//! (users LEFT JOIN posts where the hair colour is black, into
//! `(User, Option<Post>)`) and loading associations (100 users, each with
//! 10 posts, each with 10 comments, into nested vectors with three queries).
//!
//! dualdb runs them as a user would: [`raw`](dualdb::SyncDb::raw) into a
//! tuple of models, and [`prefetch`](dualdb::SyncDb::prefetch). The raw
//! drivers run the same SQL (prepared once, `IN` lists of bound keys) and
//! group children by key in a `HashMap`, as hand-written code does.

use std::collections::HashMap;
use std::hash::Hash;

use dualdb::{BackendKind, Database, Model};

use crate::support::BenchUser;

#[derive(Model, Debug)]
#[model(table = "bench_posts")]
pub struct BenchPost {
    #[model(primary_key)]
    pub id: i32,
    #[model(references = BenchUser)]
    pub user_id: i32,
    pub title: String,
    pub body: Option<String>,
}

#[derive(Model, Debug)]
#[model(table = "bench_comments")]
pub struct BenchComment {
    #[model(primary_key)]
    pub id: i32,
    #[model(references = BenchPost)]
    pub post_id: i32,
    pub text: String,
}

pub type User = (i32, String, Option<String>);
pub type Post = (i32, i32, String, Option<String>);
type Comment = (i32, i32, String);
/// A row of the medium query as the raw drivers decode it.
pub type Joined = (
    i32,
    String,
    Option<String>,
    Option<i32>,
    Option<i32>,
    Option<String>,
    Option<String>,
);

const MEDIUM_PG: &str = "SELECT bench_users.*, bench_posts.* FROM bench_users \
    LEFT JOIN bench_posts ON bench_posts.user_id = bench_users.id \
    WHERE bench_users.hair_color = $1";

pub fn medium_sql(kind: BackendKind) -> String {
    match kind {
        BackendKind::Postgres => MEDIUM_PG.to_string(),
        _ => MEDIUM_PG.replace("$1", "?"),
    }
}

/// The raw drivers' row of the medium query as (user, post if any).
pub fn split((id, name, hair, p_id, p_user, p_title, p_body): Joined) -> (User, Option<Post>) {
    let post = match (p_id, p_user, p_title) {
        (Some(i), Some(u), Some(t)) => Some((i, u, t, p_body)),
        _ => None,
    };
    ((id, name, hair), post)
}

/// Drops the three tables, children first.
pub fn drop_tables(db: &Database) {
    let s = db.sync();
    s.drop_table::<BenchComment>().unwrap();
    s.drop_table::<BenchPost>().unwrap();
    s.drop_table::<BenchUser>().unwrap();
}

/// `users` users (hair black or brown by turns), `posts` posts each, and
/// `comments` comments on each post; inserted 1,000 rows to a statement.
pub fn fill(db: &Database, users: i32, posts: i32, comments: i32, post_every: i32) {
    drop_tables(db);
    let s = db.sync();
    s.create_table::<BenchUser>().unwrap();
    s.create_table::<BenchPost>().unwrap();
    s.create_table::<BenchComment>().unwrap();
    let all: Vec<BenchUser> = (1..=users)
        .map(|id| BenchUser {
            id,
            name: format!("user {id}"),
            hair_color: Some(if id % 2 == 0 { "brown" } else { "black" }.into()),
        })
        .collect();
    let all_posts: Vec<BenchPost> = (1..=users)
        .filter(|u| u % post_every == 1 % post_every)
        .flat_map(|u| (0..posts).map(move |j| (u, j)))
        .enumerate()
        .map(|(i, (u, j))| BenchPost {
            id: i as i32 + 1,
            user_id: u,
            title: format!("post {j} by {u}"),
            body: (j % 2 == 0).then(|| "some text".to_string()),
        })
        .collect();
    let all_comments: Vec<BenchComment> = all_posts
        .iter()
        .flat_map(|p| (0..comments).map(move |k| (p.id, k)))
        .enumerate()
        .map(|(i, (p, k))| BenchComment {
            id: i as i32 + 1,
            post_id: p,
            text: format!("comment {k} on {p}"),
        })
        .collect();
    insert_chunks(db, all);
    insert_chunks(db, all_posts);
    insert_chunks(db, all_comments);
}

fn insert_chunks<M: Model>(db: &Database, mut rows: Vec<M>) {
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(1000));
        db.sync().execute_query(M::insert_many(rows)).unwrap();
        rows = rest;
    }
}

/// A PostgreSQL row of the medium query, as the raw side decodes it.
pub fn pg_joined(r: &tokio_postgres::Row) -> Joined {
    (
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
    )
}

/// A rusqlite row of the medium query, as the raw side decodes it.
pub fn lite_joined(r: &rusqlite::Row<'_>) -> rusqlite::Result<Joined> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

/// Children grouped under their parent's key, in the order they came.
fn group<K: Eq + Hash, T>(children: Vec<T>, key: impl Fn(&T) -> K) -> HashMap<K, Vec<T>> {
    let mut out: HashMap<K, Vec<T>> = HashMap::new();
    for c in children {
        out.entry(key(&c)).or_default().push(c);
    }
    out
}

pub type Loaded = Vec<(User, Vec<(Post, Vec<Comment>)>)>;

/// What the raw drivers' three queries become: each user with its posts,
/// each post with its comments.
fn assemble(users: Vec<User>, posts: Vec<Post>, comments: Vec<Comment>) -> Loaded {
    let mut comments = group(comments, |c| c.1);
    let mut posts = group(posts, |p| p.1);
    users
        .into_iter()
        .map(|u| {
            let mine = posts.remove(&u.0).unwrap_or_default();
            let mine = mine
                .into_iter()
                .map(|p| {
                    let cs = comments.remove(&p.0).unwrap_or_default();
                    (p, cs)
                })
                .collect();
            (u, mine)
        })
        .collect()
}

/// `SELECT … FROM table WHERE column IN (…n placeholders…)`.
fn in_list(kind: BackendKind, select: &str, column: &str, n: usize) -> String {
    let marks: Vec<String> = (1..=n)
        .map(|i| match kind {
            BackendKind::Postgres => format!("${i}"),
            _ => "?".to_string(),
        })
        .collect();
    format!("{select} WHERE {column} IN ({})", marks.join(", "))
}

const USERS: &str = "SELECT id, name, hair_color FROM bench_users";
const POSTS: &str = "SELECT id, user_id, title, body FROM bench_posts";
const COMMENTS: &str = "SELECT id, post_id, text FROM bench_comments";

/// The raw drivers' three queries of loading associations: the users, the
/// posts of 100 users, the comments of 1,000 posts.
pub fn loading_sql(kind: BackendKind) -> [String; 3] {
    [
        USERS.to_string(),
        in_list(kind, POSTS, "user_id", 100),
        in_list(kind, COMMENTS, "post_id", 1000),
    ]
}

/// Loading associations through the blocking `mysql` crate (`sql`:
/// [`loading_sql`]).
pub fn my_load_sync(c: &mut mysql::Conn, sql: &[String; 3]) -> Loaded {
    use mysql::prelude::Queryable as _;
    let users: Vec<User> = c.exec(sql[0].as_str(), ()).unwrap();
    let keys: Vec<i32> = users.iter().map(|u| u.0).collect();
    let posts: Vec<Post> = c.exec(sql[1].as_str(), keys).unwrap();
    let keys: Vec<i32> = posts.iter().map(|p| p.0).collect();
    let comments: Vec<Comment> = c.exec(sql[2].as_str(), keys).unwrap();
    assemble(users, posts, comments)
}

/// Loading associations through `mysql_async`.
pub async fn my_load_async(c: &mut mysql_async::Conn, sql: &[String; 3]) -> Loaded {
    use mysql_async::prelude::Queryable as _;
    let users: Vec<User> = c.exec(sql[0].as_str(), ()).await.unwrap();
    let keys: Vec<i32> = users.iter().map(|u| u.0).collect();
    let posts: Vec<Post> = c.exec(sql[1].as_str(), keys).await.unwrap();
    let keys: Vec<i32> = posts.iter().map(|p| p.0).collect();
    let comments: Vec<Comment> = c.exec(sql[2].as_str(), keys).await.unwrap();
    assemble(users, posts, comments)
}

/// Loading associations through rusqlite.
pub fn lite_load(c: &rusqlite::Connection, sql: &[String; 3]) -> Loaded {
    let users: Vec<User> = lite_query(c, &sql[0], &[], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
    let keys: Vec<i32> = users.iter().map(|u| u.0).collect();
    let posts: Vec<Post> = lite_query(c, &sql[1], &keys, |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
    });
    let keys: Vec<i32> = posts.iter().map(|p| p.0).collect();
    let comments: Vec<Comment> =
        lite_query(c, &sql[2], &keys, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)));
    assemble(users, posts, comments)
}

/// The raw PostgreSQL drivers' three queries (`sts`: users, posts, comments);
/// both share `tokio_postgres::Row`.
pub mod pg {
    use tokio_postgres::Row;
    use tokio_postgres::types::ToSql;

    use super::{Comment, Loaded, Post, User, assemble};

    fn refs(keys: &[i32]) -> Vec<&(dyn ToSql + Sync)> {
        keys.iter().map(|k| k as &(dyn ToSql + Sync)).collect()
    }
    fn user(r: &Row) -> User {
        (r.get(0), r.get(1), r.get(2))
    }
    fn post(r: &Row) -> Post {
        (r.get(0), r.get(1), r.get(2), r.get(3))
    }
    fn comment(r: &Row) -> Comment {
        (r.get(0), r.get(1), r.get(2))
    }

    pub async fn load_async(
        c: &tokio_postgres::Client,
        sts: &[tokio_postgres::Statement],
    ) -> Loaded {
        let users: Vec<User> = c
            .query(&sts[0], &[])
            .await
            .unwrap()
            .iter()
            .map(user)
            .collect();
        let keys: Vec<i32> = users.iter().map(|u| u.0).collect();
        let posts: Vec<Post> = c
            .query(&sts[1], &refs(&keys))
            .await
            .unwrap()
            .iter()
            .map(post)
            .collect();
        let keys: Vec<i32> = posts.iter().map(|p| p.0).collect();
        let comments = c
            .query(&sts[2], &refs(&keys))
            .await
            .unwrap()
            .iter()
            .map(comment)
            .collect();
        assemble(users, posts, comments)
    }

    pub fn load_sync(c: &mut postgres::Client, sts: &[postgres::Statement]) -> Loaded {
        let users: Vec<User> = c.query(&sts[0], &[]).unwrap().iter().map(user).collect();
        let keys: Vec<i32> = users.iter().map(|u| u.0).collect();
        let posts: Vec<Post> = c
            .query(&sts[1], &refs(&keys))
            .unwrap()
            .iter()
            .map(post)
            .collect();
        let keys: Vec<i32> = posts.iter().map(|p| p.0).collect();
        let comments = c
            .query(&sts[2], &refs(&keys))
            .unwrap()
            .iter()
            .map(comment)
            .collect();
        assemble(users, posts, comments)
    }
}

/// A blocking `postgres` client, connected outside the runtime.
pub fn pg_sync(url: &str) -> postgres::Client {
    let url = url.to_string();
    std::thread::spawn(move || postgres::Client::connect(&url, postgres::NoTls).unwrap())
        .join()
        .unwrap()
}

/// A prepared rusqlite query over `keys`, each row through `row`.
fn lite_query<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    keys: &[i32],
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Vec<T> {
    let mut st = conn.prepare_cached(sql).unwrap();
    st.query_map(rusqlite::params_from_iter(keys), row)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A rusqlite connection to the bench's SQLite file.
pub fn lite(url: &str) -> rusqlite::Connection {
    rusqlite::Connection::open(url.trim_start_matches("sqlite://")).unwrap()
}
