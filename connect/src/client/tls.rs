//! TLS for the clients: the platform's root certificates, plus a CA the caller trusts (a private
//! relay's self-signed certificate, a company CA).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::error::ConnectError;

/// Which certificates a client trusts for `wss://` relays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// A PEM file of extra trusted certificates (CA or self-signed), besides the platform's roots.
    pub ca_cert: Option<PathBuf>,
    /// Trust only `ca_cert`, not the platform's roots.
    pub only_ca_cert: bool,
}

impl ClientTls {
    /// The rustls configuration for these roots.
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, ConnectError> {
        let mut roots = rustls::RootCertStore::empty();
        if !self.only_ca_cert {
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                // A platform certificate rustls cannot parse is skipped, as browsers do.
                let _ = roots.add(cert);
            }
        }
        if let Some(path) = &self.ca_cert {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| ConnectError::Tls(format!("cannot read {}: {e}", path.display())))?
                .collect::<Result<_, _>>()
                .map_err(|e| ConnectError::Tls(format!("bad PEM in {}: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(ConnectError::Tls(format!(
                    "no certificate in {}",
                    path.display()
                )));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    ConnectError::Tls(format!("unusable certificate in {}: {e}", path.display()))
                })?;
            }
        }
        if roots.is_empty() {
            return Err(ConnectError::Tls(
                "no trusted root certificates (install ca-certificates, or pass a CA file)".into(),
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ConnectError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Arc::new(config))
    }
}
