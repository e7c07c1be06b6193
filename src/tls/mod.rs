//! TLS settings as users write them: the mode (libpq's `sslmode`, MySQL's
//! `ssl-mode`), the certificates that verify the server (a CA file, or the
//! system's roots), and a client certificate. They come from the URL, where
//! they are taken out before a driver reads it, and from the
//! [`Builder`](crate::Builder), whose calls win. The rustls side, compiled
//! with the `tls` feature, is in `verify`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, Result};

#[cfg(all(feature = "tls", any(feature = "postgres", feature = "mysql")))]
pub(crate) mod verify;

/// How a connection uses TLS: libpq's `sslmode` values, which MySQL's
/// `ssl-mode` values map onto one for one.
///
/// | mode | encrypted | server verified | libpq `sslmode` | MySQL `ssl-mode` |
/// |---|---|---|---|---|
/// | `Disable` | never | - | `disable` | `DISABLED` |
/// | `Prefer` | if the server offers it | no | `prefer` | `PREFERRED` |
/// | `Require` | always | no (chain only with a CA file, as libpq) | `require` | `REQUIRED` |
/// | `VerifyCa` | always | chain | `verify-ca` | `VERIFY_CA` |
/// | `VerifyFull` | always | chain and host name | `verify-full` | `VERIFY_IDENTITY` |
///
/// The default is `Disable`, or `VerifyFull` once a CA file or a client
/// certificate is given: unlike libpq, whose default is `prefer`, TLS is
/// asked for, because a connection that falls back to plain text when it
/// cannot encrypt protects nothing it can promise. libpq's `allow` (plain
/// first) is refused with a `Config` error: use `prefer`.
///
/// ```
/// use dualdb::TlsMode;
/// assert_eq!("verify-full".parse::<TlsMode>().unwrap(), TlsMode::VerifyFull);
/// assert_eq!("VERIFY_IDENTITY".parse::<TlsMode>().unwrap(), TlsMode::VerifyFull);
/// assert_eq!("Preferred".parse::<TlsMode>().unwrap(), TlsMode::Prefer);
/// let err = "allow".parse::<TlsMode>().unwrap_err();
/// assert_eq!(err.kind(), dualdb::ErrorKind::Config);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsMode {
    /// Plain text only.
    Disable,
    /// TLS if the server offers it, plain text if not; the certificate is
    /// not verified.
    Prefer,
    /// TLS or no connection; the certificate is not verified unless a CA
    /// file is given (then as `VerifyCa`, libpq's rule).
    Require,
    /// TLS, and the server's certificate chains to a trusted root; the
    /// host name is not checked.
    VerifyCa,
    /// TLS, the certificate chains to a trusted root, and it names the
    /// host connected to.
    VerifyFull,
}

impl TlsMode {
    /// Whether a connection in this mode must be encrypted.
    pub fn requires_tls(self) -> bool {
        !matches!(self, TlsMode::Disable | TlsMode::Prefer)
    }
}

impl FromStr for TlsMode {
    type Err = Error;

    /// libpq's names (`verify-full`) and MySQL's (`VERIFY_IDENTITY`), in
    /// any case, with `-` or `_`.
    fn from_str(s: &str) -> Result<TlsMode> {
        let name = s.to_ascii_lowercase().replace('_', "-");
        Ok(match name.as_str() {
            "disable" | "disabled" => TlsMode::Disable,
            "prefer" | "preferred" => TlsMode::Prefer,
            "require" | "required" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" | "verify-identity" => TlsMode::VerifyFull,
            "allow" => {
                return Err(Error::config(
                    "sslmode=allow (plain text first, TLS only if the server insists) is not \
                     supported: use prefer or require",
                ));
            }
            _ => {
                return Err(Error::config(format!(
                    "unknown TLS mode {s:?}: use disable, prefer, require, verify-ca or \
                     verify-full (MySQL: DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY)"
                )));
            }
        })
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        })
    }
}

/// One connection target's TLS settings, each `None` where nothing set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) mode: Option<TlsMode>,
    /// The CA certificates (PEM) that verify the server; `None`: the
    /// system's roots.
    pub(crate) ca_file: Option<PathBuf>,
    /// A client certificate chain and its private key (PEM files).
    pub(crate) client_cert: Option<(PathBuf, PathBuf)>,
}

impl TlsSettings {
    /// The mode connections use: the one set, `VerifyCa` for `Require`
    /// with a CA file, `VerifyFull` where only certificates were given,
    /// else `Disable` (see [`TlsMode`]).
    pub(crate) fn mode(&self) -> TlsMode {
        match self.mode {
            Some(TlsMode::Require) if self.ca_file.is_some() => TlsMode::VerifyCa,
            Some(mode) => mode,
            None if self.ca_file.is_some() || self.client_cert.is_some() => TlsMode::VerifyFull,
            None => TlsMode::Disable,
        }
    }

    /// These settings with each of `over`'s that is set in their place.
    pub(crate) fn overridden_by(self, over: &TlsSettings) -> TlsSettings {
        TlsSettings {
            mode: over.mode.or(self.mode),
            ca_file: over.ca_file.clone().or(self.ca_file),
            client_cert: over.client_cert.clone().or(self.client_cert),
        }
    }

    /// A `Config` error where these settings need what this build lacks
    /// (the `tls` feature), or are incomplete.
    pub(crate) fn check(&self) -> Result<()> {
        let mode = self.mode();
        if mode.requires_tls() && !cfg!(feature = "tls") {
            return Err(Error::config(format!(
                "TLS mode {mode} needs dualdb's `tls` feature"
            )));
        }
        Ok(())
    }
}

