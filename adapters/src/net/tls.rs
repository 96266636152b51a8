//! TLS client configuration: rustls with the `ring` provider, certificates always verified.
//!
//! Trust comes from the Mozilla roots (`webpki-roots`), from a PEM file of extra CA
//! certificates (tests, private endpoints, the simulated venues' self-signed CA), or both.
//! There is deliberately no way to turn verification off: a wrong host name or an
//! untrusted chain fails the handshake, and the connection reports a [`TlsFailure`] that
//! names the host and rustls' reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

/// Which certificate authorities a client trusts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// Trust the Mozilla root program's CAs (the real venues).
    pub webpki_roots: bool,
    /// Also trust the CA certificates in this PEM file.
    pub ca_file: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings { webpki_roots: true, ca_file: None }
    }
}

impl TlsSettings {
    /// Builds the client configuration these settings describe.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsSetupError> {
        let mut roots = if self.webpki_roots { TlsRoots::webpki() } else { TlsRoots::empty() };
        if let Some(path) = &self.ca_file {
            roots = roots.add_pem_file(path)?;
        }
        roots.client_config()
    }
}

/// A set of trust anchors being assembled into a [`ClientConfig`].
#[derive(Clone, Debug)]
pub struct TlsRoots {
    store: RootCertStore,
}

impl TlsRoots {
    /// No trust anchors yet.
    pub fn empty() -> Self {
        TlsRoots { store: RootCertStore::empty() }
    }

    /// The Mozilla root program's CAs.
    pub fn webpki() -> Self {
        TlsRoots { store: RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() } }
    }

    /// Adds every certificate in the PEM file at `path` as a trust anchor.
    pub fn add_pem_file(self, path: &Path) -> Result<Self, TlsSetupError> {
        let pem = std::fs::read(path)
            .map_err(|source| TlsSetupError::ReadCaFile { path: path.to_owned(), source })?;
        self.add_pem(&pem).map_err(|e| match e {
            TlsSetupError::BadPem { reason, .. } => {
                TlsSetupError::BadPem { origin: path.display().to_string(), reason }
            }
            other => other,
        })
    }

    /// Adds every certificate in `pem` as a trust anchor.
    pub fn add_pem(mut self, pem: &[u8]) -> Result<Self, TlsSetupError> {
        let bad = |reason: String| TlsSetupError::BadPem { origin: "PEM data".into(), reason };
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| bad(e.to_string()))?;
            self.store.add(cert).map_err(|e| bad(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(bad("no certificate found".into()));
        }
        Ok(self)
    }

    /// The client configuration: TLS 1.2 and 1.3 with the `ring` provider, verifying the
    /// server's chain against these anchors and its name against the host connected to.
    pub fn client_config(self) -> Result<Arc<ClientConfig>, TlsSetupError> {
        if self.store.is_empty() {
            return Err(TlsSetupError::NoTrustAnchors);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsSetupError::Rustls)?
            .with_root_certificates(self.store)
            .with_no_client_auth();
        // Connections hand their traffic keys to the in-place record layer once the
        // handshake is done (`net::handshake`, `net::records`).
        config.enable_secret_extraction = true;
        Ok(Arc::new(config))
    }
}

/// Why a TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read CA file {path}: {source}", path = path.display())]
    ReadCaFile { path: PathBuf, source: std::io::Error },
    #[error("bad PEM in {origin}: {reason}")]
    BadPem { origin: String, reason: String },
    #[error("no trust anchors: enable webpki roots or name a CA file")]
    NoTrustAnchors,
    #[error("TLS configuration: {0}")]
    Rustls(rustls::Error),
}

/// A TLS handshake or record-layer failure with a named host.
#[derive(Debug, thiserror::Error)]
#[error("TLS with {host} failed: {source}")]
pub struct TlsFailure {
    pub host: String,
    pub source: rustls::Error,
}

impl TlsFailure {
    /// True when the server's certificate was rejected (untrusted issuer, wrong name,
    /// expired, ...): a configuration or security problem, not a network one.
    pub fn is_certificate_rejected(&self) -> bool {
        matches!(self.source, rustls::Error::InvalidCertificate(_))
    }
}

/// The name a certificate must be valid for: a DNS name or an IP address literal.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned()).map_err(|e| format!("{host:?} is not a valid TLS server name: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webpki_roots_build_a_config() {
        assert!(TlsSettings::default().client_config().is_ok());
    }

    #[test]
    fn no_anchors_is_an_error() {
        let settings = TlsSettings { webpki_roots: false, ca_file: None };
        assert!(matches!(settings.client_config(), Err(TlsSetupError::NoTrustAnchors)));
    }

    #[test]
    fn garbage_pem_is_an_error() {
        assert!(matches!(TlsRoots::empty().add_pem(b"not a pem"), Err(TlsSetupError::BadPem { .. })));
        let missing = TlsSettings { webpki_roots: true, ca_file: Some("/nonexistent/ca.pem".into()) };
        assert!(matches!(missing.client_config(), Err(TlsSetupError::ReadCaFile { .. })));
    }

    #[test]
    fn server_names() {
        assert!(server_name("api.gateio.ws").is_ok());
        assert!(server_name("127.0.0.1").is_ok());
        assert!(server_name("[::1]").is_ok());
        assert!(server_name("bad name").is_err());
    }
}
