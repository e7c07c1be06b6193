//! The record table, `dualdb_migrations`, in each backend's SQL; the
//! migrations lock; and a script's checksum.

use sha2::{Digest, Sha256};

use crate::config::BackendKind;

/// The record table's name.
pub(crate) const TABLE: &str = "dualdb_migrations";

/// PostgreSQL's advisory lock key for migrations (`dualdb` in ASCII, then
/// `mig`): one key for every runner of every application on the database,
/// as the record table is one.
const PG_LOCK_KEY: i64 = 0x6475_616c_6462_6d69;

pub(crate) fn create(kind: BackendKind) -> String {
    let (text, at, flag, options) = match kind {
        BackendKind::Postgres => ("TEXT", "TIMESTAMPTZ", "BOOLEAN", ""),
        // A migration's name may be any Unicode (see `schema::create_table`).
        BackendKind::Mysql => (
            "VARCHAR(255)",
            "DATETIME(6)",
            "BOOLEAN",
            " DEFAULT CHARSET=utf8mb4",
        ),
        BackendKind::Sqlite => ("TEXT", "TEXT", "INTEGER", ""),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {TABLE} (version BIGINT PRIMARY KEY, name {text} NOT NULL, \
         checksum {text} NOT NULL, applied_at {at} NOT NULL, duration_ms BIGINT NOT NULL, \
         success {flag} NOT NULL){options}"
    )
}

/// The records, in version order: version, name, checksum, applied_at as
/// UTC text (`YYYY-MM-DD HH:MM:SS`), duration_ms, success.
pub(crate) fn select(kind: BackendKind) -> String {
    let at = match kind {
        BackendKind::Postgres => {
            "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')".to_owned()
        }
        BackendKind::Mysql => "DATE_FORMAT(applied_at, '%Y-%m-%d %H:%i:%s')".to_owned(),
        BackendKind::Sqlite => "applied_at".to_owned(),
    };
    format!(
        "SELECT version, name, checksum, {at}, duration_ms, success FROM {TABLE} ORDER BY version"
    )
}

/// Inserts a record: `?` for version, name, checksum, duration_ms, success.
pub(crate) fn insert(kind: BackendKind) -> String {
    let now = now(kind);
    format!(
        "INSERT INTO {TABLE} (version, name, checksum, applied_at, duration_ms, success) \
         VALUES (?, ?, ?, {now}, ?, ?)"
    )
}

/// Marks a record successful: `?` for duration_ms, version.
pub(crate) fn succeeded(kind: BackendKind) -> String {
    let now = now(kind);
    format!("UPDATE {TABLE} SET success = ?, applied_at = {now}, duration_ms = ? WHERE version = ?")
}

pub(crate) fn delete() -> String {
    format!("DELETE FROM {TABLE} WHERE version = ?")
}

fn now(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Postgres => "now()",
        BackendKind::Mysql => "UTC_TIMESTAMP(6)",
        BackendKind::Sqlite => "CURRENT_TIMESTAMP",
    }
}

/// Takes the lock for the whole run where the backend has a session lock
/// (`None` on SQLite, whose migrations each take the write lock).
pub(crate) fn lock(kind: BackendKind) -> Option<String> {
    match kind {
        // Tried, not waited on, by a runner that polls: a statement waiting
        // for the lock has a snapshot, which a `CREATE INDEX CONCURRENTLY`
        // of the runner holding it would wait for in turn (a deadlock:
        // tests/migrations.rs, eight runners at once).
        BackendKind::Postgres => Some(format!("SELECT pg_try_advisory_lock({PG_LOCK_KEY})")),
        // A day: runners wait for each other, not for a timeout.
        BackendKind::Mysql => Some(format!("SELECT GET_LOCK('{TABLE}', 86400)")),
        BackendKind::Sqlite => None,
    }
}

pub(crate) fn unlock(kind: BackendKind) -> Option<String> {
    match kind {
        BackendKind::Postgres => Some(format!("SELECT pg_advisory_unlock({PG_LOCK_KEY})")),
        BackendKind::Mysql => Some(format!("SELECT RELEASE_LOCK('{TABLE}')")),
        BackendKind::Sqlite => None,
    }
}

/// The SHA-256 of a script's text, in hex; a Rust migration's is empty.
/// Line ends count as `\n` whichever way the checkout wrote them, so that
/// a file checked out with `\r\n` (Git's `autocrlf` on Windows) is the same
/// migration as the one a Linux build applied (`tests` below).
pub(crate) fn checksum(sql: &str) -> String {
    let mut hash = Sha256::new();
    let mut rest = sql;
    while let Some(at) = rest.find("\r\n") {
        hash.update(&rest.as_bytes()[..at]);
        hash.update(b"\n");
        rest = &rest[at + 2..];
    }
    hash.update(rest.as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn line_ends_do_not_change_a_checksum_but_text_does() {
        let lf = "CREATE TABLE t (a INT);\nINSERT INTO t VALUES (1);\n";
        assert_eq!(checksum(lf), checksum(&lf.replace('\n', "\r\n")));
        assert_eq!(
            checksum(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_ne!(checksum(lf), checksum(&lf.replace('1', "2")));
        assert_ne!(checksum("a\rb"), checksum("a\nb"), "a lone \\r is text");
    }
}
