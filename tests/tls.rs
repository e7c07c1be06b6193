//! TLS as users configure it (feature `tls`), on PostgreSQL and MariaDB,
//! both halves, against the servers `ci/test` starts with a certificate from
//! its own CA naming `localhost` and `127.0.0.1` (not `127.0.0.2`, the
//! servers' other address):
//! - each mode from the URL (`sslmode`, `ssl-mode`) and the builder: plain,
//!   encrypted, or refused, as libpq and MySQL define them;
//! - verify-full refuses a host name the certificate does not carry, where
//!   verify-ca accepts it; another CA's certificate is refused; the system's
//!   roots (which lack the test CA) refuse the server;
//! - a client certificate signs in a user the servers admit by certificate
//!   only, and that user without one is refused;
//! - `prefer` falls back to plain text against servers without TLS;
//! - bad settings are `Config` errors before any I/O.
#![cfg(feature = "tls")]

mod common;

use common::{mysql_url, pg_url, server_url};
use dualdb::{BackendKind, Database, Error, ErrorKind, TlsMode};

/// Whether the session is encrypted, asked on both halves, outside and
/// inside a transaction: `(blocking, async)`.
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
    let in_tx = db
        .sync()
        .transaction(|tx| Ok::<_, Error>(check(&tx.query_one(sql, &[])?)))
        .unwrap();
    assert_eq!(blocking, in_tx, "blocking, in a transaction");
    let aio = check(&db.aio().query_one(sql, &[]).await.unwrap());
    let in_tx = db
        .aio()
        .transaction(async |tx| Ok::<_, Error>(check(&tx.query_one(sql, &[]).await?)))
        .await
        .unwrap();
    assert_eq!(aio, in_tx, "async, in a transaction");
    (blocking, aio)
}

/// Both halves' connect errors for `db`, each checked to be `Connect` and
/// to say, in its text or source, one of `words`.
async fn refused(db: &Database, words: &[&str]) {
    let errors = [
        db.sync().connect().unwrap_err(),
        db.aio().connect().await.unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
        let text = format!("{err} {:?}", std::error::Error::source(&err)).to_lowercase();
        assert!(
            words.iter().any(|w| text.contains(&w.to_lowercase())),
            "not a clear error (wanted one of {words:?}): {text}"
        );
    }
}

