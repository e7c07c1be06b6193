//! The placeholders of raw SQL text, found by a small lexer that skips what
//! is not SQL code: string literals (`'…'`, with `''` and, on MySQL and in
//! PostgreSQL's `E'…'`, backslash escapes), quoted identifiers (`"…"`,
//! MySQL's `` `…` ``), PostgreSQL's dollar-quoted strings (`$tag$…$tag$`),
//! and comments (`-- …`, `/* … */`, nested on PostgreSQL, MySQL's `# …`).
//!
//! `?` is the portable form: MySQL and SQLite take it as it is, and
//! [`to_postgres`] rewrites it to PostgreSQL's `$1, $2, …` (once per
//! statement text: the connections keep the prepared statement by the text
//! as written). Each backend's own style works too: `$N` on PostgreSQL,
//! and on SQLite, which binds `$N` by its number. On PostgreSQL `?|` and
//! `?&` stay the jsonb operators they are there, and `??` is the `?`
//! operator. A statement written in another backend's own style (`$N` on
//! MySQL) fails on the server with a syntax or unknown-column error;
//! [`hint`] adds the placeholder rule to that error.

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::config::BackendKind;
use crate::error::Error;
use crate::statement::Params;
use crate::value::Value;

/// The placeholder forms a statement uses.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    /// A `?` outside literals, identifiers and comments.
    pub(crate) question: bool,
    /// A `$N` (a `$` and digits) outside them.
    pub(crate) dollar: bool,
}

/// What the lexer finds outside literals, identifiers and comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    /// A `?` placeholder at this byte.
    Question(usize),
    /// PostgreSQL's `??` at this byte: the `?` operator, written so.
    Escaped(usize),
    /// A `$N` from its `$` to the byte after it, and its `N` (saturated).
    Dollar(usize, usize, usize),
    /// A `:name` (when names are looked for), from its `:` to the byte
    /// after it.
    Named(usize, usize),
    /// A `;` (when statements are looked for).
    End(usize),
    /// A word (when statements are looked for), from its first byte to the
    /// byte after it.
    Word(usize, usize),
}

/// What [`walk`] reports besides placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    Placeholders,
    /// `:name` parameters too.
    Names,
    /// The `;` and words that split a script into statements.
    Statements,
}

/// The placeholders in `sql`, read as `kind` reads it.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn scan(sql: &str, kind: BackendKind) -> Found {
    let mut found = Found::default();
    walk(sql, kind, Look::Placeholders, |m| match m {
        Mark::Question(_) => found.question = true,
        Mark::Dollar(..) => found.dollar = true,
        Mark::Escaped(_) | Mark::Named(..) | Mark::End(_) | Mark::Word(..) => {}
    });
    found
}

/// Calls `mark` for each placeholder of `sql` read as `kind` reads it, in
/// order; with [`Look::Names`], each `:name` too (a `:` after no name or
/// number byte, before a letter or `_`: not `::` casts, `:=`, or
/// `a[1:n]`); with [`Look::Statements`], each `;` and word. On PostgreSQL,
/// `??` is one [`Mark::Escaped`], and `?|` and `?&` are operators, not
/// placeholders.
fn walk(sql: &str, kind: BackendKind, look: Look, mut mark: impl FnMut(Mark)) {
    let names = look == Look::Names;
    let statements = look == Look::Statements;
    let b = sql.as_bytes();
    let pg = kind == BackendKind::Postgres;
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
            b'/' if b.get(i + 1) == Some(&b'*') => i = block_comment(b, i, pg),
            b'?' if pg && b.get(i + 1) == Some(&b'?') => {
                mark(Mark::Escaped(i));
                i += 2;
            }
            b'?' if pg && matches!(b.get(i + 1), Some(b'|' | b'&')) => i += 2,
            b'?' => {
                mark(Mark::Question(i));
                i += 1;
            }
            b'$' if b.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !word_byte(b, i.wrapping_sub(1)) =>
            {
                let start = i;
                i += 1;
                let mut n: usize = 0;
                while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
                    n = n.saturating_mul(10).saturating_add(usize::from(d - b'0'));
                    i += 1;
                }
                mark(Mark::Dollar(start, i, n));
            }
            b'$' if pg && !word_byte(b, i.wrapping_sub(1)) => {
                i = dollar_quoted(sql, i);
            }
            b':' if b.get(i + 1) == Some(&b':') => i += 2,
            b':' if names
                && !word_byte(b, i.wrapping_sub(1))
                && b.get(i + 1)
                    .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') =>
            {
                let start = i;
                i += 1;
                while b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                mark(Mark::Named(start, i));
            }
            b';' if statements => {
                mark(Mark::End(i));
                i += 1;
            }
            _ if word_byte(b, i) => {
                // A whole word: `$` and digits inside one are part of a name.
                let start = i;
                while word_byte(b, i) {
                    i += 1;
                }
                if statements {
                    mark(Mark::Word(start, i));
                }
            }
            _ => i += 1,
        }
    }
}

