//! Errors of backups and restores; each names the URL, object or file it is about.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A URL that is not a backup location.
    #[error("backup URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    /// The object store refused or failed (the object named).
    #[error("{object}: {source}")]
    Store {
        object: String,
        #[source]
        source: object_store::Error,
    },
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// A backup that is missing a part, or whose file does not match its manifest.
    #[error("backup {url}: {reason}")]
    Damaged { url: String, reason: String },
    /// A restore into a directory that already holds data.
    #[error("{path} is not empty: a restore writes a new data directory")]
    NotEmpty { path: String },
}

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