/// `url` with `query` appended as its parameters.
fn with(url: &str, query: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

/// `url` pointing at `host` instead of 127.0.0.1.
fn at(url: &str, host: &str) -> String {
    url.replacen("@127.0.0.1:", &format!("@{host}:"), 1)
}

/// The URL's spelling of the mode and CA parameters.
fn names(url: &str) -> (&'static str, &'static str) {
    match url.starts_with("postgres") {
        true => ("sslmode", "sslrootcert"),
        false => ("ssl-mode", "ssl-ca"),
    }
}

fn open(url: &str) -> Database {
    Database::builder(url)
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
}

const NOT_TRUSTED: &[&str] = &["certificate", "UnknownIssuer"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_mode_from_the_url_and_the_builder() {
    let (Some(ca), Some(wrong), Some(other)) = (
        server_url("DUALDB_TLS_CA"),
        server_url("DUALDB_TLS_WRONG_CA"),
        server_url("DUALDB_TLS_OTHER_HOST"),
    ) else {
        return;
    };
    for url in pg_url().into_iter().chain(mysql_url()) {
        let (mode, root) = names(&url);
        let pg_my = |pg: &'static str, my: &'static str| -> &'static str {
            if url.starts_with("postgres") { pg } else { my }
        };
        // No setting: plain text, as before.
        assert_eq!(encrypted(&open(&url)).await, (false, false), "{url}");
        let disable = with(&url, &format!("{mode}={}", pg_my("disable", "DISABLED")));
        assert_eq!(
            encrypted(&open(&disable)).await,
            (false, false),
            "{disable}"
        );
        // Prefer and require encrypt without verifying: the test CA is in
        // no trusted store here.
        for m in [pg_my("prefer", "PREFERRED"), pg_my("require", "REQUIRED")] {
            let db = open(&with(&url, &format!("{mode}={m}")));
            assert_eq!(encrypted(&db).await, (true, true), "{m}");
        }
        // verify-ca checks the chain only: the other address is accepted.
        let verify_ca = format!("{mode}={}&{root}={ca}", pg_my("verify-ca", "VERIFY_CA"));
        let db = open(&with(&at(&url, &other), &verify_ca));
        assert_eq!(db.config().tls_mode(), TlsMode::VerifyCa);
        assert_eq!(encrypted(&db).await, (true, true), "verify-ca at {other}");
        // verify-full checks the name too.
        let full = format!(
            "{mode}={}&{root}={ca}",
            pg_my("verify-full", "VERIFY_IDENTITY")
        );
        assert_eq!(encrypted(&open(&with(&url, &full))).await, (true, true));
        let db = open(&with(&at(&url, &other), &full));
        refused(&db, &["name", "NotValidForName"]).await;
        // Require with a CA file verifies the chain (libpq's rule), so
        // another CA's certificate is refused; so is verify-ca's.
        for m in [
            pg_my("require", "REQUIRED"),
            pg_my("verify-ca", "VERIFY_CA"),
        ] {
            let db = open(&with(&url, &format!("{mode}={m}&{root}={wrong}")));
            refused(&db, NOT_TRUSTED).await;
        }
        // Without a CA file, verifying modes use the system's roots, which
        // do not hold the test CA.
        let db = open(&with(
            &url,
            &format!("{mode}={}", pg_my("verify-full", "VERIFY_IDENTITY")),
        ));
        assert_eq!(db.config().tls_ca_file(), None);
        refused(&db, NOT_TRUSTED).await;

        // The builder wins over the URL.
        let db = Database::builder(&disable)
            .tls_mode(TlsMode::VerifyFull)
            .tls_ca_file(&ca)
            .build()
            .unwrap();
        assert_eq!(encrypted(&db).await, (true, true), "builder over URL");
        let db = Database::builder(&with(&url, &full))
            .tls_mode(TlsMode::Disable)
            .build()
            .unwrap();
        assert_eq!(encrypted(&db).await, (false, false), "builder disables");
        // A CA file alone means verify-full.
        let db = Database::builder(&url).tls_ca_file(&ca).build().unwrap();
        assert_eq!(db.config().tls_mode(), TlsMode::VerifyFull);
        assert_eq!(encrypted(&db).await, (true, true), "{:?}", db.backend());
        let db = Database::builder(&at(&url, &other))
            .tls_ca_file(&ca)
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap();
        refused(&db, &["name", "NotValidForName"]).await;
        let db = Database::builder(&url)
            .tls_ca_file(&wrong)
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap();
        refused(&db, NOT_TRUSTED).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_signs_in_the_user_it_names() {
    let (Some(ca), Some(cert), Some(key)) = (
        server_url("DUALDB_TLS_CA"),
        server_url("DUALDB_TLS_CLIENT_CERT"),
        server_url("DUALDB_TLS_CLIENT_KEY"),
    ) else {
        return;
    };
    for url in pg_url().into_iter().chain(mysql_url()) {
        // The same server and database, as the user admitted by its
        // certificate only (no password).
        let rest = url.split_once('@').unwrap().1;
        let scheme = url.split_once("://").unwrap().0;
        let cert_url = format!("{scheme}://dualdb_cert@{rest}");
        let who = match url.starts_with("postgres") {
            true => "SELECT current_user::text",
            false => "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)",
        };

        let db = Database::builder(&cert_url)
            .tls_ca_file(&ca)
            .tls_client_cert(&cert, &key)
            .build()
            .unwrap();
        let user: String = db.sync().query_one(who, &[]).unwrap().get(0).unwrap();
        assert_eq!(user, "dualdb_cert");
        let user: String = db.aio().query_one(who, &[]).await.unwrap().get(0).unwrap();
        assert_eq!(user, "dualdb_cert");
        assert_eq!(encrypted(&db).await, (true, true));

        // The URL's spelling of the same.
        let (mode, root) = names(&url);
        let (cert_key, key_key) = match url.starts_with("postgres") {
            true => ("sslcert", "sslkey"),
            false => ("ssl-cert", "ssl-key"),
        };
        let from_url = with(
            &cert_url,
            &format!("{mode}=require&{root}={ca}&{cert_key}={cert}&{key_key}={key}"),
        );
        let user: String = open(&from_url)
            .aio()
            .query_one(who, &[])
            .await
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(user, "dualdb_cert");

        // Without the certificate the user is refused.
        let db = Database::builder(&cert_url)
            .tls_ca_file(&ca)
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .unwrap();
        for err in [
            db.sync().connect().unwrap_err(),
            db.aio().connect().await.unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefer_falls_back_to_plain_text_where_the_server_has_no_tls() {
    // Servers started without TLS: the replication standby (the primary
    // may be stopped by the failover test) and a Galera node that is up
    // (the Galera test kills one).
    let plain = server_url("DUALDB_PG_STANDBY_URL")
        .into_iter()
        .chain(server_url("DUALDB_GALERA_URL").and_then(|url| live_node(&url)));
    for url in plain {
        let (mode, _) = names(&url);
        let prefer = match url.starts_with("postgres") {
            true => "prefer",
            false => "PREFERRED",
        };
        let db = open(&with(&url, &format!("{mode}={prefer}")));
        assert_eq!(
            encrypted(&db).await,
            (false, false),
            "{}",
            db.config().redacted_url()
        );
        // Require does not fall back.
        let required = match url.starts_with("postgres") {
            true => "require",
            false => "REQUIRED",
        };
        let db = open(&with(&url, &format!("{mode}={required}")));
        refused(&db, &["TLS", "SSL"]).await;
    }
}

/// One node of a multi-host MySQL URL that accepts connections, as a URL
/// of its own.
fn live_node(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let (user, rest) = rest.split_once('@')?;
    let (hosts, path) = rest.split_once('/')?;
    hosts
        .split(',')
        .map(|host| format!("{scheme}://{user}@{host}/{path}"))
        .find(|node| open(node).sync().connect().is_ok())
}

#[test]
fn bad_settings_are_config_errors_before_any_io() {
    let pg = "postgres://u:hunter2@127.0.0.1:1/db";
    let my = "mysql://u:hunter2@127.0.0.1:1/db";
    let cases = [
        format!("{pg}?sslmode=allow"),
        format!("{pg}?sslmode=verify_everything"),
        format!("{pg}?sslcert=/tmp/c.pem"),
        format!("{my}?ssl-key=/tmp/k.pem"),
        format!("{my}?ssl-mode=VERIFY_CA&ssl-ca=/nonexistent/ca.pem"),
        format!("{pg}?sslmode=require&sslcert=/nonexistent/c.pem&sslkey=/nonexistent/k.pem"),
    ];
    for url in &cases {
        let err = Database::open(url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{url}: {err}");
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }
    let err = Database::builder(pg)
        .tls_ca_file("/nonexistent/ca.pem")
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    // A key file that holds no key: named, and nothing of it shown.
    let dir = std::env::temp_dir().join(format!("dualdb-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
    std::fs::write(&key, "not a key: s3cr3t-material").unwrap();
    if let Some(real) = server_url("DUALDB_TLS_CLIENT_CERT") {
        std::fs::copy(real, &cert).unwrap();
        for url in [pg, my] {
            let err = Database::builder(url)
                .tls_client_cert(&cert, &key)
                .build()
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            let text = format!("{err} {err:?}");
            assert!(text.contains("k.pem") && !text.contains("s3cr3t"), "{text}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn each_url_keeps_its_own_settings_and_the_config_shows_them() {
    let db =
        Database::builder("postgres://u:hunter2@127.0.0.1:1/db?sslmode=prefer&application_name=x")
            .replica("postgres://u:hunter2@127.0.0.1:2/db?sslmode=require")
            .build()
            .unwrap();
    assert_eq!(db.config().tls_mode(), TlsMode::Prefer);
    assert_eq!(db.replica().unwrap().config().tls_mode(), TlsMode::Require);
    // The driver gets the URL without them; the other parameters stay.
    let url = db.config().redacted_url();
    assert!(url.ends_with("/db?application_name=x"), "{url}");
    let shown = format!("{:?}", db.config());
    assert!(
        shown.contains("Prefer") && !shown.contains("hunter2"),
        "{shown}"
    );
    // SQLite has no TLS: its URL is left alone.
    let db = Database::builder("sqlite::memory:")
        .tls_mode(TlsMode::Require)
        .build()
        .unwrap();
    assert_eq!(db.config().tls_mode(), TlsMode::Disable);
}
