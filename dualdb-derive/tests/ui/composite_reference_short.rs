use dualdb::Model;

#[derive(Model)]
#[model(primary_key(order_id, line))]
struct OrderLine {
    order_id: i64,
    line: i32,
}

// One field cannot reference a key of two columns.
#[derive(Model)]
struct Shipment {
    id: i64,
    #[model(references = OrderLine)]
    order_id: i64,
}

fn main() {}
