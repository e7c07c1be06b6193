use dualdb::FromRow;

#[derive(FromRow)]
struct Unknown {
    #[row(skip)]
    a: i64,
}

#[derive(FromRow)]
struct Both {
    #[row(flatten, default)]
    b: Unknown,
}

#[derive(FromRow)]
struct Positional(#[row(default)] i64);

fn main() {}
