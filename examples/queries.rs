//! peewee's "Querying" examples (a user and their tweets) in dualdb, on
//! both halves: joins (a model twice, under an alias), rows as tuples of
//! models, grouping, sub-queries (scalar and in `FROM`), `case` and
//! `concat`, expression updates, upserts, `RETURNING`, window functions,
//! recursive tree walks, `bulk_update`, `insert_from`, set operations and
//! row locks.
//!
//!     cargo run --example queries                      # SQLite in memory
//!     DATABASE_URL=postgres://… cargo run --example queries

use dualdb::model::FrameBound::{CurrentRow, Preceding};
use dualdb::model::{Alias, ColumnOf, Field, case};
use dualdb::{Database, Model, Select, ToSql};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "example_user")]
struct User {
    #[model(primary_key, auto)]
    id: i64,
    #[model(unique, max_length = 50)]
    username: String,
    visits: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "example_tweet")]
struct Tweet {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = User)]
    user: i64,
    message: String,
    likes: i64,
}

/// peewee's recursive CTE example: categories under categories.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "example_category")]
struct Category {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Category)]
    parent: Option<i64>,
    name: String,
}

fn user(name: &str) -> User {
    User {
        id: 0,
        username: name.into(),
        visits: 0,
    }
}

#[tokio::main]
async fn main() -> dualdb::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let db = Database::open(&url)?;

    // Setup, the blocking way.
    let s = db.sync();
    s.drop_table::<Tweet>()?;
    s.drop_table::<User>()?;
    s.drop_table::<Category>()?;
    s.create_table::<User>()?;
    s.create_table::<Tweet>()?;
    s.create_table::<Category>()?;
    let users = s.execute_query(User::insert_many(vec![
        user("huey"),
        user("mickey"),
        user("zaizee"),
    ]))?;
    let tweet = |u: &User, message: &str, likes| Tweet {
        id: 0,
        user: u.id,
        message: message.into(),
        likes,
    };
    s.execute_query(Tweet::insert_many(vec![
        tweet(&users[0], "meow", 3),
        tweet(&users[0], "hiss", 12),
        tweet(&users[0], "purr", 7),
        tweet(&users[1], "woof", 1),
    ]))?;

    // The async half from here on.
    let a = db.aio();

    // Tweet.select().join(User).where(User.username == 'huey')
    let huey = Tweet::select()
        .join::<User>()
        .filter(User::USERNAME.eq("huey"))
        .order_by(Tweet::LIKES.desc());
    let messages: Vec<String> = a
        .execute_query(huey)
        .await?
        .into_iter()
        .map(|t| t.message)
        .collect();
    assert_eq!(messages, ["hiss", "purr", "meow"]);

    // Tweet.select(Tweet, User).join(User): rows as tuples of models.
    let pairs = a
        .execute_query(
            Tweet::select()
                .join::<User>()
                .order_by(Tweet::ID.asc())
                .models::<(Tweet, User)>(),
        )
        .await?;
    assert_eq!(pairs[3].1.username, "mickey");

    // Users and their tweet counts, with a LEFT OUTER JOIN (zaizee has none),
    // more than one tweet, the most first.
    let counts = User::select()
        .left_outer_join::<Tweet>()
        .group_by(User::ID)
        .order_by(Tweet::ID.count().desc())
        .order_by(User::USERNAME.asc())
        .select_fields((User::USERNAME, Tweet::ID.count()));
    let counts: Vec<(String, i64)> = a.execute_query(counts).await?;
    assert_eq!(counts[0], ("huey".to_string(), 3));
    assert_eq!(counts[2], ("zaizee".to_string(), 0));
    let prolific = User::select()
        .join::<Tweet>()
        .group_by(User::ID)
        .having(Tweet::ID.count().gt(1));
    assert_eq!(a.get(prolific).await?.username, "huey");

    // Sub-queries: users who tweeted something liked more than 10 times,
    // and users who never tweeted.
    let liked = Tweet::select()
        .filter(Tweet::LIKES.gt(10))
        .fields([Tweet::USER.field()]);
    assert_eq!(a.get(User::ID.is_in(liked)).await?.username, "huey");
    let silent =
        User::select().filter_not_exists(Tweet::select().filter(Tweet::USER.eq_col(User::ID)));
    assert_eq!(a.get(silent).await?.username, "zaizee");

    // Tweet.update(likes=Tweet.likes + 1): computed by the server, returning
    // the rows as stored.
    let liked = a
        .execute_query(
            Tweet::update_query()
                .set_expr(Tweet::LIKES, Tweet::LIKES + 1)
                .filter(Tweet::MESSAGE.eq("woof"))
                .returning(),
        )
        .await?;
    assert_eq!(liked[0].likes, 2);

    // An upsert counting visits: inserted once, then counted up.
    for _ in 0..3 {
        let visit = User::insert_many(vec![User {
            visits: 1,
            ..user("mickey")
        }])
        .on_conflict(&[&User::USERNAME])
        .set_expr(User::VISITS, User::VISITS + 1);
        a.execute_query(visit).await?;
    }
    assert_eq!(a.get(User::USERNAME.eq("mickey")).await?.visits, 3);

    // Case(None, [(Tweet.likes > 10, 'hot')], 'cold') and `||`.
    let hot = case(Tweet::LIKES.gt(10), "hot").otherwise("cold");
    let labels: Vec<String> = a
        .execute_query(
            Tweet::select()
                .order_by(Tweet::ID.asc())
                .select_fields(Tweet::MESSAGE.concat(": ").concat(hot)),
        )
        .await?;
    assert_eq!(labels[1], "hiss: hot");

    // A scalar sub-query as a column: each user's tweet count.
    let tweets = Tweet::select()
        .filter(Tweet::USER.eq_col(User::ID))
        .fields([Field::count_all()]);
    let counted: Vec<(String, i64)> = a
        .execute_query(
            User::select()
                .order_by(User::USERNAME.asc())
                .select_fields((User::USERNAME, tweets.single_value::<i64>())),
        )
        .await?;
    assert_eq!(counted[0], ("huey".to_string(), 3));

    // A model joined twice (Tweet.alias()): tweets beside a hot tweet of the
    // same user.
    const HOT: Alias<Tweet> = Alias::new("hot");
    let near_hot = Tweet::select()
        .join_on(Tweet::USER, HOT.col(Tweet::USER))
        .filter(HOT.col(Tweet::LIKES).gt(10) & Tweet::LIKES.le(10));
    assert_eq!(a.count(near_hot, false).await?, 2);

    // Model.select().from_(subquery): the two most liked, by message.
    let top = Tweet::select().order_by(Tweet::LIKES.desc()).limit(2);
    let top: Vec<String> = a
        .execute_query(Select::from_subquery(top).order_by(Tweet::MESSAGE.asc()))
        .await?
        .into_iter()
        .map(|t| t.message)
        .collect();
    assert_eq!(top, ["hiss", "purr"]);

    // fn.RANK().over(partition_by=[Tweet.user], order_by=[Tweet.likes.desc()]),
    // and fn.SUM(Tweet.likes).over(order_by=[Tweet.id], start=Window.preceding(2)).
    let w = Tweet::window;
    let ranked = Tweet::select().order_by(Tweet::ID.asc()).select_fields((
        Tweet::MESSAGE,
        w().partition_by(Tweet::USER)
            .order_by(Tweet::LIKES.desc())
            .rank(),
        Tweet::LIKES
            .sum()
            .over(w().order_by(Tweet::ID.asc()).rows(Preceding(2), CurrentRow)),
    ));
    let ranked: Vec<(String, i64, i64)> = a.execute_query(ranked).await?;
    assert_eq!(ranked[1], ("hiss".to_string(), 1, 15));
    assert_eq!(ranked[3], ("woof".to_string(), 1, 21));

    // fn.COUNT(Tweet.id).filter(Tweet.likes > 5): per user, all tweets and
    // the liked ones.
    let liked = Tweet::select()
        .group_by(Tweet::USER)
        .order_by(Tweet::USER.asc())
        .select_fields((
            Tweet::ID.count(),
            Tweet::ID.count().filter(Tweet::LIKES.gt(5)),
        ));
    let liked: Vec<(i64, i64)> = a.execute_query(liked).await?;
    assert_eq!(liked, [(3, 2), (1, 0)]);

    // Each user's most liked tweet: ROW_NUMBER() OVER (PARTITION BY user
    // ORDER BY likes DESC) in a sub-query, kept where it is 1.
    let best = Tweet::select()
        .order_by(Tweet::LIKES.desc())
        .limit_per(Tweet::USER, 1);
    let best: Vec<String> = a
        .execute_query(best)
        .await?
        .into_iter()
        .map(|t| t.message)
        .collect();
    assert_eq!(best, ["hiss", "woof"]);

    // A recursive CTE over Category.parent: a category and everything under
    // it, and the path from the root down to one.
    let mut made = std::collections::HashMap::new();
    for (name, parent) in [
        ("pets", None),
        ("cats", Some("pets")),
        ("kittens", Some("cats")),
        ("dogs", Some("pets")),
        ("tools", None),
    ] {
        let parent = parent.map(|p: &str| made[p]);
        let c = a
            .create(Category {
                id: 0,
                parent,
                name: name.into(),
            })
            .await?;
        made.insert(name, c.id);
    }
    let names = |rows: Vec<Category>| rows.into_iter().map(|c| c.name).collect::<Vec<_>>();
    let pets = Category::select()
        .filter(Category::NAME.eq("pets"))
        .with_descendants(Category::PARENT)
        .order_by(Category::NAME.asc());
    assert_eq!(
        names(a.execute_query(pets).await?),
        ["cats", "dogs", "kittens", "pets"]
    );
    let path = Category::select()
        .filter(Category::NAME.eq("kittens"))
        .with_ancestors(Category::PARENT)
        .order_by(Category::ID.asc());
    assert_eq!(
        names(a.execute_query(path).await?),
        ["pets", "cats", "kittens"]
    );

    // Each row set to its own value, a batch a statement (peewee's
    // bulk_update): every user's visits to their count of tweets.
    let mut users = a
        .execute_query(User::select().order_by(User::ID.asc()))
        .await?;
    for u in &mut users {
        u.visits = a
            .count(Tweet::select().filter(Tweet::USER.eq(u.id)), false)
            .await? as i64;
    }
    a.execute_query(User::bulk_update(&users, &[&User::VISITS]))
        .await?;
    let stored = s.execute_query(User::select().order_by(User::ID.asc()))?;
    assert_eq!(stored, users);

    // Rows copied by the server (peewee's insert_from): each user's
    // tweets under a new message, a constant column bound.
    let into: [&dyn ColumnOf<Tweet>; 3] = [&Tweet::USER, &Tweet::MESSAGE, &Tweet::LIKES];
    let woofs = Tweet::select().filter(Tweet::MESSAGE.eq("woof"));
    let copy = Tweet::insert_from(
        &into,
        woofs,
        (Tweet::USER, Tweet::MESSAGE.concat("!"), 0i64.to_sql()),
    );
    assert_eq!(a.execute_query(copy).await?, 1);
    let copied = s.get(Tweet::MESSAGE.eq("woof!"))?;
    a.delete(&copied).await?;

    // Set operations, paging and a locking read in a transaction.
    let either = Tweet::select()
        .filter(Tweet::LIKES.gt(10))
        .union(Tweet::select().filter(Tweet::MESSAGE.eq("woof")));
    assert_eq!(a.count(either, false).await?, 2);
    let page2 = Tweet::select().order_by(Tweet::ID.asc()).paginate(2, 3);
    assert_eq!(a.execute_query(page2).await?.len(), 1);
    let claimed = a
        .atomic(async |tx| -> dualdb::Result<_> {
            let next = Tweet::select().order_by(Tweet::ID.asc()).skip_locked();
            let t = tx.get(next).await?;
            tx.delete(&t).await?;
            Ok(t.message)
        })
        .await?;
    assert_eq!(claimed, "meow");

    println!("queries: every example ran on {}", db.backend());
    Ok(())
}
