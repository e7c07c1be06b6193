//! [`Select::limit_per`]: the first rows of each group ("each user's three
//! newest posts", "the best score of each team"), which SQL writes with a
//! window function in a derived table and peewee users write by hand:
//!
//! ```sql
//! post.id IN (SELECT dualdb_key FROM (
//!     SELECT post.id AS dualdb_key,
//!            ROW_NUMBER() OVER (PARTITION BY post.author ORDER BY post.created DESC) AS dualdb_rank
//!     FROM post … WHERE …
//! ) AS dualdb_ranked WHERE dualdb_rank <= ?)
//! ```
//!
//! A filter on the model's key, added to the query itself: the query keeps
//! its joins, filter, order, fields, `LIMIT` and `OFFSET` (the last two
//! page what the groups gave), and the derived table ranks the rows the
//! query's filter and joins find, in the query's order. One SQL text on
//! all three backends (window functions: PostgreSQL, MariaDB 10.2+ and
//! MySQL 8, SQLite 3.25+), the count bound. tests/queries/per_group.rs
//! runs it on every backend and half.

use sea_query::{Cond, ExprTrait, Query};

use super::Model;
use super::column::{Filter, Over, qualified};
use super::query::Select;
use super::selection::Selection;
use super::source::Names;
use super::window::Window;

/// The derived table's name and its two columns'.
const RANKED: &str = "dualdb_ranked";
const KEY: &str = "dualdb_key";
const RANK: &str = "dualdb_rank";

impl<M: Model> Select<M> {
    /// The first `n` rows of each group of rows sharing `by`'s values (a
    /// column, an expression, or a tuple of them, of any model the query
    /// reads), in the query's [`order_by`](Self::order_by) order: the rows
    /// the query finds, `n` at most per group. Ties in the order are broken
    /// as the server finds the rows; order by the key last for the same
    /// rows each time. The query's [`limit`](Self::limit) and
    /// [`offset`](Self::offset) then page what the groups gave.
    ///
    /// A model whose key has several columns, a query that groups or
    /// combines its rows (`group_by`, `union`), and a `by` naming a model
    /// the query does not read are a [`Usage`](crate::ErrorKind::Usage)
    /// error before any I/O.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(posts: db, s);
    /// // Each author's newest post:
    /// let newest = Post::select().order_by(Post::ID.desc()).limit_per(Post::AUTHOR, 1);
    /// let titles: Vec<String> = s.execute_query(newest).unwrap().into_iter().map(|p| p.title).collect();
    /// assert_eq!(titles, ["mine", "again"]);
    /// ```
    pub fn limit_per(self, by: impl Selection, n: u64) -> Select<M> {
        let filter = per_group(&self, by, n).unwrap_or_else(Filter::invalid);
        self.filter(filter)
    }
}

/// The filter keeping the first `n` rows of each group of `q`'s rows, or
/// why it cannot be written.
fn per_group<M: Model>(
    q: &Select<M>,
    by: impl Selection,
    n: u64,
) -> std::result::Result<Filter<M>, String> {
    let meta = M::META;
    if meta.composite_key() {
        return Err(format!(
            "limit_per: {}'s key has {} columns; the rows of each group are picked by a key of one column",
            meta.name,
            meta.key.len()
        ));
    }
    if q.groups_or_compounds() {
        return Err(
            "limit_per: the query groups or combines its rows (group_by, union, …); rank the rows of one query"
                .to_string(),
        );
    }
    let mut window = Window::<M>::new().partition_by(by);
    for o in q.orders() {
        window = window.order_by(o.clone());
    }
    let rank = window.row_number();
    let read = q.models_read();
    for named in rank.names.resolve(meta)? {
        if !read.iter().any(|r| r.is(&named)) {
            return Err(format!(
                "limit_per: the groups name {}, which the query does not read; join it first",
                named.name()
            ));
        }
    }
    let Over::Window(over) = rank.over else {
        return Err("limit_per: ROW_NUMBER() took no window".to_string());
    };
    let (table, key) = (meta.table, meta.pk().name);
    // `statement` writes no LIMIT or OFFSET: the ranking sees every row.
    let mut ranked = q.statement();
    ranked.clear_selects();
    ranked.clear_order_by();
    ranked.expr_as(qualified(table, key), KEY);
    ranked.expr_window_as(rank.expr, *over, RANK);
    let mut keys = Query::select();
    keys.column(KEY)
        .from_subquery(ranked, RANKED)
        .and_where(sea_query::Expr::col(RANK).lte(i64::try_from(n).unwrap_or(i64::MAX)));
    let kept = qualified(table, key).in_subquery(keys);
    Ok(Filter::naming(Cond::all().add(kept), Names::Nothing))
}
