// trybuild compiles this file in target/tests/trybuild/dualdb-derive, which is the
// crate root `migrate!` resolves folders from: four levels up is the workspace root.

// A gap: versions 1 and 3.
static GAP: dualdb::migrate::Migrator =
    dualdb::migrate!("../../../../dualdb-derive/tests/ui/migrations_gap");

// Two names for version 1.
static DUPLICATE: dualdb::migrate::Migrator =
    dualdb::migrate!("../../../../dualdb-derive/tests/ui/migrations_duplicate");

fn main() {}
