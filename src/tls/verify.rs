//! The rustls side of TLS (feature `tls`, ring provider): the roots that
//! verify a server (a CA file, or the system's through
//! `rustls-native-certs`), the verifier each [`TlsMode`] asks for, and a
//! client certificate. PostgreSQL's connector takes the config built here;
//! the MySQL drivers build their own from options (`backend/mysql/tls.rs`),
//! with the system's roots from here.

use std::path::Path;
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::{TlsMode, TlsSettings};
use crate::error::{Error, Result};

/// A rustls client config for `settings`: the roots and verifier of their
/// mode, and their client certificate. Files are read here, so a missing or
/// unreadable one is a `Config` error before any I/O.
pub(crate) fn client_config(settings: &TlsSettings) -> Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::config(format!("TLS: {e}")))?;
    let mode = settings.mode();
    let builder = if let TlsMode::VerifyCa | TlsMode::VerifyFull = mode {
        let chain =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots(settings)?), provider)
                .build()
                .map_err(|e| Error::config(format!("TLS roots: {e}")))?;
        match mode {
            TlsMode::VerifyFull => builder.with_webpki_verifier(chain),
            _ => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(chain))),
        }
    } else {
        // A CA file given with `Prefer` is still read, so that a wrong
        // path is an error here and not when the mode changes.
        if settings.ca_file.is_some() {
            roots(settings)?;
        }
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(
                provider.signature_verification_algorithms,
            )))
    };
    match client_identity(settings)? {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| Error::config(format!("TLS client certificate: {e}"))),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// The certificates that verify servers: the CA file's, or the system's.
/// Either way at least one, or a `Config` error.
pub(crate) fn roots(settings: &TlsSettings) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    match &settings.ca_file {
        Some(ca_file) => {
            let bad = |what: &dyn std::fmt::Display| {
                Error::config(format!("TLS CA file {}: {what}", ca_file.display()))
            };
            for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| bad(&e))? {
                roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
            }
            if roots.is_empty() {
                return Err(bad(&"no certificate in it"));
            }
        }
        None => {
            let found = system_roots();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                let why: Vec<String> = found.errors.iter().map(|e| e.to_string()).collect();
                return Err(Error::config(format!(
                    "TLS: no system root certificates found ({}); give a CA file",
                    why.join("; ")
                )));
            }
        }
    }
    Ok(roots)
}

/// The system's roots, as `rustls-native-certs` finds them (`SSL_CERT_FILE`
/// and `SSL_CERT_DIR` where set, else the platform's store).
pub(crate) fn system_roots() -> rustls_native_certs::CertificateResult {
    rustls_native_certs::load_native_certs()
}

/// The client certificate chain and key of `settings`, read and checked.
fn client_identity(
    settings: &TlsSettings,
) -> Result<Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>> {
    let Some((cert_file, key_file)) = &settings.client_cert else {
        return Ok(None);
    };
    let bad = |file: &Path, what: &dyn std::fmt::Display| {
        Error::config(format!("TLS client certificate {}: {what}", file.display()))
    };
    let chain = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| bad(cert_file, &e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(cert_file, &e))?;
    if chain.is_empty() {
        return Err(bad(cert_file, &"no certificate in it"));
    }
    // The key's file is named, never its contents.
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| bad(key_file, &e))?;
    Ok(Some((chain, key)))
}

/// `VerifyCa`: the chain to a trusted root is checked, the name is not.
/// webpki checks the chain before the name, so a name error means the chain
/// verified (tests/tls.rs: `verify-ca` accepts an address the certificate
/// does not name, and refuses another CA's certificate).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `Prefer` and `Require`: encrypted, the server not authenticated (libpq's
/// meaning). The handshake's signatures are still checked against the
/// certificate the server sent.
#[derive(Debug)]
struct Unverified(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}
