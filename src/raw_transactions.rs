//! Raw SQL that would begin or end a transaction behind dualdb's back
//! (`BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`, `ABORT`,
//! `SAVEPOINT`, `RELEASE`, `PREPARE TRANSACTION`, MySQL's `SET autocommit`
//! and `XA` transactions):
//! refused by `execute`, `query`, `query_one`, `query_opt`, `raw`,
//! `fold_rows`, `fetch_rows` and `fetch_as` before any I/O. (`query_as`
//! decodes rows, which such statements do not return, and is left its
//! speed: the check would be about 1% of a one-row SQLite `query_as`.)
//! On a pooled connection such a statement would leave the connection
//! inside a transaction that the next caller joins and nothing commits, so
//! the writes made in it are lost when the connection goes; inside a dualdb
//! transaction or savepoint it would end it without dualdb knowing.
//! Transactions go through `begin`, `atomic`, `savepoint` and `session`
//! instead (tests/raw_transactions.rs).
//!
//! Only the statement's first words are read (after blanks and `--`, `#`
//! and `/* */` comments), so other statements pay a few byte comparisons. Allowed:
//! MariaDB's `BEGIN NOT ATOMIC` (a compound statement), `START` of anything
//! but a transaction, PostgreSQL's `COMMIT PREPARED`/`ROLLBACK PREPARED`
//! (two-phase commit, run outside transactions).

use crate::error::{Error, ErrorKind};

/// `Err` for a statement that begins or ends a transaction or savepoint.
#[inline]
pub(crate) fn refuse(sql: &str) -> crate::Result<()> {
    let mut words = Words { sql, at: 0 };
    let Some(first) = words.next() else {
        return Ok(());
    };
    // Statements that start with another letter (INSERT, UPDATE, DELETE,
    // WITH, …) are through after this one test.
    if !matches!(
        first.as_bytes()[0] | 0x20,
        b'a' | b'b' | b'c' | b'e' | b'p' | b'r' | b's' | b'x'
    ) {
        return Ok(());
    }
    let is = |w: &str, name: &str| w.eq_ignore_ascii_case(name);
    let second = words.next();
    let second_is = |name: &str| second.is_some_and(|w| is(w, name));
    let refused = match () {
        () if is(first, "BEGIN") => {
            !(second_is("NOT") && words.next().is_some_and(|w| is(w, "ATOMIC")))
        }
        () if is(first, "START") => second_is("TRANSACTION"),
        () if is(first, "COMMIT") || is(first, "ROLLBACK") => !second_is("PREPARED"),
        () if is(first, "PREPARE") => second_is("TRANSACTION"),
        () if is(first, "SET") => contains_autocommit(sql),
        // MySQL's XA transactions; `XA RECOVER` only lists them.
        () if is(first, "XA") => !second_is("RECOVER"),
        () => ["END", "ABORT", "SAVEPOINT", "RELEASE"]
            .iter()
            .any(|w| is(first, w)),
    };
    if !refused {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Usage,
        format!(
            "`{}` run raw: transactions go through begin, atomic, savepoint \
             and session, which hold a connection for them; a raw one would leave a \
             pooled connection inside a transaction nothing commits, or end dualdb's \
             behind its back",
            first.to_ascii_uppercase()
        ),
    ))
}

/// Whether a `SET` statement names `autocommit` as a word (MySQL's
/// `SET autocommit = 0`, `SET SESSION autocommit`, `SET @@autocommit`, or
/// among other assignments), not inside a longer name.
fn contains_autocommit(sql: &str) -> bool {
    const NAME: &[u8] = b"autocommit";
    let b = sql.as_bytes();
    let part_of_name = |c: Option<&u8>| c.is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_');
    b.windows(NAME.len()).enumerate().any(|(i, w)| {
        w.eq_ignore_ascii_case(NAME)
            && !part_of_name(i.checked_sub(1).and_then(|p| b.get(p)))
            && !part_of_name(b.get(i + NAME.len()))
    })
}

/// A statement's words from its start, skipping blanks and comments; stops
/// at the first byte that is neither (a quote, a parenthesis, `;`).
struct Words<'a> {
    sql: &'a str,
    at: usize,
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        let b = self.sql.as_bytes();
        loop {
            while self.at < b.len() && b[self.at].is_ascii_whitespace() {
                self.at += 1;
            }
            match b.get(self.at..self.at + 2) {
                // `#` starts a comment on MySQL; elsewhere no statement
                // starts with it.
                Some([b'#', _]) | Some(b"--") => {
                    self.at = b[self.at..]
                        .iter()
                        .position(|&c| c == b'\n')
                        .map_or(b.len(), |n| self.at + n + 1);
                }
                Some(b"/*") => {
                    self.at = b[self.at + 2..]
                        .windows(2)
                        .position(|w| w == b"*/")
                        .map_or(b.len(), |n| self.at + 2 + n + 2);
                }
                _ => break,
            }
        }
        let start = self.at;
        while self.at < b.len() && (b[self.at].is_ascii_alphabetic() || b[self.at] == b'_') {
            self.at += 1;
        }
        (self.at > start).then(|| &self.sql[start..self.at])
    }
}

#[cfg(test)]
mod tests {
    use super::refuse;

    #[test]
    fn transaction_statements_are_refused_and_others_pass() {
        for sql in [
            "BEGIN",
            "begin;",
            "  -- a comment\n /* another */ Begin Transaction",
            "BEGIN IMMEDIATE",
            "START TRANSACTION READ ONLY",
            "COMMIT",
            "commit work",
            "END",
            "ROLLBACK",
            "ROLLBACK TO SAVEPOINT a",
            "ABORT",
            "SAVEPOINT a",
            "RELEASE SAVEPOINT a",
            "RELEASE a",
            "PREPARE TRANSACTION 'x'",
            "SET autocommit = 0",
            "SET SESSION AUTOCOMMIT=OFF",
            "set @@autocommit = 0",
            "SET sql_mode = '', @@session.autocommit = 0",
            "# a MySQL comment\nBEGIN",
            "XA START 'x'",
            "xa begin 'x'",
            "XA END 'x'",
            "XA PREPARE 'x'",
            "XA COMMIT 'x' ONE PHASE",
            "XA ROLLBACK 'x'",
        ] {
            let err = refuse(sql).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Usage, "{sql}");
        }
        for sql in [
            "",
            "SELECT 1",
            "INSERT INTO t VALUES ('BEGIN')",
            "CREATE TABLE begin_log (x INT)",
            "BEGIN NOT ATOMIC SELECT 1; END",
            "START SLAVE",
            "COMMIT PREPARED 'x'",
            "ROLLBACK PREPARED 'x'",
            "PREPARE stmt FROM 'SELECT 1'",
            "SET search_path = app",
            "SET @autocommit_was = 1",
            "SET @my_autocommit = 1",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
            "SETTINGS",
            "ENDPOINT",
            "  /* unclosed",
            "-- only a comment",
            "DELETE FROM savepoints",
            "# BEGIN in a comment\nSELECT 1",
            "XA RECOVER",
            "XACT",
        ] {
            assert!(refuse(sql).is_ok(), "{sql}");
        }
    }
}
