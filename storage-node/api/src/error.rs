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
}

impl Error {
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
            Error::InvalidEndpoint { .. } => "invalid_endpoint",
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
