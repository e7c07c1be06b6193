use dualdb::Model;

#[derive(Model)]
struct Settings {
    #[model(primary_key)]
    id: i64,
    values: std::collections::BTreeMap<String, i64>,
}

fn main() {}
