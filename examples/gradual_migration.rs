//! Moving a codebase from sync to async one function at a time: a legacy
//! blocking module and its async twin use the same models and the same
//! `Database` value side by side. With `allow_sync` at Warn, every blocking
//! call that remains is logged with its file and line: the to-do list of the
//! migration.
//!
//!     cargo run --example gradual_migration

use dualdb::{Database, Model, SyncCheck};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "migration_account")]
pub struct Account {
    #[model(primary_key, auto)]
    pub id: i64,
    #[model(unique, max_length = 50)]
    pub owner: String,
    pub balance: i64,
}

/// The legacy module, still blocking.
mod legacy {
    use super::*;

    pub fn open_account(db: &Database, owner: &str) -> dualdb::Result<Account> {
        db.sync().create(Account {
            id: 0,
            owner: owner.into(),
            balance: 0,
        })
    }

    pub fn deposit(db: &Database, owner: &str, amount: i64) -> dualdb::Result<Account> {
        db.sync().atomic(|tx| {
            let mut account = tx.get(Account::OWNER.eq(owner))?;
            account.balance += amount;
            tx.update_only(&account, &[&Account::BALANCE])?;
            Ok(account)
        })
    }
}

/// The same functions, moved: `db.sync()` became `db.aio()`, and `.await`.
mod migrated {
    use super::*;

    pub async fn open_account(db: &Database, owner: &str) -> dualdb::Result<Account> {
        db.aio()
            .create(Account {
                id: 0,
                owner: owner.into(),
                balance: 0,
            })
            .await
    }

    pub async fn deposit(db: &Database, owner: &str, amount: i64) -> dualdb::Result<Account> {
        let owner = owner.to_string();
        db.aio()
            .atomic(async |tx| {
                let mut account = tx.get(Account::OWNER.eq(owner.as_str())).await?;
                account.balance += amount;
                tx.update_only(&account, &[&Account::BALANCE]).await?;
                Ok(account)
            })
            .await
    }
}

#[tokio::main]
async fn main() -> dualdb::Result<()> {
    tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .init();
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let db = Database::open(&url)?;
    db.aio().drop_table::<Account>().await?;
    db.aio().create_table::<Account>().await?;

    // Warn: blocking calls still work, and each one says where it is.
    db.set_allow_sync(SyncCheck::Warn);
    legacy::open_account(&db, "ada")?;
    migrated::open_account(&db, "bob").await?;
    legacy::deposit(&db, "bob", 10)?;
    let ada = migrated::deposit(&db, "ada", 25).await?;
    let bob = migrated::deposit(&db, "bob", 5).await?;
    println!("ada: {}, bob: {}", ada.balance, bob.balance);
    assert_eq!((ada.balance, bob.balance), (25, 15));

    // When the log is quiet, switch to Error: the migration is done.
    db.set_allow_sync(SyncCheck::Error);
    assert!(legacy::deposit(&db, "ada", 1).is_err());
    db.aio().drop_table::<Account>().await
}
