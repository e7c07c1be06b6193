//! The schema calls: `create_table`, `drop_table`, `truncate`,
//! `table_exists`.

use crate::model::Model;
use crate::model::schema;
use crate::model::sql::Dialect;
use crate::plan::{Action, One, Plan, Reply, either};

pub(super) fn create_table<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    let stmt = schema::create_table(d, M::META);
    either(stmt.map(|s| One::new(Action::Execute(s), |_: Reply| Ok(()))))
}

pub(super) fn drop_table<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    One::new(Action::Execute(schema::drop_table(d, M::META)), |_| Ok(()))
}

pub(super) fn truncate<M: Model>(d: Dialect) -> impl Plan<Output = ()> {
    One::new(Action::Execute(schema::truncate(d, M::META)), |_| Ok(()))
}

pub(super) fn table_exists<M: Model>(d: Dialect) -> impl Plan<Output = bool> {
    One::new(Action::Query(schema::table_exists(d, M::META)), |r| {
        Ok(!r.rows()?.is_empty())
    })
}
