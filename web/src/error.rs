//! Errors of loading a web configuration file and of serving with it.

use std::path::PathBuf;

/// Why a web configuration file was refused, or why a server stopped. Each variant's
/// `Display` is one line naming the file and, for a setting, its field path (e.g.
/// `web.yml: tls_server_config.client_auth_type: unknown value "Foo", expected one of ...`).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file itself cannot be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    /// The file is not YAML.
    #[error("{file}: not valid YAML: {message}")]
    Syntax { file: PathBuf, message: String },
    /// A setting is wrong: unknown, of the wrong type, not allowed, or naming a file that
    /// cannot be used (a missing certificate, a key that does not match it...).
    #[error("{file}: {field}: {message}")]
    Field {
        file: PathBuf,
        field: String,
        message: String,
    },
    /// An outgoing client's setting cannot be used: a file that cannot be read, a
    /// certificate that does not parse, a conflict. `field` is the setting as written.
    #[error("{field}: {message}")]
    Client { field: String, message: String },
    /// The server's socket failed.
    #[error("HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
}

impl Error {
    pub(crate) fn field(
        file: impl Into<PathBuf>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Error::Field {
            file: file.into(),
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
