//! The query language's reports, one test binary (each file its own idea,
//! one link for the four): window functions (`windows`), the first rows of
//! each group (`per_group`), tree walks (`trees`) and aggregates of some
//! rows or of expressions (`aggregates`).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod aggregates;
mod per_group;
mod trees;
mod windows;
