//! Verifying modes without a CA file trust the system's roots, as
//! `rustls-native-certs` finds them: here through `SSL_CERT_FILE`, set to
//! `ci/test`'s CA for one database and to another CA for a second. Its own
//! test binary, with one test, because it sets the process's environment
//! (before any other thread runs).
#![cfg(feature = "tls")]

mod common;

use common::{mysql_url, pg_url, server_url};
use dualdb::{Database, ErrorKind, TlsMode};

#[test]
fn verify_full_without_a_ca_file_trusts_the_system_roots() {
    let (Some(ca), Some(wrong)) = (
        server_url("DUALDB_TLS_CA"),
        server_url("DUALDB_TLS_WRONG_CA"),
    ) else {
        return;
    };
    let urls: Vec<String> = pg_url().into_iter().chain(mysql_url()).collect();
    // The roots are read when a database is built: build each under its
    // own SSL_CERT_FILE, before the runtime starts any thread.
    let build = |roots: &str| -> Vec<Database> {
        // SAFETY: this test binary runs this one test, on this thread, and
        // no other thread exists yet.
        unsafe { std::env::set_var("SSL_CERT_FILE", roots) };
        let dbs = urls
            .iter()
            .map(|url| {
                Database::builder(url)
                    .tls_mode(TlsMode::VerifyFull)
                    .connect_timeout(std::time::Duration::from_secs(5))
                    .build()
                    .unwrap()
            })
            .collect();
        unsafe { std::env::remove_var("SSL_CERT_FILE") };
        dbs
    };
    let trusted = build(&ca);
    let untrusted = build(&wrong);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for (db, other) in trusted.iter().zip(&untrusted) {
        assert_eq!(db.config().tls_ca_file(), None);
        let one: i64 = db
            .sync()
            .query_one("SELECT 1", &[])
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(one, 1, "{:?}", db.backend());
        let one: i64 = runtime
            .block_on(db.aio().query_one("SELECT 1", &[]))
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(one, 1, "{:?}", db.backend());
        let errors = [
            other.sync().connect().unwrap_err(),
            runtime.block_on(other.aio().connect()).unwrap_err(),
        ];
        for err in errors {
            assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
        }
    }
    // The blocking MySQL driver reads roots from a file: the one written
    // for each database goes with it.
    drop((trusted, untrusted));
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("dualdb-roots-"))
        .collect();
    assert!(left.is_empty(), "roots files left: {left:?}");
}
