//! A SQLite `CREATE TABLE` statement as SQLite keeps it (`sqlite_master`),
//! split into its column definitions and table constraints so that a
//! rebuild ([`Rebuild`](super::rebuild::Rebuild)) can write the new table
//! from the old one's own text, changing one column: whatever the text
//! says and the pragmas do not (collations, generated columns, `CHECK`
//! constraints, expression defaults, `STRICT`, `WITHOUT ROWID`, deferrable
//! foreign keys) is kept because it is never rewritten
//! (tests/alter.rs, `sqlite_rebuilds_keep_what_the_table_says`).

use crate::error::{Error, ErrorKind, Result};

/// One token: where it is, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tok {
    start: usize,
    end: usize,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A keyword, a bare name or a number.
    Word,
    /// A quoted name: `"…"`, `` `…` ``, `[…]`.
    Quoted,
    /// A string literal, `'…'`.
    Str,
    /// Any other byte: `(`, `)`, `,`, operators.
    Punct(u8),
}

/// The tokens of `sql`, comments and blanks left out; `None` where a quote
/// or comment is not closed.
fn tokens(sql: &str) -> Option<Vec<Tok>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let closing = |from: usize, close: u8, doubled: bool| -> Option<usize> {
        let mut j = from;
        loop {
            let at = j + b.get(j..)?.iter().position(|&c| c == close)?;
            if doubled && b.get(at + 1) == Some(&close) {
                j = at + 2;
                continue;
            }
            return Some(at + 1);
        }
    };
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |n| i + n + 1);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = i + 2 + b[i + 2..].windows(2).position(|w| w == b"*/")? + 2;
                continue;
            }
            b'\'' => {
                i = closing(i + 1, b'\'', true)?;
                Kind::Str
            }
            b'"' | b'`' => {
                i = closing(i + 1, c, true)?;
                Kind::Quoted
            }
            b'[' => {
                i = closing(i + 1, b']', false)?;
                Kind::Quoted
            }
            _ if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 => {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'$') || b[i] >= 0x80)
                {
                    i += 1;
                }
                Kind::Word
            }
            _ => {
                i += 1;
                Kind::Punct(c)
            }
        };
        out.push(Tok {
            start,
            end: i,
            kind,
        });
    }
    Some(out)
}

/// The name a token stands for: a word as it is, a quoted name without its
/// quotes (a doubled quote as one).
fn name_of(sql: &str, t: &Tok) -> Option<String> {
    let text = &sql[t.start..t.end];
    match t.kind {
        Kind::Word => Some(text.to_owned()),
        Kind::Quoted => {
            let inner = &text[1..text.len() - 1];
            Some(match text.as_bytes()[0] {
                b'"' => inner.replace("\"\"", "\""),
                b'`' => inner.replace("``", "`"),
                _ => inner.to_owned(),
            })
        }
        Kind::Str | Kind::Punct(_) => None,
    }
}

fn is_word(sql: &str, t: &Tok, word: &str) -> bool {
    t.kind == Kind::Word && sql[t.start..t.end].eq_ignore_ascii_case(word)
}

fn unreadable() -> Error {
    Error::new(
        ErrorKind::Usage,
        "SQLite: the table's CREATE TABLE statement could not be read to rebuild it: \
         change it with SQL of your own",
    )
}

/// One column definition or table constraint of the list, and its tokens.
struct Item {
    toks: Vec<Tok>,
}

/// A `CREATE TABLE` statement: its list's items, and what follows the
/// list (`STRICT`, `WITHOUT ROWID`).
pub(crate) struct TableSql<'a> {
    sql: &'a str,
    items: Vec<Item>,
    tail: &'a str,
}

impl<'a> TableSql<'a> {
    /// Splits `sql`; a `Usage` error for text that is not a table's
    /// column list (`CREATE TABLE … AS SELECT` has none).
    pub(crate) fn parse(sql: &'a str) -> Result<Self> {
        let toks = tokens(sql).ok_or_else(unreadable)?;
        let open = toks
            .iter()
            .position(|t| t.kind == Kind::Punct(b'('))
            .ok_or_else(unreadable)?;
        let mut items = Vec::new();
        let mut current = Vec::new();
        let mut depth = 0usize;
        let mut close = None;
        for (i, t) in toks.iter().enumerate().skip(open + 1) {
            match t.kind {
                Kind::Punct(b'(') => depth += 1,
                Kind::Punct(b')') if depth == 0 => {
                    close = Some(i);
                    break;
                }
                Kind::Punct(b')') => depth -= 1,
                Kind::Punct(b',') if depth == 0 => {
                    items.push(Item {
                        toks: std::mem::take(&mut current),
                    });
                    continue;
                }
                _ => {}
            }
            current.push(*t);
        }
        let close = close.ok_or_else(unreadable)?;
        items.push(Item { toks: current });
        if items.iter().any(|it| it.toks.is_empty()) {
            return Err(unreadable());
        }
        Ok(TableSql {
            sql,
            items,
            tail: &sql[toks[close].end..],
        })
    }

