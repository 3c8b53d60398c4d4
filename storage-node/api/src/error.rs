//! Errors of the storage client.

/// What can go wrong when talking to a storage node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address could not be turned into a gRPC endpoint.
    #[error("invalid storage endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    /// The request was rejected before it was sent.
    #[error("invalid storage request: {0}")]
    InvalidRequest(String),
    /// The node answered with a gRPC error status.
    #[error("storage {code}: {message}")]
    Status { code: tonic::Code, message: String },
    /// Data from storage that does not decode.
    #[error("storage answered data that does not decode: {0}")]
    Corrupt(String),
    /// A shard of a cluster did not answer (or acknowledge) in time.
    #[error("shard {shard}: {reason}")]
    Shard { shard: u32, reason: String },
    /// A shard map that cannot be used.
    #[error("invalid shard map: {0}")]
    InvalidShardMap(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

impl Error {
    /// A select that would read more than `limit` of `what` (`series` or `samples`):
    /// storage stopped reading.
    pub fn over_budget(what: &str, limit: u64) -> Self {
        Error::Status {
            code: tonic::Code::ResourceExhausted,
            message: format!("the query would read more than {limit} {what}"),
        }
    }

    /// For a select stopped by its budget, what ran out: `series` or `samples`.
    pub fn exhausted_budget(&self) -> Option<&'static str> {
        match self {
            Error::Status {
                code: tonic::Code::ResourceExhausted,
                message,
            } => Some(if message.ends_with(" series") {
                "series"
            } else {
                "samples"
            }),
            _ => None,
        }
    }

    /// True when the request itself was bad (retrying it will not help).
    pub fn is_invalid_request(&self) -> bool {
        matches!(
            self,
            Error::InvalidRequest(_)
                | Error::Status {
                    code: tonic::Code::InvalidArgument,
                    ..
                }
        )
    }

    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::InvalidEndpoint { .. } | Error::InvalidShardMap(_) => "invalid_endpoint",
            Error::Shard { .. } => "unavailable",
            Error::Io { .. } | Error::Metrics(_) | Error::Corrupt(_) => "internal",
            Error::InvalidRequest(_) => "invalid_argument",
            Error::Status { code, .. } => match code {
                tonic::Code::InvalidArgument => "invalid_argument",
                tonic::Code::Unavailable => "unavailable",
                tonic::Code::DeadlineExceeded => "deadline_exceeded",
                tonic::Code::ResourceExhausted => "resource_exhausted",
                _ => "internal",
            },
        }
    }
}

impl From<tonic::Status> for Error {
    fn from(s: tonic::Status) -> Self {
        Error::Status {
            code: s.code(),
            message: s.message().to_string(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
