//! TLS with certificate verification (feature `tls`): both halves connect to
//! PostgreSQL and MariaDB over TLS with a CA made by `ci/test`, the server
//! reports the session encrypted, and a CA that did not sign the server's
//! certificate is refused with a clear `Connect` error.
#![cfg(feature = "tls")]

mod common;

use common::{mysql_url, pg_url, server_url};
use dualdb::{BackendKind, Database, ErrorKind};

async fn encrypted(db: &Database) -> (bool, bool) {
    let (sql, check): (&str, fn(&dualdb::Row) -> bool) = match db.backend() {
        BackendKind::Postgres => (
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            |r| r.get::<bool>(0).unwrap(),
        ),
        _ => ("SHOW SESSION STATUS LIKE 'Ssl_version'", |r| {
            !r.get::<String>(1).unwrap().is_empty()
        }),
    };
    let blocking = check(&db.sync().query_one(sql, &[]).unwrap());
    let aio = check(&db.aio().query_one(sql, &[]).await.unwrap());
    (blocking, aio)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_verified_against_the_ca_and_refused_with_another() {
    let (Some(ca), Some(wrong)) = (
        server_url("DUALDB_TLS_CA"),
        server_url("DUALDB_TLS_WRONG_CA"),
    ) else {
        return;
    };
    for url in pg_url().into_iter().chain(mysql_url()) {
        // Plain connections stay plain.
        let plain = Database::open(&url).unwrap();
        assert_eq!(encrypted(&plain).await, (false, false), "{url}");

        let db = Database::builder(&url).tls_ca_file(&ca).build().unwrap();
        assert_eq!(encrypted(&db).await, (true, true), "{:?}", db.backend());

        let refused = Database::builder(&url)
            .tls_ca_file(&wrong)
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap();
        let errors = [
            refused.sync().connect().unwrap_err(),
            refused.aio().connect().await.unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
            let text = format!("{err} {:?}", std::error::Error::source(&err));
            assert!(
                text.to_lowercase().contains("certificate") || text.contains("UnknownIssuer"),
                "not a clear certificate error: {text}"
            );
        }
    }
    // An unreadable CA file is a Config error before any I/O.
    let err = Database::builder(&pg_url().unwrap_or_else(|| "postgres://u@127.0.0.1/db".into()))
        .tls_ca_file("/nonexistent/ca.pem")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}