    fn text(&self, item: &Item) -> &'a str {
        let (first, last) = (item.toks[0], item.toks[item.toks.len() - 1]);
        &self.sql[first.start..last.end]
    }

    /// A table constraint (`CONSTRAINT`, `PRIMARY KEY`, `UNIQUE`, `CHECK`,
    /// `FOREIGN KEY`), not a column.
    fn is_constraint(&self, item: &Item) -> bool {
        let first = &item.toks[0];
        ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"]
            .iter()
            .any(|w| is_word(self.sql, first, w))
    }

    /// The column an item defines, if it is a column definition.
    fn column(&self, item: &Item) -> Option<String> {
        match self.is_constraint(item) {
            true => None,
            false => name_of(self.sql, &item.toks[0]),
        }
    }

    /// The columns a `UNIQUE`, `PRIMARY KEY` or `FOREIGN KEY` table
    /// constraint lists first (empty for `CHECK`).
    fn listed(&self, item: &Item) -> Vec<String> {
        let toks = &item.toks;
        if toks.iter().take(3).any(|t| is_word(self.sql, t, "CHECK")) {
            return Vec::new();
        }
        let Some(open) = toks.iter().position(|t| t.kind == Kind::Punct(b'(')) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut expect_name = true;
        for t in &toks[open + 1..] {
            match t.kind {
                Kind::Punct(b')') => break,
                Kind::Punct(b',') => expect_name = true,
                _ if expect_name => {
                    out.extend(name_of(self.sql, t));
                    expect_name = false;
                }
                _ => {}
            }
        }
        out
    }

    /// The list without column `name`, and without the `UNIQUE` and
    /// `FOREIGN KEY` table constraints that list it (they go with it, as
    /// its own column constraints do). `None` if there is no such column.
    pub(crate) fn without_column(&self, name: &str) -> Option<Vec<String>> {
        let same = |n: &str| n.eq_ignore_ascii_case(name);
        let mut found = false;
        let mut out = Vec::new();
        for item in &self.items {
            if self.column(item).is_some_and(|c| same(&c)) {
                found = true;
                continue;
            }
            if self.is_constraint(item) && self.listed(item).iter().any(|c| same(c)) {
                continue;
            }
            out.push(self.text(item).to_owned());
        }
        found.then_some(out)
    }

    /// The list with column `name` made `NOT NULL` (`not_null`) or
    /// nullable: the clause appended after its last token, or its `NOT
    /// NULL` clauses (with a `CONSTRAINT` name and `ON CONFLICT` of their
    /// own) taken out. `None` if there is no such column.
    pub(crate) fn with_not_null(&self, name: &str, not_null: bool) -> Option<Vec<String>> {
        let mut found = false;
        let mut out = Vec::new();
        for item in &self.items {
            let text = self.text(item);
            if !self
                .column(item)
                .is_some_and(|c| c.eq_ignore_ascii_case(name))
            {
                out.push(text.to_owned());
                continue;
            }
            found = true;
            let spans = self.not_null_clauses(item);
            let edited = match (not_null, spans.is_empty()) {
                (true, true) => format!("{text} NOT NULL"),
                (true, false) => text.to_owned(),
                (false, _) => {
                    let cut: Vec<_> = spans.into_iter().map(|(from, to)| (from, to, "")).collect();
                    self.edited(item, &cut)
                }
            };
            out.push(edited);
        }
        found.then_some(out)
    }

    /// The byte spans of a column definition's `NOT NULL` clauses, each
    /// with the `CONSTRAINT name` before it and the `ON CONFLICT …` after
    /// (not the words of an expression in parentheses, `CHECK (a IS NOT
    /// NULL)`).
    fn not_null_clauses(&self, item: &Item) -> Vec<(usize, usize)> {
        let t = &item.toks;
        let w = self.top_words(item);
        let mut out = Vec::new();
        let mut i = 1;
        while i < t.len() {
            if !(w(i, "NOT") && w(i + 1, "NULL")) {
                i += 1;
                continue;
            }
            let mut from = i;
            if i >= 3 && w(i - 2, "CONSTRAINT") {
                from = i - 2;
            }
            let mut to = i + 2;
            if w(to, "ON") && w(to + 1, "CONFLICT") && t.get(to + 2).is_some() {
                to += 3;
            }
            out.push((t[from].start, t[to - 1].end));
            i = to;
        }
        out
    }

    /// What follows the column list (`STRICT`, `WITHOUT ROWID`), as written.
    pub(crate) fn tail(&self) -> &'a str {
        self.tail
    }

    /// MySQL's definition of column `name` (from `SHOW CREATE TABLE`, where
    /// every column name is quoted and no constraint's is) made `NOT NULL`
    /// (`not_null`: its `NULL` and `DEFAULT NULL` taken out, `NOT NULL`
    /// appended unless it is there) or nullable (`NOT NULL` made `NULL`),
    /// for `ALTER TABLE … MODIFY`: the rest of it (collation, comment,
    /// `AUTO_INCREMENT`, `ON UPDATE`, a generated column's expression) as
    /// the server wrote it. `None` if there is no such column.
    pub(crate) fn mysql_with_not_null(&self, name: &str, not_null: bool) -> Option<String> {
        let item = self.items.iter().find(|it| {
            it.toks[0].kind == Kind::Quoted
                && name_of(self.sql, &it.toks[0]).is_some_and(|c| c.eq_ignore_ascii_case(name))
        })?;
        let t = &item.toks;
        let w = self.top_words(item);
        let mut edits: Vec<(usize, usize, &str)> = Vec::new();
        let mut has_not_null = false;
        let mut i = 1;
        while i < t.len() {
            let pair = (w(i, "NOT") || w(i, "DEFAULT")) && w(i + 1, "NULL");
            if pair && w(i, "NOT") {
                has_not_null = true;
                if !not_null {
                    edits.push((t[i].start, t[i + 1].end, "NULL"));
                }
            } else if pair && not_null {
                edits.push((t[i].start, t[i + 1].end, ""));
            } else if w(i, "NULL") && not_null {
                edits.push((t[i].start, t[i].end, ""));
            }
            i += if pair { 2 } else { 1 };
        }
        let mut out = self.edited(item, &edits);
        if not_null && !has_not_null {
            out.push_str(" NOT NULL");
        }
        Some(out)
    }

    /// Whether token `i` of `item` is the keyword `word` outside every
    /// parenthesis of the item (not a word of an expression).
    fn top_words<'s>(&'s self, item: &'s Item) -> impl Fn(usize, &str) -> bool + 's {
        let top = outside_parentheses(&item.toks);
        move |i, word| item.toks.get(i).is_some_and(|t| is_word(self.sql, t, word)) && top[i]
    }

    /// `item`'s text with each span `(from, to, with)` (byte offsets in the
    /// statement, in order) replaced by `with`.
    fn edited(&self, item: &Item, edits: &[(usize, usize, &str)]) -> String {
        let (text, base) = (self.text(item), item.toks[0].start);
        let mut out = String::with_capacity(text.len() + 9);
        let mut at = 0;
        for &(from, to, with) in edits {
            out.push_str(&text[at..from - base]);
            out.push_str(with);
            at = to - base;
        }
        out.push_str(&text[at..]);
        out
    }
}

