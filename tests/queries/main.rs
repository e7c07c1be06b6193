//! The query language's reports, one test binary (each file its own idea,
//! one link for all): window functions (`windows`), the first rows of each
//! group (`per_group`), tree walks (`trees`), aggregates of some rows or of
//! expressions (`aggregates`), rows updated each to its own values
//! (`bulk_update`) and rows a query selects inserted by the server
//! (`insert_from`).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod aggregates;
mod bulk_update;
mod insert_from;
mod per_group;
mod trees;
mod windows;
