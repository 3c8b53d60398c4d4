//! The harness's errors: what failed, against which process or file.

use std::path::PathBuf;

/// Why a measurement could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {name} ({}): {source}", bin.display())]
    Spawn {
        name: String,
        bin: PathBuf,
        source: std::io::Error,
    },
    #[error("{name} exited early ({status}); last lines of {}:\n{tail}", log.display())]
    Exited {
        name: String,
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error("{name} was not ready at {url} within {seconds} s; log: {}", log.display())]
    NotReady {
        name: String,
        url: String,
        seconds: u64,
        log: PathBuf,
    },
    #[error("unexpected /proc/{pid}/{file}: {detail}")]
    Proc {
        pid: u32,
        file: &'static str,
        detail: String,
    },
    #[error("HTTP {url}: {source}")]
    Http { url: String, source: reqwest::Error },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{what}: {detail}")]
    Invalid { what: &'static str, detail: String },
}

/// The harness's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An I/O error on a path.
    pub fn io(what: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Error::Io { what, path, source }
    }

    /// An HTTP transport error on a URL.
    pub fn http(url: &str) -> impl FnOnce(reqwest::Error) -> Self + '_ {
        move |source| Error::Http {
            url: url.to_string(),
            source,
        }
    }
}
