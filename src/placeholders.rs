//! The placeholders of raw SQL text, found by a small lexer that skips what
//! is not SQL code: string literals (`'…'`, with `''` and, on MySQL and in
//! PostgreSQL's `E'…'`, backslash escapes), quoted identifiers (`"…"`,
//! MySQL's `` `…` ``), PostgreSQL's dollar-quoted strings (`$tag$…$tag$`),
//! and comments (`-- …`, `/* … */`, MySQL's `# …`).
//!
//! Each backend has its own style: `$1, $2, …` on PostgreSQL, `?` on MySQL
//! and SQLite (SQLite takes `$N` as well, bound by its number). A statement
//! written in another backend's style fails on the server with a syntax or
//! unknown-column error; [`hint`] adds the placeholder rule to that error.

use crate::config::BackendKind;
use crate::error::Error;

/// The placeholder forms a statement uses.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    /// A `?` outside literals, identifiers and comments.
    pub(crate) question: bool,
    /// A `$N` (a `$` and digits) outside them.
    pub(crate) dollar: bool,
}

/// The placeholders in `sql`, read as `kind` reads it.
pub(crate) fn scan(sql: &str, kind: BackendKind) -> Found {
    let b = sql.as_bytes();
    let mut found = Found::default();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\'' => {
                // PostgreSQL's E'…' takes backslash escapes; MySQL's '…' does
                // by default.
                let escapes = kind == BackendKind::Mysql
                    || (i > 0
                        && b[i - 1].eq_ignore_ascii_case(&b'e')
                        && !word_byte(b, i.wrapping_sub(2)));
                i = quoted(b, i, b'\'', escapes);
            }
            b'"' => i = quoted(b, i, b'"', kind == BackendKind::Mysql),
            b'`' if kind == BackendKind::Mysql => i = quoted(b, i, b'`', false),
            b'-' if b.get(i + 1) == Some(&b'-') => i = line_end(b, i),
            b'#' if kind == BackendKind::Mysql => i = line_end(b, i),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = match sql[i + 2..].find("*/") {
                    Some(end) => i + 2 + end + 2,
                    None => b.len(),
                };
            }
            b'?' => {
                found.question = true;
                i += 1;
            }
            b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !word_byte(b, i.wrapping_sub(1)) =>
            {
                found.dollar = true;
                i += 2;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            b'$' if kind == BackendKind::Postgres && !word_byte(b, i.wrapping_sub(1)) => {
                i = dollar_quoted(sql, i);
            }
            _ if word_byte(b, i) => {
                // A whole word: `$` and digits inside one are part of a name.
                while word_byte(b, i) {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// True if `b[i]` is a byte of an identifier or number.
fn word_byte(b: &[u8], i: usize) -> bool {
    b.get(i)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$' || *c >= 0x80)
}

/// The index after the literal or identifier opened by `quote` at `start`
/// (a doubled quote inside is one quote; with `escapes`, so is `\` and the
/// byte after it).
fn quoted(b: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

fn line_end(b: &[u8], start: usize) -> usize {
    b[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |n| start + n + 1)
}

/// The index after PostgreSQL's dollar-quoted string that may open at
/// `start` (`$$…$$`, `$tag$…$tag$`); the index after the `$` if none does.
fn dollar_quoted(sql: &str, start: usize) -> usize {
    let b = sql.as_bytes();
    let mut end = start + 1;
    while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_' || b[end] >= 0x80) {
        end += 1;
    }
    if b.get(end) != Some(&b'$') {
        return start + 1;
    }
    let tag = &sql[start..=end];
    match sql[end + 1..].find(tag) {
        Some(n) => end + 1 + n + tag.len(),
        None => b.len(),
    }
}

/// The most values one statement may bind: PostgreSQL's and MySQL's
/// protocols count them in 16 bits; SQLite's bundled build allows 32,766.
pub(crate) fn max_values(kind: BackendKind) -> usize {
    match kind {
        BackendKind::Postgres | BackendKind::Mysql => 65_535,
        BackendKind::Sqlite => 32_766,
    }
}

/// A `Usage` error, before anything is sent, for a statement with more
/// values than the backend allows (a PostgreSQL server would otherwise
/// answer with a protocol error naming neither number).
#[inline]
pub(crate) fn check_count(kind: BackendKind, given: usize) -> crate::Result<()> {
    if given <= max_values(kind) {
        return Ok(());
    }
    Err(Error::new(
        crate::ErrorKind::Usage,
        format!(
            "{kind} allows at most {} bound values in one statement; {given} were given \
             (insert_many splits its rows into statements under the limit)",
            max_values(kind)
        ),
    ))
}

/// A statement given another number of values than it has placeholders:
/// refused before it runs.
pub(crate) fn count_mismatch(takes: usize, given: usize) -> Error {
    Error::new(
        crate::ErrorKind::Usage,
        format!("the statement's placeholders take {takes} values, {given} were given"),
    )
}

/// `err`, a server's refusal of `sql` as written, with the backend's
/// placeholder rule added when the statement is written in another
/// backend's style: `?` on PostgreSQL (a syntax error), `$N` on MySQL (an
/// unknown column or a syntax error). Other errors as they are.
pub(crate) fn hint(kind: BackendKind, sql: &str, err: Error) -> Error {
    let misread = match (kind, err.code()) {
        (BackendKind::Postgres, Some("42601")) => scan(sql, kind).question,
        (BackendKind::Mysql, Some("1054" | "1064")) => scan(sql, kind).dollar,
        _ => false,
    };
    if !misread {
        return err;
    }
    let rule = match kind {
        BackendKind::Postgres => "PostgreSQL's placeholders are $1, $2, …; this statement has `?`",
        _ => "MySQL's placeholders are `?`; this statement has `$N`",
    };
    err.with_hint(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(sql: &str) -> Found {
        scan(sql, BackendKind::Postgres)
    }
    fn my(sql: &str) -> Found {
        scan(sql, BackendKind::Mysql)
    }

    #[test]
    fn finds_placeholders_outside_literals_and_comments() {
        assert!(pg("SELECT * FROM t WHERE a = ?").question);
        assert!(!pg("SELECT '?' FROM t").question);
        assert!(!pg("SELECT \"a?\" FROM t -- ?\n").question);
        assert!(!pg("SELECT 1 /* ? */").question);
        assert!(!pg("SELECT $$ ? $$").question);
        assert!(!pg("SELECT $body$ ? $1 $body$").question);
        assert!(!pg("SELECT $body$ ? $1 $body$").dollar);
        assert!(pg("SELECT $1, $2::int").dollar);
        assert!(!pg("SELECT 'it''s ?'").question);
        assert!(!pg("SELECT E'\\' ?'").question);
        assert!(!my("SELECT 'a\\' ?'").question);
        assert!(!my("SELECT `?` # ?\n").question);
        assert!(my("SELECT $1").dollar);
        assert!(!my("SELECT a$1 FROM t").dollar, "part of a name");
        assert!(!my("SELECT '$1'").dollar);
    }
}
