//! `RETURNING` on updates and deletes: [`UpdateQuery::returning`] and
//! [`DeleteQuery::returning`] give the rows as they were left (updated) or
//! removed (deleted). Inserts return theirs already
//! ([`InsertMany`](super::InsertMany)).
//!
//! PostgreSQL and SQLite (3.35+) write `RETURNING`. MySQL has none for an
//! update (MariaDB has one for a delete, MySQL not), so there the rows are
//! read `FOR UPDATE` by the filter first, then changed by their keys and,
//! for an update, read again, all in one transaction: the same rows, as no
//! other transaction can change them in between (tests/returning.rs runs
//! both on every backend).

use sea_query::{Condition, UpdateStatement};

use super::Model;
use super::query::{DeleteQuery, UpdateQuery};
use crate::error::Result;

/// An update or delete that returns the rows it changed: made by
/// [`UpdateQuery::returning`] and [`DeleteQuery::returning`], run by
/// `execute_query`, which returns `Vec<M>`, in no set order.
#[derive(Debug)]
pub struct Returning<Q> {
    pub(crate) query: Q,
}

/// What a [`Returning`] changes, built.
pub(crate) enum Change {
    /// `UPDATE` with its `SET`s and no `WHERE` (boxed: the plan moves).
    Update(Box<UpdateStatement>),
    Delete,
}

impl<M: Model> UpdateQuery<M> {
    /// The updated rows as they were left (peewee's `.returning(…)`).
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let q = Book::update_query().set_expr(Book::PAGES, Book::PAGES + 10).filter(Book::YEAR.is_null());
    /// let changed = s.execute_query(q.returning()).unwrap();
    /// assert_eq!((changed[0].title.as_str(), changed[0].pages), ("Notes", 100));
    /// ```
    pub fn returning(self) -> Returning<UpdateQuery<M>> {
        Returning { query: self }
    }
}

impl<M: Model> DeleteQuery<M> {
    /// The deleted rows as they were.
    ///
    /// ```
    /// # dualdb::__doc_fixtures!(books: db, s);
    /// let gone = s.execute_query(Book::delete_query().filter(Book::PAGES.gt(400)).returning()).unwrap();
    /// assert_eq!(gone.len(), 2);
    /// assert_eq!(s.count(Book::select(), false).unwrap(), 1);
    /// ```
    pub fn returning(self) -> Returning<DeleteQuery<M>> {
        Returning { query: self }
    }
}

impl<M: Model> Returning<UpdateQuery<M>> {
    pub(crate) fn parts(self) -> Result<(Change, Option<Condition>)> {
        let (update, filter) = self.query.parts()?;
        Ok((Change::Update(Box::new(update)), filter))
    }
}

impl<M: Model> Returning<DeleteQuery<M>> {
    pub(crate) fn parts(self) -> Result<(Change, Option<Condition>)> {
        Ok((Change::Delete, self.query.condition()?))
    }
}
