use dualdb::Model;

#[derive(Model)]
struct Log {
    line: String,
}

fn main() {}
