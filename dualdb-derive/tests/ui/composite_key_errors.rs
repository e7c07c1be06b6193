use dualdb::Model;

// `auto` is for a key of one column.
#[derive(Model)]
struct Pair {
    #[model(primary_key, auto)]
    a: i64,
    #[model(primary_key)]
    b: i64,
}

// The key named on the struct and on a field.
#[derive(Model)]
#[model(primary_key(a, b))]
struct Twice {
    #[model(primary_key)]
    a: i64,
    b: i64,
}

// A field the struct does not have.
#[derive(Model)]
#[model(primary_key(a, c))]
struct Unknown {
    a: i64,
    b: i64,
}

fn main() {}
