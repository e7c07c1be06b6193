use dualdb::Model;

#[derive(Model)]
struct Counter {
    #[model(primary_key)]
    name: String,
    #[model(auto)]
    hits: i64,
}

fn main() {}