/// For each token, whether it stands outside every parenthesis of its item
/// (its own parentheses count as inside).
fn outside_parentheses(toks: &[Tok]) -> Vec<bool> {
    let mut depth = 0usize;
    toks.iter()
        .map(|t| match t.kind {
            Kind::Punct(b'(') => {
                depth += 1;
                false
            }
            Kind::Punct(b')') => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => depth == 0,
        })
        .collect()
}

/// The key terms of a `CREATE INDEX` statement as written (`code`,
/// `lower(note)`), in order; empty if it cannot be read.
pub(crate) fn index_terms(sql: &str) -> Vec<String> {
    let Some(toks) = tokens(sql) else {
        return Vec::new();
    };
    let Some(on) = toks.iter().position(|t| is_word(sql, t, "ON")) else {
        return Vec::new();
    };
    let Some(open) = toks[on..].iter().position(|t| t.kind == Kind::Punct(b'(')) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut term: Option<(usize, usize)> = None;
    let mut depth = 0usize;
    for t in &toks[on + open + 1..] {
        match t.kind {
            Kind::Punct(b')') if depth == 0 => break,
            Kind::Punct(b',') if depth == 0 => {
                out.extend(term.take().map(|(a, b)| sql[a..b].to_owned()));
                continue;
            }
            Kind::Punct(b'(') => depth += 1,
            Kind::Punct(b')') => depth -= 1,
            _ => {}
        }
        term = Some((term.map_or(t.start, |(a, _)| a), t.end));
    }
    out.extend(term.map(|(a, b)| sql[a..b].to_owned()));
    out
}

