use dualdb::Model;

#[derive(Model)]
struct Post {
    #[model(primary_key, auto)]
    id: i64,
    #[model(references = Author)]
    author: i64,
}

fn main() {}