/// `sql` as PostgreSQL takes it, and the number of values it takes: each
/// `?` placeholder becomes `$1`, `$2`, … in order and each `??` a `?`
/// (tests/placeholders.rs). Borrowed, with the highest `$N` as the count,
/// when it has no `?` to rewrite. A statement that mixes `?` and `$N` is a
/// `Usage` error.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn to_postgres(sql: &str) -> crate::Result<(Cow<'_, str>, usize)> {
    let (mut questions, mut escaped, mut highest) = (0usize, false, None::<usize>);
    walk(
        sql,
        BackendKind::Postgres,
        Look::Placeholders,
        |m| match m {
            Mark::Question(_) => questions += 1,
            Mark::Escaped(_) => escaped = true,
            Mark::Dollar(_, _, n) => highest = highest.max(Some(n)),
            Mark::Named(..) | Mark::End(_) | Mark::Word(..) => {}
        },
    );
    if questions > 0 && highest.is_some() {
        return Err(Error::new(
            crate::ErrorKind::Usage,
            "a statement with `?` placeholders cannot also have `$N` ones: write every placeholder \
             as `?`, or as `$N`",
        ));
    }
    if questions == 0 && !escaped {
        return Ok((Cow::Borrowed(sql), highest.unwrap_or(0)));
    }
    let mut out = String::with_capacity(sql.len() + questions * 2);
    let (mut from, mut n) = (0, 0usize);
    walk(
        sql,
        BackendKind::Postgres,
        Look::Placeholders,
        |m| match m {
            Mark::Question(at) => {
                n += 1;
                out.push_str(&sql[from..at]);
                let _ = write!(out, "${n}");
                from = at + 1;
            }
            Mark::Escaped(at) => {
                out.push_str(&sql[from..=at]);
                from = at + 2;
            }
            Mark::Dollar(..) | Mark::Named(..) | Mark::End(_) | Mark::Word(..) => {}
        },
    );
    out.push_str(&sql[from..]);
    // Only `??` to rewrite: the count is the highest `$N`'s.
    let takes = if questions > 0 {
        questions
    } else {
        highest.unwrap_or(0)
    };
    Ok((Cow::Owned(out), takes))
}