/// True if a `CREATE INDEX` statement reads column `name` (in its columns,
/// expressions or `WHERE`: anything from the parenthesis after `ON table`).
pub(crate) fn index_reads(sql: &str, name: &str) -> bool {
    let Some(toks) = tokens(sql) else {
        return true; // unreadable: it goes with the column
    };
    let on = toks.iter().position(|t| is_word(sql, t, "ON"));
    let from = on.and_then(|on| {
        let open = toks[on..]
            .iter()
            .position(|t| t.kind == Kind::Punct(b'('))?;
        Some(on + open)
    });
    let Some(from) = from else {
        return true;
    };
    toks[from..]
        .iter()
        .filter(|t| matches!(t.kind, Kind::Word | Kind::Quoted))
        .any(|t| name_of(sql, t).is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

/// True if `sql` has the keyword `word` (a bare word, not a quoted name or
/// a string).
pub(crate) fn has_word(sql: &str, word: &str) -> bool {
    tokens(sql).is_some_and(|toks| toks.iter().any(|t| is_word(sql, t, word)))
}

/// True if `sql` names `name` outside string literals: as a word or a
/// quoted name (a view or trigger that reads a table).
pub(crate) fn names(sql: &str, name: &str) -> bool {
    let Some(toks) = tokens(sql) else {
        return true; // unreadable: treated as naming it, and made again
    };
    toks.iter()
        .filter(|t| matches!(t.kind, Kind::Word | Kind::Quoted))
        .any(|t| name_of(sql, t).is_some_and(|n| n.eq_ignore_ascii_case(name)))
}

#[cfg(test)]
mod tests {
    use super::{TableSql, has_word, index_reads, index_terms, names};

    #[test]
    fn columns_and_constraints_split_with_quotes_comments_and_nesting() {
        let sql = "CREATE TABLE \"t\" ( -- a comment, with a comma\n\
                   id INTEGER PRIMARY KEY AUTOINCREMENT, \"a,b\" TEXT DEFAULT 'x, y' COLLATE NOCASE,\n\
                   [c] INT CHECK (c > 0 AND c IN (1, 2)) /* (, */, d INT GENERATED ALWAYS AS (c * 2) STORED,\n\
                   e TEXT CONSTRAINT nn NOT NULL ON CONFLICT REPLACE DEFAULT (lower('X')),\n\
                   UNIQUE (\"a,b\", c), FOREIGN KEY (e) REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED,\n\
                   CHECK (d < 10)) STRICT";
        let t = TableSql::parse(sql).unwrap();
        assert_eq!(t.tail(), " STRICT");
        let cols: Vec<_> = t.items.iter().filter_map(|i| t.column(i)).collect();
        assert_eq!(cols, ["id", "a,b", "c", "d", "e"]);
        // dropping c takes the UNIQUE listing it, keeps the rest as written
        let without = t.without_column("C").unwrap();
        assert_eq!(
            without,
            [
                "id INTEGER PRIMARY KEY AUTOINCREMENT",
                "\"a,b\" TEXT DEFAULT 'x, y' COLLATE NOCASE",
                "d INT GENERATED ALWAYS AS (c * 2) STORED",
                "e TEXT CONSTRAINT nn NOT NULL ON CONFLICT REPLACE DEFAULT (lower('X'))",
                "FOREIGN KEY (e) REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED",
                "CHECK (d < 10)",
            ]
        );
        assert_eq!(
            t.without_column("e").unwrap().len(),
            6,
            "the foreign key goes"
        );
        assert!(t.without_column("nope").is_none());
        // NOT NULL taken out with its name and conflict clause, or added
        let nullable = t.with_not_null("e", false).unwrap();
        assert_eq!(nullable[4], "e TEXT  DEFAULT (lower('X'))");
        let strict = t.with_not_null("a,b", true).unwrap();
        assert_eq!(
            strict[1],
            "\"a,b\" TEXT DEFAULT 'x, y' COLLATE NOCASE NOT NULL"
        );
        assert_eq!(t.with_not_null("e", true).unwrap()[4], t.text(&t.items[4]));
    }

    #[test]
    fn not_null_inside_an_expression_is_not_the_columns() {
        let t = TableSql::parse("CREATE TABLE t (a TEXT CHECK (a IS NOT NULL), b INT)").unwrap();
        assert_eq!(
            t.with_not_null("a", true).unwrap()[0],
            "a TEXT CHECK (a IS NOT NULL) NOT NULL"
        );
        assert_eq!(
            t.with_not_null("a", false).unwrap()[0],
            "a TEXT CHECK (a IS NOT NULL)"
        );
    }

    #[test]
    fn mysql_columns_keep_what_the_server_wrote() {
        let sql = "CREATE TABLE `t` (\n  `id` bigint(20) NOT NULL AUTO_INCREMENT,\n  \
                   `code` varchar(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL COMMENT 'NOT NULL, it''s',\n  \
                   `at` timestamp NULL DEFAULT NULL ON UPDATE current_timestamp(),\n  \
                   `g` int(11) GENERATED ALWAYS AS (`id` is not null) VIRTUAL,\n  \
                   PRIMARY KEY (`id`),\n  KEY `code` (`code`)\n) ENGINE=InnoDB";
        let t = TableSql::parse(sql).unwrap();
        assert_eq!(
            t.mysql_with_not_null("code", true).unwrap(),
            "`code` varchar(10) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin  COMMENT 'NOT NULL, it''s' NOT NULL"
        );
        assert_eq!(
            t.mysql_with_not_null("at", true).unwrap(),
            "`at` timestamp   ON UPDATE current_timestamp() NOT NULL"
        );
        assert_eq!(
            t.mysql_with_not_null("ID", false).unwrap(),
            "`id` bigint(20) NULL AUTO_INCREMENT"
        );
        assert_eq!(
            t.mysql_with_not_null("id", true).unwrap(),
            "`id` bigint(20) NOT NULL AUTO_INCREMENT"
        );
        assert_eq!(
            t.mysql_with_not_null("g", true).unwrap(),
            "`g` int(11) GENERATED ALWAYS AS (`id` is not null) VIRTUAL NOT NULL"
        );
        assert!(t.mysql_with_not_null("PRIMARY", true).is_none());
        assert!(t.mysql_with_not_null("KEY", true).is_none());
    }

    #[test]
    fn unreadable_text_is_an_error_not_a_guess() {
        for sql in [
            "CREATE TABLE t AS SELECT 1",
            "CREATE TABLE t (a TEXT DEFAULT 'open",
            "CREATE TABLE t (a, , b)",
            "CREATE TABLE t (a INT",
        ] {
            assert!(TableSql::parse(sql).is_err(), "{sql}");
        }
    }

    #[test]
    fn names_reads_words_and_quoted_names_not_strings() {
        assert!(names("CREATE VIEW v AS SELECT * FROM \"T\"", "t"));
        assert!(names("CREATE VIEW v AS SELECT * FROM main.t", "t"));
        assert!(!names("CREATE VIEW v AS SELECT 't' FROM other", "t"));
        assert!(!names("CREATE VIEW v AS SELECT * FROM tt", "t"));
        assert!(has_word(
            "CREATE TABLE t (id INTEGER PRIMARY KEY autoincrement)",
            "AUTOINCREMENT"
        ));
        assert!(!has_word(
            "CREATE TABLE t (\"autoincrement\" INT)",
            "AUTOINCREMENT"
        ));
        assert!(index_reads("CREATE INDEX i ON t (lower(\"Note\"))", "note"));
        assert!(index_reads(
            "CREATE INDEX i ON t (a) WHERE note IS NOT NULL",
            "note"
        ));
        assert!(!index_reads("CREATE INDEX note ON note (a)", "note"));
        let terms = index_terms("CREATE INDEX i ON t (a, lower(b, ','), \"c\" DESC) WHERE d");
        assert_eq!(terms, ["a", "lower(b, ',')", "\"c\" DESC"]);
    }
}
