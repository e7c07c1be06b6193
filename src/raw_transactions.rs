//! Raw SQL that would begin or end a transaction behind dualdb's back
//! (`BEGIN`, `START TRANSACTION`, `COMMIT`, `END`, `ROLLBACK`, `ABORT`,
//! `SAVEPOINT`, `RELEASE`, `PREPARE TRANSACTION`, MySQL's `SET autocommit`
//! and `XA` transactions):
//! refused by `execute`, `query`, `query_one`, `query_opt`, `query_as`,
//! `raw`, `fold_rows`, `fetch_rows` and `fetch_as` before any I/O.
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
///
/// A statement that starts with a letter no refused word starts with
/// (`INSERT`, `UPDATE`, `DELETE`, `WITH`), or with `SEL`, is through after
/// a byte or three: `query_as` pays this on every call, where reading the
/// first word cost more than a percent of a one-row SQLite `query_as`
/// (benches/instructions counts it).
#[inline]
pub(crate) fn refuse(sql: &str) -> crate::Result<()> {
    match sql.as_bytes() {
        [b, ..]
            if b.is_ascii_alphabetic()
                && !matches!(
                    b | 0x20,
                    b'a' | b'b' | b'c' | b'e' | b'p' | b'r' | b's' | b'x'
                ) =>
        {
            Ok(())
        }
        [s, e, l, ..] if [s | 0x20, e | 0x20, l | 0x20] == *b"sel" => Ok(()),
        _ => refuse_words(sql),
    }
}

/// [`refuse`] by the statement's first words.
#[inline(never)]
fn refuse_words(sql: &str) -> crate::Result<()> {
    let mut words = Words { sql, at: 0 };
    let Some(first) = words.next() else {
        return Ok(());
    };
    let is = |w: &str, name: &str| w.eq_ignore_ascii_case(name);
    let mut next_is = |name: &str| words.next().is_some_and(|w| is(w, name));
    // Dispatched on the word's length: one or two comparisons a word.
    let refused = match first.len() {
        2 => is(first, "XA") && !next_is("RECOVER"),
        3 => is(first, "END") || (is(first, "SET") && contains_autocommit(sql)),
        5 if is(first, "BEGIN") => !(next_is("NOT") && next_is("ATOMIC")),
        5 => (is(first, "START") && next_is("TRANSACTION")) || is(first, "ABORT"),
        6 => is(first, "COMMIT") && !next_is("PREPARED"),
        7 => (is(first, "PREPARE") && next_is("TRANSACTION")) || is(first, "RELEASE"),
        8 => is(first, "ROLLBACK") && !next_is("PREPARED"),
        9 => is(first, "SAVEPOINT"),
        _ => false,
    };
    match refused {
        true => Err(refusal(first)),
        false => Ok(()),
    }
}

#[cold]
fn refusal(first: &str) -> Error {
    Error::new(
        ErrorKind::Usage,
        format!(
            "`{}` run raw: transactions go through begin, atomic, savepoint \
             and session, which hold a connection for them; a raw one would leave a \
             pooled connection inside a transaction nothing commits, or end dualdb's \
             behind its back",
            first.to_ascii_uppercase()
        ),
    )
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
            "select 1",
            "\t-- a comment\n  SELECT 1",
            "(SELECT 1)",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "UPDATE t SET x = 1",
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