/// `sql` with its `:name` parameters (read as `kind` reads the text) in
/// positional form, and the values in the order they bind: `?` each, the
/// value repeated for a name used twice; on PostgreSQL `$k`, the `k`-th
/// name's (tests/placeholders.rs). `value` gives a name's value. A name
/// without a value, a value whose name the text never uses, and a text
/// that also has `?` or `$N` placeholders are `Usage` errors.
pub(crate) fn named<V>(
    sql: &str,
    kind: BackendKind,
    given: &[&str],
    mut value: impl FnMut(&str) -> Option<V>,
) -> crate::Result<(String, Vec<V>)> {
    let usage = |m: String| Error::new(crate::ErrorKind::Usage, m);
    let pg = kind == BackendKind::Postgres;
    let (mut out, mut values) = (String::with_capacity(sql.len()), Vec::new());
    let (mut from, mut names, mut failed) = (0, Vec::<&str>::new(), None);
    walk(sql, kind, Look::Names, |m| match m {
        Mark::Named(start, end) => {
            let name = &sql[start + 1..end];
            out.push_str(&sql[from..start]);
            from = end;
            let seen = names.iter().position(|n| *n == name);
            if let (true, Some(k)) = (pg, seen) {
                let _ = write!(out, "${}", k + 1);
                return;
            }
            match value(name) {
                Some(v) => values.push(v),
                None => {
                    failed.get_or_insert_with(|| {
                        usage(format!(
                            "the statement's parameter :{name} was given no value"
                        ))
                    });
                }
            }
            if seen.is_none() {
                names.push(name);
            }
            match pg {
                true => {
                    let _ = write!(out, "${}", names.len());
                }
                false => out.push('?'),
            }
        }
        Mark::Question(_) | Mark::Dollar(..) => {
            failed.get_or_insert_with(|| {
                usage(
                    "a statement with :name parameters cannot also have `?` or `$N` ones"
                        .to_owned(),
                )
            });
        }
        Mark::Escaped(_) | Mark::End(_) | Mark::Word(..) => {}
    });
    if let Some(e) = failed {
        return Err(e);
    }
    if let Some(unused) = given.iter().find(|g| !names.contains(g)) {
        return Err(usage(format!(
            "a value was given for :{unused}, which the statement does not use"
        )));
    }
    out.push_str(&sql[from..]);
    Ok((out, values))
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

/// The index after the block comment opened at `start`; PostgreSQL's nest
/// (`/* a /* b */ c */` is one comment), MySQL's and SQLite's do not.
fn block_comment(b: &[u8], start: usize, nested: bool) -> usize {
    let (mut depth, mut i) = (1usize, start + 2);
    while i < b.len() {
        if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else if nested && b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
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

/// A window frame's offsets written into the text: sea-query writes each
/// as a bound value glued to its keyword (`ROWS BETWEEN $1PRECEDING AND
/// ?FOLLOWING`), which PostgreSQL cannot read and MariaDB refuses even when
/// spaced (a frame offset cannot be a placeholder there). Each placeholder
/// directly before `PRECEDING` or `FOLLOWING` becomes the integer it binds
/// (`1 PRECEDING`: a window's offsets are `u32`s, no text of the caller's)
/// and its value is taken out; on PostgreSQL the `$N` after it are numbered
/// again. `None` when the statement has no such placeholder
/// (tests/queries/windows.rs runs frames on every backend).
pub(crate) fn inline_frame_offsets(
    sql: &str,
    kind: BackendKind,
    values: &mut Params,
) -> Option<String> {
    if !(sql.contains("PRECEDING") || sql.contains("FOLLOWING")) {
        return None;
    }
    // Each placeholder: its bytes and the index of the value it binds.
    let mut marks = Vec::new();
    let mut questions = 0;
    walk(sql, kind, Look::Placeholders, |m| match m {
        Mark::Question(at) => {
            marks.push((at, at + 1, questions));
            questions += 1;
        }
        Mark::Dollar(at, end, n) => marks.push((at, end, n.saturating_sub(1))),
        Mark::Escaped(_) | Mark::Named(..) | Mark::End(_) | Mark::Word(..) => {}
    });
    let offset = |end: usize| {
        ["PRECEDING", "FOLLOWING"]
            .iter()
            .any(|k| sql[end..].starts_with(k))
    };
    let inlined: Vec<usize> = marks
        .iter()
        .filter(|&&(_, end, i)| offset(end) && matches!(values.get(i), Some(Value::I64(_))))
        .map(|&(_, _, i)| i)
        .collect();
    if inlined.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    for &(at, end, i) in &marks {
        out.push_str(&sql[copied..at]);
        copied = end;
        match values.get(i) {
            Some(Value::I64(n)) if inlined.contains(&i) => out.push_str(&format!("{n} ")),
            _ if kind == BackendKind::Postgres => {
                let before = inlined.iter().filter(|&&j| j < i).count();
                out.push_str(&format!("${}", i + 1 - before));
            }
            _ => out.push_str(&sql[at..end]),
        }
    }
    out.push_str(&sql[copied..]);
    let mut i = 0;
    values.retain(|_| {
        i += 1;
        !inlined.contains(&(i - 1))
    });
    Some(out)
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
             (insert_many splits its rows into statements under the limit; a longer `is_in` \
             list can be a sub-query instead)",
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

/// `err`, MySQL's refusal of `sql` as written, with its placeholder
/// rule added when the statement is written in PostgreSQL's own style
/// (`$N`: an unknown column or a syntax error there). Other errors as they
/// are. (A `?` on PostgreSQL is rewritten: [`to_postgres`].)
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
pub(crate) fn hint(sql: &str, err: Error) -> Error {
    let misread =
        matches!(err.code(), Some("1054" | "1064")) && scan(sql, BackendKind::Mysql).dollar;
    if !misread {
        return err;
    }
    err.with_hint("MySQL's placeholders are `?`; this statement has `$N`")
}

/// One statement of a script: its text (without the `;`) and the line it
/// starts on, counted from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement<'a> {
    pub(crate) sql: &'a str,
    pub(crate) line: usize,
}

/// The statements of a script, as `kind` reads it: split at each `;`
/// outside literals, quoted identifiers, dollar-quoted bodies and comments,
/// and outside `BEGIN … END` and `CASE … END` blocks (a SQLite or MySQL
/// trigger's body, PostgreSQL's `BEGIN ATOMIC`). `BEGIN` as a transaction
/// statement (`BEGIN;`, `BEGIN TRANSACTION`, `BEGIN IMMEDIATE`, …) opens no
/// block, and MySQL's `END IF`, `END LOOP`, `END WHILE` and `END REPEAT`
/// close none. Pieces with no word (blank, only comments) are dropped
/// (tests in this module; tests/migrations.rs runs scripts with triggers on
/// every backend).
pub(crate) fn statements(sql: &str, kind: BackendKind) -> Vec<Statement<'_>> {
    #[derive(PartialEq)]
    enum After {
        Nothing,
        Begin,
        End,
    }
    // `words` counts a statement's words; `first` is where its first word
    // starts: the line reported is that word's, not a comment's before it.
    let (mut out, mut start, mut depth, mut words) = (Vec::new(), 0, 0usize, 0usize);
    let (mut after, mut first) = (After::Nothing, 0);
    fn push<'a>(
        sql: &'a str,
        (from, to): (usize, usize),
        (words, first): (usize, usize),
        out: &mut Vec<Statement<'a>>,
    ) {
        let text = sql[from..to].trim();
        if words > 0 && !text.is_empty() {
            let line = 1 + sql[..first].bytes().filter(|&c| c == b'\n').count();
            out.push(Statement { sql: text, line });
        }
    }
    walk(sql, kind, Look::Statements, |m| {
        let word = match m {
            Mark::Word(a, b) => Some(&sql[a..b]),
            _ => None,
        };
        let is = |w: &str| word.is_some_and(|x| x.eq_ignore_ascii_case(w));
        match std::mem::replace(&mut after, After::Nothing) {
            After::Begin => {
                let tx_word = [
                    "TRANSACTION",
                    "WORK",
                    "DEFERRED",
                    "IMMEDIATE",
                    "EXCLUSIVE",
                    "ISOLATION",
                    "READ",
                ];
                if word.is_some() && !tx_word.iter().any(|w| is(w)) {
                    depth += 1;
                }
            }
            After::End => {
                if !["IF", "LOOP", "WHILE", "REPEAT"].iter().any(|w| is(w)) {
                    depth = depth.saturating_sub(1);
                }
            }
            After::Nothing => {}
        }
        match m {
            Mark::End(at) if depth == 0 => {
                push(sql, (start, at), (words, first), &mut out);
                (start, words) = (at + 1, 0);
            }
            Mark::Word(a, _) => {
                if words == 0 {
                    first = a;
                }
                words += 1;
                if is("BEGIN") {
                    after = After::Begin;
                } else if is("CASE") {
                    depth += 1;
                } else if is("END") {
                    after = After::End;
                }
            }
            _ => {}
        }
    });
    push(sql, (start, sql.len()), (words, first), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn frame_offsets_are_written_into_the_text() {
        let text = |s: &str| Value::Text(s.into());
        let mut values: Params = [text("a"), Value::I64(2), Value::I64(1), text("b")]
            .into_iter()
            .collect();
        let sql = "SELECT $1, SUM(\"x\") OVER (ORDER BY \"$9PRECEDING\" ROWS BETWEEN $2PRECEDING \
                   AND $3FOLLOWING) FROM t WHERE a = $4";
        let fixed = inline_frame_offsets(sql, BackendKind::Postgres, &mut values).unwrap();
        assert_eq!(
            fixed,
            "SELECT $1, SUM(\"x\") OVER (ORDER BY \"$9PRECEDING\" ROWS BETWEEN 2 PRECEDING \
             AND 1 FOLLOWING) FROM t WHERE a = $2"
        );
        assert_eq!(values.as_slice(), [text("a"), text("b")]);
        for kind in [BackendKind::Mysql, BackendKind::Sqlite] {
            let mut values: Params = [text("a"), Value::I64(3), text("b")].into_iter().collect();
            let sql = "SELECT ?, SUM(x) OVER (ROWS BETWEEN ?PRECEDING AND CURRENT ROW) \
                       FROM t WHERE a = '?PRECEDING' AND b = ?";
            let fixed = inline_frame_offsets(sql, kind, &mut values).unwrap();
            assert_eq!(
                fixed,
                "SELECT ?, SUM(x) OVER (ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) \
                 FROM t WHERE a = '?PRECEDING' AND b = ?"
            );
            assert_eq!(values.as_slice(), [text("a"), text("b")]);
        }
        let mut values: Params = [Value::I64(1)].into_iter().collect();
        let plain = "SELECT x FROM t WHERE y = ? -- PRECEDING";
        assert_eq!(
            inline_frame_offsets(plain, BackendKind::Sqlite, &mut values),
            None
        );
        assert_eq!(values.len(), 1);
    }

    /// A piece of PostgreSQL text and what [`to_postgres`] makes of it (a
    /// placeholder's `$N` is filled in by its place).
    #[derive(Debug, Clone)]
    enum Piece {
        Placeholder,
        Kept(String),
        /// `??`, which becomes `?`.
        Escaped,
        /// `$N`.
        Dollar(usize),
        /// `:name`.
        Name(&'static str),
    }

    /// Text of the bytes that make the lexer's choices: quotes, `$`, `?`,
    /// comment marks, backslashes, a newline.
    fn tricky(exclude: &'static str) -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop::sample::select(vec![
                "a", "?", "$", "$1", "'", "\"", "`", "-", "/", "*", "\\", " ", "::", "é", "\n",
                "??",
            ]),
            0..8,
        )
        .prop_map(move |parts| {
            parts
                .concat()
                .chars()
                .filter(|c| !exclude.contains(*c))
                .collect()
        })
    }

    fn piece() -> impl Strategy<Value = Piece> {
        let tag = prop::sample::select(vec!["", "q", "x_1"]);
        prop_oneof![
            3 => Just(Piece::Placeholder),
            1 => Just(Piece::Escaped),
            1 => (1usize..4).prop_map(Piece::Dollar),
            1 => prop::sample::select(vec!["a", "b_1", "c"]).prop_map(Piece::Name),
            1 => prop::sample::select(vec!["?|", "?&", "::text", "::int", "||", "(", ")", ",", "=", "a$1", "x_1", "E"])
                .prop_map(|s| Piece::Kept(s.to_owned())),
            // A literal: a quote inside is doubled.
            1 => tricky("").prop_map(|t| Piece::Kept(format!("'{}'", t.replace('\'', "''")))),
            // E'…': a quote inside escaped, a backslash doubled.
            1 => tricky("").prop_map(|t| Piece::Kept(format!("E'{}'", t.replace('\\', "\\\\").replace('\'', "\\'")))),
            1 => tricky("").prop_map(|t| Piece::Kept(format!("\"{}\"", t.replace('"', "\"\"")))),
            1 => (tag, tricky("$")).prop_map(|(tag, t)| Piece::Kept(format!("${tag}${t}${tag}$"))),
            1 => tricky("\n").prop_map(|t| Piece::Kept(format!("--{t}\n"))),
            1 => tricky("*/").prop_map(|t| Piece::Kept(format!("/*{t}*/"))),
            1 => (tricky("*/"), tricky("*/")).prop_map(|(a, b)| Piece::Kept(format!("/*{a}/*{b}*/{a}*/"))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        /// Random statements of literals, identifiers, dollar-quoted bodies,
        /// comments (nested too), casts and jsonb operators around `?`s:
        /// each placeholder becomes its `$N`, `??` becomes `?`, and nothing
        /// else changes.
        #[test]
        fn only_placeholders_are_rewritten(pieces in proptest::collection::vec(piece(), 0..12)) {
            let (mut sql, mut want, mut n, mut highest) = (String::new(), String::new(), 0, 0);
            // Names are not PostgreSQL's own: written here as plain words.
            for p in &pieces {
                match p {
                    Piece::Placeholder => {
                        n += 1;
                        sql.push('?');
                        want.push_str(&format!("${n}"));
                    }
                    Piece::Escaped => {
                        sql.push_str("??");
                        want.push('?');
                    }
                    Piece::Dollar(k) => {
                        highest = highest.max(*k);
                        sql.push_str(&format!("${k}"));
                        want.push_str(&format!("${k}"));
                    }
                    Piece::Kept(s) => {
                        sql.push_str(s);
                        want.push_str(s);
                    }
                    Piece::Name(s) => {
                        sql.push_str(s);
                        want.push_str(s);
                    }
                }
                sql.push(' ');
                want.push(' ');
            }
            match to_postgres(&sql) {
                Err(_) => prop_assert!(n > 0 && highest > 0, "{}", sql),
                Ok((got, takes)) => {
                    prop_assert!(n == 0 || highest == 0, "{}", sql);
                    prop_assert_eq!(&*got, want.as_str(), "{}", sql);
                    prop_assert_eq!(takes, n.max(highest));
                }
            }
        }

        /// The same pieces with `:name`s and no other placeholders: each
        /// name becomes `?` (MySQL) or its `$k` (PostgreSQL), its value in
        /// binding order, and nothing else changes.
        #[test]
        fn only_names_are_rewritten(pieces in proptest::collection::vec(piece(), 0..12), pg in any::<bool>()) {
            let kind = if pg { BackendKind::Postgres } else { BackendKind::Mysql };
            let (mut sql, mut want, mut order, mut names) =
                (String::new(), String::new(), Vec::new(), Vec::<&str>::new());
            for p in &pieces {
                match p {
                    Piece::Name(name) => {
                        sql.push_str(&format!(":{name}"));
                        let k = names.iter().position(|n| n == name).unwrap_or_else(|| {
                            names.push(name);
                            names.len() - 1
                        });
                        if pg {
                            want.push_str(&format!("${}", k + 1));
                            if k + 1 == names.len() && !order.contains(name) {
                                order.push(*name);
                            }
                        } else {
                            want.push('?');
                            order.push(*name);
                        }
                    }
                    // Only the literals, comments and quoted pieces, whose
                    // dialect both backends read alike here.
                    // (MySQL's comments do not nest.)
                    Piece::Kept(s)
                        if !s.contains(['`', '\\', '#', '$'])
                            && !s.starts_with(['E', '?'])
                            && (pg || s.matches("/*").count() < 2) =>
                    {
                        sql.push_str(s);
                        want.push_str(s);
                    }
                    _ => continue,
                }
                sql.push(' ');
                want.push(' ');
            }
            let (got, values) = named(&sql, kind, &names, |n| Some(n.to_owned())).unwrap();
            prop_assert_eq!(got, want, "{}", sql);
            prop_assert_eq!(values, order);
        }

        /// Any text at all: no panic, and text without a `?` comes back as
        /// it is, borrowed.
        #[test]
        fn any_text_is_read_without_panic(sql in "\\PC{0,40}", bytes in tricky("")) {
            for sql in [sql, bytes] {
                let out = to_postgres(&sql);
                if !sql.contains('?') {
                    let (got, _) = out.unwrap();
                    prop_assert!(matches!(got, Cow::Borrowed(_)));
                    prop_assert_eq!(&*got, sql.as_str());
                }
                let _ = scan(&sql, BackendKind::Mysql);
                let _ = scan(&sql, BackendKind::Sqlite);
            }
        }
    }

    #[test]
    fn rewrites_question_marks_and_counts_values() {
        let pg = |s| to_postgres(s).unwrap();
        assert_eq!(pg("SELECT ?, ?"), ("SELECT $1, $2".into(), 2));
        assert_eq!(pg("SELECT $2, $1"), ("SELECT $2, $1".into(), 2));
        assert_eq!(pg("SELECT 1"), ("SELECT 1".into(), 0));
        assert_eq!(pg("SELECT j ?? 'a', ?"), ("SELECT j ? 'a', $1".into(), 1));
        assert_eq!(
            pg("SELECT j ?| a, j ?& b, ?"),
            ("SELECT j ?| a, j ?& b, $1".into(), 1)
        );
        assert_eq!(
            pg("SELECT '?', \"?\", $$?$$, ? /* ? /* ? */ ? */ -- ?"),
            (
                "SELECT '?', \"?\", $$?$$, $1 /* ? /* ? */ ? */ -- ?".into(),
                1
            )
        );
        assert_eq!(pg("SELECT ?::int"), ("SELECT $1::int".into(), 1));
        assert!(to_postgres("SELECT ?, $1").is_err());
        assert_eq!(pg("SELECT j ?? 'a', $2"), ("SELECT j ? 'a', $2".into(), 2));
        assert!(matches!(pg("SELECT $1").0, Cow::Borrowed(_)));
    }

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

    fn split(sql: &str, kind: BackendKind) -> Vec<(String, usize)> {
        statements(sql, kind)
            .into_iter()
            .map(|s| (s.sql.to_string(), s.line))
            .collect()
    }

    #[test]
    fn scripts_split_at_semicolons_outside_literals_comments_and_blocks() {
        let script = "-- setup\nCREATE TABLE a (x TEXT DEFAULT ';');\n\n/* ; */ INSERT INTO a VALUES ('a;b');\n;;\n";
        let got = split(script, BackendKind::Sqlite);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(
            got[0],
            (
                "-- setup\nCREATE TABLE a (x TEXT DEFAULT ';')".to_string(),
                2
            )
        );
        assert_eq!(got[1].1, 4);
        // A trigger's body, with CASE inside, is one statement.
        let trigger = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = CASE WHEN x = '' THEN 'e' ELSE x END;\n  DELETE FROM a WHERE x IS NULL;\nEND;\nSELECT 1";
        let got = split(trigger, BackendKind::Sqlite);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].0.ends_with("END"), "{got:?}");
        assert_eq!(got[1], ("SELECT 1".to_string(), 5));
        // Transaction statements open no block; MySQL's END IF closes none.
        let tx = "BEGIN;\nBEGIN IMMEDIATE;\nCOMMIT;";
        assert_eq!(split(tx, BackendKind::Sqlite).len(), 3);
        let proc =
            "CREATE PROCEDURE p() BEGIN IF 1 THEN SELECT 1; END IF; SELECT 2; END;\nSELECT 3;";
        let got = split(proc, BackendKind::Mysql);
        assert_eq!(got.len(), 2, "{got:?}");
        // PostgreSQL: dollar-quoted bodies and E'' escapes.
        let pg = "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;\nSELECT E'\\';', 2;";
        let got = split(pg, BackendKind::Postgres);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[1].1, 2);
    }
}
