//! [`InsertFrom`]: rows a query selects inserted into a model's table in
//! one statement, `INSERT INTO … SELECT …` (peewee's `Model.insert_from`).

use std::marker::PhantomData;

use super::Model;
use super::alter::push_quoted;
use super::column::ColumnOf;
use super::query::{Reads, Select};
use super::selection::{Selected, Selection};
use super::source::Source;
use super::sql::Dialect;
use crate::error::{Error, ErrorKind, Result};
use crate::statement::Stmt;

/// An `INSERT INTO m (columns) SELECT fields FROM …` of the rows a query
/// selects: made by [`Model::insert_from`]; `execute_query` returns the rows
/// inserted. The server copies the rows: none comes to the client.
///
/// The fields are what [`select_fields`](Select::select_fields) takes (a
/// column, an expression or an aggregate of any model the query reads, a
/// bound [`Value`](crate::Value) for a constant, or a tuple of them), one
/// for each column, in order; the database checks their types against the
/// columns'. The query keeps its filter, joins,
/// grouping, order and limit.
///
/// ```
/// # dualdb::__doc_fixtures!(posts: db, s);
/// use dualdb::model::ColumnOf;
/// // A copy of each of bob's posts under a new title.
/// let into: [&dyn ColumnOf<Post>; 2] = [&Post::AUTHOR, &Post::TITLE];
/// let bobs = Post::select().join::<User>().filter(User::NAME.eq("bob"));
/// let q = Post::insert_from(&into, bobs, (Post::AUTHOR, Post::TITLE.concat(" (copy)")));
/// assert_eq!(s.execute_query(q).unwrap(), 1);
/// assert_eq!(s.get(Post::TITLE.eq("mine (copy)")).unwrap().author, 2);
/// ```
pub struct InsertFrom<M, X> {
    columns: Vec<&'static str>,
    query: Select<X>,
    fields: Vec<Selected>,
    _model: PhantomData<fn() -> M>,
}

impl<M, X> std::fmt::Debug for InsertFrom<M, X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InsertFrom")
            .field("columns", &self.columns)
            .field("query", &self.query)
            .finish()
    }
}

impl<M: Model, X: Model> InsertFrom<M, X> {
    pub(crate) fn new(
        columns: &[&dyn ColumnOf<M>],
        query: Select<X>,
        fields: impl Selection,
    ) -> Self {
        let mut selected = Vec::new();
        fields.exprs(&mut selected);
        InsertFrom {
            columns: columns.iter().map(|c| c.name()).collect(),
            query,
            fields: selected,
            _model: PhantomData,
        }
    }

    /// The statement: the query's own, reading the fields, after the
    /// `INSERT INTO` of the columns. No column, a count of fields that is
    /// not the columns', a column named twice or a field of a model the
    /// query does not read is a [`Usage`](ErrorKind::Usage) error before any
    /// I/O.
    pub(crate) fn build(&self, d: Dialect) -> Result<Stmt> {
        let usage = |why: String| Err(Error::new(ErrorKind::Usage, why));
        let name = M::META.name;
        if self.columns.is_empty() {
            return usage(format!("insert_from: no column to insert into ({name})"));
        }
        if self.columns.len() != self.fields.len() {
            return usage(format!(
                "insert_from: {} column(s) of {name} and {} field(s) to fill them",
                self.columns.len(),
                self.fields.len()
            ));
        }
        for (i, c) in self.columns.iter().enumerate() {
            if let Some(first) = self.columns[..i].iter().position(|d| d == c) {
                return usage(format!(
                    "insert_from: column {name}.{c} given twice (columns {} and {})",
                    first + 1,
                    i + 1
                ));
            }
        }
        let mut models: Vec<Source> = Vec::new();
        for field in &self.fields {
            let named =
                (field.names.as_ref()).map_err(|why| Error::new(ErrorKind::Usage, why.clone()))?;
            models.extend(named.iter().copied());
        }
        self.query.check(&models)?;
        let select = self.query.build_of(d, Reads::Exprs(&self.fields));
        let mut sql = String::with_capacity(select.sql.len() + 64);
        sql.push_str("INSERT INTO ");
        push_quoted(&mut sql, d.kind, M::META.table);
        sql.push_str(" (");
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            push_quoted(&mut sql, d.kind, c);
        }
        sql.push_str(") ");
        sql.push_str(&select.sql);
        Ok(Stmt::with(sql, select.params))
    }
}
