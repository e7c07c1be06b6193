//! The axum example, started on loopback and driven over HTTP on every
//! backend: create by name, get by id (404 when missing), get-or-create in a
//! transaction, every row streamed as JSON lines; then a short load from a
//! second process (wrk) with no errors.

#[allow(dead_code)]
#[path = "../examples/axum_app.rs"]
mod axum_app;
mod common;

use std::time::Duration;

use dualdb::{Database, Model as _, SyncCheck};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One HTTP/1.1 request; the status code and the body.
async fn http(port: u16, method: &str, path: &str) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

async fn start(db: Database) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, axum_app::app(db)).await.unwrap() });
    port
}

fn wrk_on(port: u16) -> Option<String> {
    let out = std::process::Command::new("wrk")
        .args([
            "-t2",
            "-c16",
            "-d3s",
            &format!("http://127.0.0.1:{port}/?id=1"),
        ])
        .output();
    match out {
        Ok(o) => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
        Err(_) if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("wrk is not installed"),
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_example_serves_every_backend() {
    for db in common::isolated_all("axum") {
        axum_app::setup(&db).unwrap();
        db.set_allow_sync(SyncCheck::Error);
        let port = start(db.clone()).await;

        let (status, body) = http(port, "GET", "/?id=1").await;
        assert_eq!(status, 200, "{body}");
        let obj: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(obj["name"], "TestNameModel id=1");

        assert_eq!(http(port, "GET", "/?id=999999").await.0, 404);
        assert_eq!(http(port, "GET", "/").await.0, 400);

        let (status, body) = http(port, "POST", "/?name=fresh").await;
        assert_eq!(status, 200, "{body}");
        let created: serde_json::Value = serde_json::from_str(&body).unwrap();
        let id = created["id"].as_i64().unwrap();
        let (_, body) = http(port, "GET", &format!("/?id={id}")).await;
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["name"],
            "fresh"
        );
        // a second create with the same unique name is a conflict, not a 500
        assert_eq!(http(port, "POST", "/?name=fresh").await.0, 409);

        let (_, first) = http(port, "GET", "/create?name=made").await;
        let (_, again) = http(port, "GET", "/create?name=made").await;
        assert_eq!(first, again, "get-or-create returns the same row twice");

        // Every row, streamed as JSON lines (chunked).
        let (status, body) = http(port, "GET", "/all").await;
        assert_eq!(status, 200, "{body}");
        let names: Vec<String> = body
            .lines()
            // Between the chunks' size lines.
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| Some(v.get("name")?.as_str()?.to_string()))
            .collect();
        let stored = db
            .aio()
            .count(axum_app::TestNameModel::select(), false)
            .await
            .unwrap();
        assert_eq!(names.len() as i64, stored, "{:?}: {body}", db.backend());
        assert_eq!(names[0], "TestNameModel id=1");

        // A short load from a second process.
        if let Some(report) = tokio::task::spawn_blocking(move || wrk_on(port))
            .await
            .unwrap()
        {
            assert!(!report.contains("Non-2xx"), "{:?}: {report}", db.backend());
            assert!(
                !report.contains("Socket errors"),
                "{:?}: {report}",
                db.backend()
            );
            let rps = report
                .lines()
                .find(|l| l.starts_with("Requests/sec:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0);
            assert!(rps > 0.0, "{report}");
            eprintln!(
                "{:?}: wrk -c16 -d3s GET /?id=1: {rps:.0} requests/s, no errors",
                db.backend()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
