//! peewee-async's Tornado example as an axum service on dualdb.
//!
//! - `POST /?name=…` creates a row and returns it as JSON;
//! - `GET /?id=…` returns one, or 404;
//! - `GET /create?name=…` gets or creates one inside a transaction;
//! - `GET /all` streams every row as a line of JSON, read from the database
//!   as the response is written.
//!
//! The table and seed rows are made the blocking way before the server
//! starts; then blocking calls are refused (`SyncCheck::Error`).
//!
//!     cargo run --example axum_app            # SQLite, http://127.0.0.1:8888
//!     DATABASE_URL=postgres://… PORT=9000 cargo run --example axum_app

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dualdb::{Database, ErrorKind, Model, SyncCheck};
use serde::{Deserialize, Serialize};

#[derive(Model, Debug, Clone, Serialize)]
#[model(table = "test_name_model")]
pub struct TestNameModel {
    #[model(primary_key, auto)]
    pub id: i64,
    #[model(unique, max_length = 100)]
    pub name: String,
}

/// An error as an HTTP response: 404 for not found, 400 for bad input, 500
/// otherwise (without the database's message).
pub struct AppError(dualdb::Error);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match self.0.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::UniqueViolation | ErrorKind::IntegrityViolation => StatusCode::CONFLICT,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, status.canonical_reason().unwrap_or("error")).into_response()
    }
}

impl From<dualdb::Error> for AppError {
    fn from(e: dualdb::Error) -> Self {
        AppError(e)
    }
}

#[derive(Deserialize)]
pub struct ByName {
    name: String,
}

#[derive(Deserialize)]
pub struct ById {
    id: Option<i64>,
}

async fn create(
    State(db): State<Database>,
    Query(q): Query<ByName>,
) -> Result<Json<TestNameModel>, AppError> {
    let obj = db
        .aio()
        .create(TestNameModel {
            id: 0,
            name: q.name,
        })
        .await?;
    Ok(Json(obj))
}

async fn get_by_id(
    State(db): State<Database>,
    Query(q): Query<ById>,
) -> Result<Response, AppError> {
    let Some(id) = q.id else {
        return Ok((
            StatusCode::BAD_REQUEST,
            "Please provide the 'id' query argument, i.e. ?id=1",
        )
            .into_response());
    };
    let obj = db.aio().get(TestNameModel::by_id(id)).await?;
    Ok(Json(obj).into_response())
}

async fn get_or_create(
    State(db): State<Database>,
    Query(q): Query<ByName>,
) -> Result<Json<TestNameModel>, AppError> {
    let (obj, _created) = db
        .aio()
        .atomic(async |tx| {
            let name = q.name.clone();
            tx.get_or_create(TestNameModel::NAME.eq(q.name.as_str()), move || {
                TestNameModel { id: 0, name }
            })
            .await
        })
        .await?;
    Ok(Json(obj))
}

/// Every row, one JSON line each, streamed: the rows are read as the client
/// takes the body, never all in memory.
async fn all(State(db): State<Database>) -> Response {
    use futures::TryStreamExt;
    let lines = db
        .aio()
        .fetch(TestNameModel::select().order_by(TestNameModel::ID.asc()))
        .map_ok(|m| {
            let mut line = serde_json::to_vec(&m).unwrap_or_default();
            line.push(b'\n');
            axum::body::Bytes::from(line)
        });
    axum::body::Body::from_stream(lines).into_response()
}

/// The service's routes on a database.
pub fn app(db: Database) -> Router {
    Router::new()
        .route("/", get(get_by_id).post(create))
        .route("/create", get(get_or_create))
        .route("/all", get(all))
        .with_state(db)
}

/// The blocking setup: the table and three seed rows.
pub fn setup(db: &Database) -> dualdb::Result<()> {
    db.sync().create_table::<TestNameModel>()?;
    for i in 1..=3 {
        let name = format!("TestNameModel id={i}");
        db.sync()
            .get_or_create(TestNameModel::NAME.eq(name.as_str()), move || {
                TestNameModel { id: 0, name }
            })?;
    }
    db.sync().close()
}

#[allow(dead_code)] // the tests include this file for `app` and `setup`
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let port = std::env::var("PORT").unwrap_or_else(|_| "8888".into());
    let db = Database::open(&url)?;
    setup(&db)?;
    db.set_allow_sync(SyncCheck::Error);
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "Run application server http://127.0.0.1:{port}\n  GET /?id=1\n  GET /create?name=new\n  POST /?name=x"
    );
    axum::serve(listener, app(db)).await?;
    Ok(())
}
