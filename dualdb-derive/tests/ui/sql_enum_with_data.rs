use dualdb::SqlEnum;

#[derive(SqlEnum)]
enum Shape {
    Dot,
    Circle(f64),
}

fn main() {}
