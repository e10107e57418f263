//! HTTPS with rustls: the certificate chain and key come from PEM files, and are read again on
//! demand (the `serve` command does it on SIGHUP) without dropping a connection, so a renewed
//! certificate is picked up in place. A reload that fails keeps the certificate in use.

use axum_server::tls_rustls::RustlsConfig;
use std::io;
use std::path::PathBuf;

/// Where the certificate chain and its private key are, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads and checks both files now, so that a bad one stops the start with its name.
    pub(crate) async fn load(&self) -> io::Result<RustlsConfig> {
        RustlsConfig::from_pem_file(&self.cert, &self.key)
            .await
            .map_err(|error| self.unusable(error))
    }

    fn unusable(&self, error: io::Error) -> io::Error {
        io::Error::new(
            error.kind(),
            format!(
                "cannot use the TLS certificate {} with the key {}: {error}",
                self.cert.display(),
                self.key.display()
            ),
        )
    }
}

/// Reads a server's certificate and key files again.
#[derive(Clone)]
pub struct TlsReloader {
    files: TlsFiles,
    config: RustlsConfig,
}

impl TlsReloader {
    pub(crate) fn new(files: TlsFiles, config: RustlsConfig) -> Self {
        Self { files, config }
    }

    /// New connections get the files' certificate from now on; on error the old one stays.
    pub async fn reload(&self) -> io::Result<()> {
        self.config
            .reload_from_pem_file(&self.files.cert, &self.files.key)
            .await
            .map_err(|error| self.files.unusable(error))
    }
}
