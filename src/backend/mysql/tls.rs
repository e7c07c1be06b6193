//! TLS for the MySQL drivers (feature `tls`): each takes options, not a
//! rustls config, so [`TlsMode`]s become their options here, for both
//! halves alike. The files are checked by building the rustls config once
//! (`tls::verify`), so that a bad path is a `Config` error before any I/O.

use std::path::{Path, PathBuf};

use rustls_pki_types::CertificateDer;

use crate::config::TlsMode;
use crate::error::{Error, Result};
use crate::tls::TlsSettings;
use crate::tls::verify::{client_config, system_roots};

/// The two drivers' TLS options for one database's settings.
pub(super) struct MyTls {
    pub(super) sync: mysql::SslOpts,
    pub(super) aio: mysql_async::SslOpts,
    pub(super) mode: TlsMode,
    /// The system's roots as a file, for the blocking driver; removed with
    /// the backend.
    _roots_file: Option<RootsFile>,
}

impl MyTls {
    /// `None` for `Disable`.
    pub(super) fn new(settings: &TlsSettings) -> Result<Option<MyTls>> {
        let mode = settings.mode();
        if mode == TlsMode::Disable {
            return Ok(None);
        }
        client_config(settings)?;
        let mut sync = mysql::SslOpts::default();
        let mut aio = mysql_async::SslOpts::default();
        let mut roots_file = None;
        let verifies = matches!(mode, TlsMode::VerifyCa | TlsMode::VerifyFull);
        match (&settings.ca_file, verifies) {
            (Some(ca), _) => {
                sync = sync.with_root_cert_path(Some(ca.clone()));
                aio = aio
                    .with_root_certs(vec![ca.clone().into()])
                    .with_disable_built_in_roots(true);
            }
            (None, true) => {
                let roots = system_roots().certs;
                let file = RootsFile::new(&roots)?;
                sync = sync.with_root_cert_path(Some(file.path().to_owned()));
                aio = aio
                    .with_root_certs(roots.into_iter().map(|c| c.to_vec().into()).collect())
                    .with_disable_built_in_roots(true);
                roots_file = Some(file);
            }
            // Nothing is verified: the driver's own roots, which it needs
            // to build its verifier at all, serve no check.
            (None, false) => {}
        }
        if !verifies {
            sync = sync.with_danger_accept_invalid_certs(true);
            aio = aio.with_danger_accept_invalid_certs(true);
        }
        if mode != TlsMode::VerifyFull {
            sync = sync.with_danger_skip_domain_validation(true);
            aio = aio.with_danger_skip_domain_validation(true);
        }
        if let Some((cert, key)) = &settings.client_cert {
            sync = sync
                .with_client_identity(Some(mysql::ClientIdentity::new(cert.clone(), key.clone())));
            aio = aio.with_client_identity(Some(mysql_async::ClientIdentity::new(
                cert.clone().into(),
                key.clone().into(),
            )));
        }
        Ok(Some(MyTls {
            sync,
            aio,
            mode,
            _roots_file: roots_file,
        }))
    }
}

/// A name the server's certificate carries, from the async driver's error
/// of a certificate that chained to a trusted root but named another host.
///
/// `VerifyCa` on the async half: `mysql_async` (0.37.1) should skip the
/// name check, but it matches the name error by its text, which rustls no
/// longer renders that way (blackbeam/mysql_async#404, fixed upstream after
/// 0.37.1). So the async half connects again with the name set to one the
/// certificate carries: the driver then verifies the whole chain again,
/// and the name, which is `VerifyCa`'s check exactly. rustls reports a name
/// error only once the chain verified (tests/tls.rs: verify-ca at an
/// address the certificate does not name).
pub(super) fn name_in_certificate(err: &mysql_async::Error) -> Option<String> {
    use rustls::CertificateError::NotValidForNameContext;
    let mut at: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = at {
        let tls = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
            None => e.downcast_ref::<rustls::Error>(),
        };
        if let Some(rustls::Error::InvalidCertificate(NotValidForNameContext {
            presented, ..
        })) = tls
        {
            // webpki writes `DnsName("db.example")` and `IpAddress(10.0.0.1)`;
            // a wildcard stands for any one label.
            return presented.iter().find_map(|name| {
                let inner = name.split_once('(')?.1.strip_suffix(')')?;
                let inner = inner.trim_matches('"');
                Some(match inner.strip_prefix("*.") {
                    Some(rest) => format!("dualdb.{rest}"),
                    None => inner.to_owned(),
                })
            });
        }
        at = e.source();
    }
    None
}

/// The system's roots as one PEM file, for a driver that reads roots only
/// from a file (the blocking MySQL driver). Created new (never an existing
/// path, so no other user of the temporary directory can put roots in it),
/// holding the roots as read when the database was built, and removed when
/// dropped (tests/tls_system_roots.rs).
#[derive(Debug)]
pub(super) struct RootsFile {
    path: PathBuf,
}

impl RootsFile {
    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// A new file of `roots`.
    pub(super) fn new(roots: &[CertificateDer<'static>]) -> Result<RootsFile> {
        if roots.is_empty() {
            return Err(Error::config(
                "TLS: no system root certificates found; give a CA file",
            ));
        }
        RootsFile::write(roots)
    }

    fn write(certs: &[CertificateDer<'static>]) -> Result<RootsFile> {
        use base64::Engine;
        use std::hash::{BuildHasher, RandomState};
        use std::io::Write;
        let mut pem = String::new();
        for cert in certs {
            let text = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
            pem.push_str("-----BEGIN CERTIFICATE-----\n");
            for line in text.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(line).unwrap_or_default());
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
        }
        let failed =
            |e: std::io::Error| Error::config(format!("TLS: writing the system roots: {e}"));
        for attempt in 0u32..16 {
            let tag = RandomState::new().hash_one((std::process::id(), attempt));
            let path = std::env::temp_dir().join(format!("dualdb-roots-{tag:016x}.pem"));
            match std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    // Removed on drop, also when the write fails.
                    let out = RootsFile { path };
                    file.write_all(pem.as_bytes()).map_err(failed)?;
                    return Ok(out);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(failed(e)),
            }
        }
        Err(Error::config("TLS: no free name for the system roots file"))
    }
}

impl Drop for RootsFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
