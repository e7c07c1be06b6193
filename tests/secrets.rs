//! No fragment of a password in any error, `Debug` or log, for any URL:
//! passwords made of letters found nowhere else in the output and of the
//! characters URLs give meaning to (`@ : / % ? #`), written into every
//! place a URL can hold one, opened on both halves of both servers.

mod common;

use std::time::Duration;

use common::{Capture, Lcg};
use dualdb::{Database, ErrorKind};

/// The letters a password is made of: none of them appears in anything
/// dualdb or the drivers print here (upper case letters that no scheme,
/// user, host, type name or message word used has: not the Q of MySQL, nor
/// the Y of "YES"), so finding one means a piece leaked.
const SECRET_LETTERS: &[char] = &['Z', 'J', 'X'];
const URL_CHARS: &[char] = &['@', ':', '/', '%', '?', '#'];

fn password(rng: &mut Lcg) -> String {
    let len = 1 + rng.next() as usize % 14;
    let mut p: String = (0..len)
        .map(|_| {
            let n = rng.next() as usize;
            if n.is_multiple_of(3) {
                URL_CHARS[n / 3 % URL_CHARS.len()]
            } else {
                SECRET_LETTERS[n % SECRET_LETTERS.len()]
            }
        })
        .collect();
    // At least one letter, so that a leak can be seen.
    p.push(SECRET_LETTERS[rng.next() as usize % SECRET_LETTERS.len()]);
    p
}

fn leaks(text: &str) -> bool {
    text.contains(SECRET_LETTERS)
}

/// Every text an error shows: Display, Debug (both forms), and its sources'.
fn texts(err: &dualdb::Error) -> Vec<String> {
    let mut out = vec![err.to_string(), format!("{err:?}"), format!("{err:#?}")];
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push(s.to_string());
        out.push(format!("{s:?}"));
        source = s.source();
    }
    out
}

#[test]
fn no_fragment_of_any_password_is_shown() {
    let cap = Capture::default();
    let writer = cap.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _log = tracing::subscriber::set_default(subscriber);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Nothing listens there: a URL that is accepted fails to connect at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut rng = Lcg(0x5eed_5ec7e7);
    let (mut refused, mut connected) = (0, 0);
    for round in 0..300 {
        let pw = password(&mut rng);
        let scheme = ["postgres", "mysql", "postgresql", "mariadb"][round % 4];
        let url = match round / 4 % 4 {
            0 => format!("{scheme}://odd:{pw}@127.0.0.1:{port}/db"),
            1 => format!("{scheme}://odd:{pw}@127.0.0.1:{port}/db?connect_timeout=1"),
            2 => format!("{scheme}://odd@127.0.0.1:{port}/db?password={pw}"),
            _ => format!("{scheme}://odd:{pw}@127.0.0.1:{port},127.0.0.1:{port}/db"),
        };
        let mut shown = Vec::new();
        match Database::builder(&url)
            .connect_timeout(Duration::from_millis(500))
            .replica(&url)
            .build()
        {
            Err(err) => {
                assert_eq!(err.kind(), ErrorKind::Config, "{err}");
                refused += 1;
                shown.extend(texts(&err));
            }
            Ok(db) => {
                connected += 1;
                shown.push(format!("{db:?}"));
                shown.push(format!("{:?}", db.config()));
                shown.push(db.config().redacted_url());
                for err in [
                    db.sync().connect().unwrap_err(),
                    rt.block_on(db.aio().connect()).unwrap_err(),
                    db.sync().query("SELECT 1", &[]).unwrap_err(),
                ] {
                    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
                    shown.extend(texts(&err));
                }
            }
        }
        for text in shown {
            assert!(!leaks(&text), "round {round}: a piece of {pw:?} in {text}");
        }
    }
    assert!(
        refused > 50 && connected > 50,
        "{refused} refused, {connected} tried"
    );
    let logs = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
    assert!(!leaks(&logs), "a password piece in the logs: {logs}");
}

/// The case found from outside: the password `p@ss:w/rd%41x`, unencoded.
#[test]
fn an_unencoded_password_is_a_config_error_that_shows_none_of_it() {
    for scheme in ["postgres", "mysql"] {
        let url = format!("{scheme}://odd:p@ss:w/rd%41x@127.0.0.1:5432/db");
        let err = Database::open(&url).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        let shown = format!("{err} {err:?}");
        for piece in ["p@ss", "ss:w", "w/rd", "rd%41x", "%41"] {
            assert!(!shown.contains(piece), "{piece} in {shown}");
        }
        assert!(shown.contains("odd:***@"), "{shown}");
        assert!(shown.contains("percent-encode"), "{shown}");
        // Encoded, the same password is accepted, and still not shown.
        let encoded = format!("{scheme}://odd:p%40ss%3Aw%2Frd%2541x@127.0.0.1:5432/db");
        let db = Database::open(&encoded).unwrap();
        assert!(!format!("{db:?}").contains("p%40ss"), "{db:?}");
    }
}
