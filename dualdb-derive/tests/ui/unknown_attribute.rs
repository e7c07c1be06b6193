use dualdb::Model;

#[derive(Model)]
struct User {
    #[model(primary_key, autoincrement)]
    id: i64,
    name: String,
}

fn main() {}
