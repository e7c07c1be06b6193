//! TLS (feature `tls`): rustls with the ring provider, verifying the server's
//! certificate against the CA file given to
//! [`Builder::tls_ca_file`](crate::Builder::tls_ca_file), host name included.

use std::path::Path;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::error::{Error, Result};

/// A rustls client config that trusts exactly the CAs in `ca_file`.
pub(crate) fn client_config(ca_file: &Path) -> Result<rustls::ClientConfig> {
    let bad = |what: &dyn std::fmt::Display| {
        Error::config(format!("TLS CA file {}: {what}", ca_file.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(|e| bad(&e))? {
        roots.add(cert.map_err(|e| bad(&e))?).map_err(|e| bad(&e))?;
    }
    if roots.is_empty() {
        return Err(bad(&"no certificate in it"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&e))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