/// Which names a URL spells its TLS parameters with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UrlSpelling {
    /// `sslmode`, `sslrootcert` (`system`: the system's roots), `sslcert`,
    /// `sslkey`.
    Libpq,
    /// `ssl-mode`, `ssl-ca`, `ssl-cert`, `ssl-key`.
    Mysql,
}

impl UrlSpelling {
    /// The names of the mode, CA, certificate and key parameters.
    fn names(self) -> [&'static str; 4] {
        match self {
            UrlSpelling::Libpq => ["sslmode", "sslrootcert", "sslcert", "sslkey"],
            UrlSpelling::Mysql => ["ssl-mode", "ssl-ca", "ssl-cert", "ssl-key"],
        }
    }
}

/// The URL without its TLS parameters, and the settings they held. The
/// other parameters stay as written, byte for byte. A certificate without
/// its key (or a key without its certificate) is a `Config` error.
pub(crate) fn take_from_url(url: &str, spelling: UrlSpelling) -> Result<(String, TlsSettings)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), TlsSettings::default()));
    };
    let [mode_key, ca_key, cert_key, key_key] = spelling.names();
    let mut settings = TlsSettings::default();
    let (mut cert, mut key) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&') {
        // Percent-decoded as a URL's query is (`+` stays `+`, as libpq
        // reads it), not as a form's.
        let decoded = pair.replace('+', "%2B");
        let Some((name, value)) = url::form_urlencoded::parse(decoded.as_bytes()).next() else {
            kept.push(pair);
            continue;
        };
        let name = name.as_ref();
        if name == mode_key {
            settings.mode = Some(value.parse()?);
        } else if name == ca_key {
            settings.ca_file = match (spelling, value.as_ref()) {
                (UrlSpelling::Libpq, "system") => None,
                _ => Some(PathBuf::from(value.as_ref())),
            };
        } else if name == cert_key {
            cert = Some(PathBuf::from(value.as_ref()));
        } else if name == key_key {
            key = Some(PathBuf::from(value.as_ref()));
        } else {
            kept.push(pair);
        }
    }
    settings.client_cert = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => {
            return Err(Error::config(format!(
                "a client certificate needs both {cert_key} and {key_key}"
            )));
        }
    };
    let url = match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((url, settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url_and_the_rest_stays() {
        let (url, s) = take_from_url(
            "postgres://u:p%40w@h:5432/db?application_name=a%20b&sslmode=verify-ca&sslrootcert=%2Fetc%2Fc+a.pem&connect_timeout=3",
            UrlSpelling::Libpq,
        )
        .unwrap();
        assert_eq!(
            url,
            "postgres://u:p%40w@h:5432/db?application_name=a%20b&connect_timeout=3"
        );
        assert_eq!(s.mode, Some(TlsMode::VerifyCa));
        assert_eq!(
            s.ca_file.as_deref(),
            Some(std::path::Path::new("/etc/c+a.pem"))
        );
        assert_eq!(s.client_cert, None);

        let (url, s) = take_from_url(
            "mysql://u@h/db?ssl-mode=REQUIRED&ssl-cert=c.pem&ssl-key=k.pem",
            UrlSpelling::Mysql,
        )
        .unwrap();
        assert_eq!(url, "mysql://u@h/db");
        assert_eq!(s.mode(), TlsMode::Require);
        assert_eq!(s.client_cert, Some(("c.pem".into(), "k.pem".into())));

        let (url, s) =
            take_from_url("postgres://h/db?sslrootcert=system", UrlSpelling::Libpq).unwrap();
        assert_eq!(
            (url.as_str(), s.mode()),
            ("postgres://h/db", TlsMode::Disable)
        );
        // Nothing to take: the URL as it was.
        let (url, s) = take_from_url("postgres://h/db?x=1&&y", UrlSpelling::Libpq).unwrap();
        assert_eq!(
            (url.as_str(), s),
            ("postgres://h/db?x=1&&y", TlsSettings::default())
        );
    }

    #[test]
    fn bad_tls_parameters_are_config_errors() {
        for (url, spelling) in [
            ("postgres://h/db?sslmode=allow", UrlSpelling::Libpq),
            ("postgres://h/db?sslmode=strict", UrlSpelling::Libpq),
            ("postgres://h/db?sslcert=c.pem", UrlSpelling::Libpq),
            ("mysql://h/db?ssl-key=k.pem", UrlSpelling::Mysql),
        ] {
            let err = take_from_url(url, spelling).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Config, "{url}");
        }
    }

    #[test]
    fn the_mode_follows_libpq() {
        let ca = |mode| TlsSettings {
            mode,
            ca_file: Some("ca.pem".into()),
            client_cert: None,
        };
        assert_eq!(ca(None).mode(), TlsMode::VerifyFull);
        assert_eq!(ca(Some(TlsMode::Require)).mode(), TlsMode::VerifyCa);
        assert_eq!(ca(Some(TlsMode::Prefer)).mode(), TlsMode::Prefer);
        assert_eq!(ca(Some(TlsMode::Disable)).mode(), TlsMode::Disable);
        assert_eq!(TlsSettings::default().mode(), TlsMode::Disable);
        let url = TlsSettings {
            mode: Some(TlsMode::Require),
            ..TlsSettings::default()
        };
        let builder = TlsSettings {
            mode: Some(TlsMode::VerifyFull),
            ..TlsSettings::default()
        };
        assert_eq!(
            url.clone().overridden_by(&builder).mode(),
            TlsMode::VerifyFull
        );
        assert_eq!(
            url.overridden_by(&TlsSettings::default()).mode(),
            TlsMode::Require
        );
    }
}
