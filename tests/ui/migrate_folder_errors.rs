// trybuild compiles this file in target/tests/trybuild/dualdb, which is the
// crate root `migrate!` resolves folders from: the folders are beside it.

// A gap: versions 1 and 3.
static GAP: dualdb::migrate::Migrator = dualdb::migrate!("../../../../tests/ui/migrations_gap");

// Two names for version 1.
static DUPLICATE: dualdb::migrate::Migrator =
    dualdb::migrate!("../../../../tests/ui/migrations_duplicate");

fn main() {}
