use dualdb::Model;

#[derive(Model)]
struct Pair {
    #[model(primary_key)]
    a: i64,
    #[model(primary_key)]
    b: i64,
}

fn main() {}
