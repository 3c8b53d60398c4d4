//! The crate's error type.

use axum::http::StatusCode;

/// Everything that can go wrong in the UI's server side.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request parameter is missing or malformed.
    #[error("invalid parameter {name:?}: {reason}")]
    BadParam { name: &'static str, reason: String },
    /// The live source could not evaluate the query.
    #[error("{0}")]
    Query(#[from] telltale_query::Error),
    /// A result type the graph cannot follow (strings).
    #[error("live mode cannot graph a {result_type} result")]
    Unsupported { result_type: &'static str },
    /// Too many live connections are open.
    #[error("too many live connections (at most {limit})")]
    TooManyConnections { limit: usize },
    /// Registering the self-metrics failed (e.g. registered twice in one registry).
    #[error("registering UI metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status answering this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadParam { .. } | Error::Unsupported { .. } => StatusCode::BAD_REQUEST,
            Error::Query(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
            Error::TooManyConnections { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Metrics(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Prometheus's `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::BadParam { .. } | Error::Unsupported { .. } => "bad_data",
            Error::Query(e) => e.error_type(),
            Error::TooManyConnections { .. } => "unavailable",
            Error::Metrics(_) => "internal",
        }
    }

    /// A short label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::BadParam { .. } => "bad_param",
            Error::Query(_) => "query",
            Error::Unsupported { .. } => "unsupported",
            Error::TooManyConnections { .. } => "too_many_connections",
            Error::Metrics(_) => "metrics",
        }
    }
}
