//! Errors of the query engine and how the HTTP API classifies them.

/// Everything that can go wrong while parsing, evaluating or serving a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The expression does not parse, or a request parameter is malformed.
    #[error("{message}")]
    BadData { message: String },
    /// The expression parsed but could not be evaluated (Prometheus' `execution`).
    #[error("{message}")]
    Execution { message: String },
    /// The query ran longer than its timeout.
    #[error("query timed out in {phase}")]
    Timeout { phase: &'static str },
    /// The query would hold more samples in memory than allowed.
    #[error("query processing would load too many samples into memory in {phase}")]
    TooManySamples { phase: &'static str },
    /// Storage could not answer.
    #[error("storage error: {0}")]
    Storage(#[from] telltale_storage_api::Error),
    /// A bug or an unexpected state inside the engine.
    #[error("internal error: {message}")]
    Internal { message: String },
}

impl Error {
    pub(crate) fn bad_data(message: impl Into<String>) -> Self {
        Error::BadData {
            message: message.into(),
        }
    }

    pub(crate) fn execution(message: impl Into<String>) -> Self {
        Error::Execution {
            message: message.into(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Error::Internal {
            message: message.into(),
        }
    }

    /// The Prometheus API `errorType` of this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::BadData { .. } => "bad_data",
            Error::Execution { .. } | Error::TooManySamples { .. } => "execution",
            Error::Timeout { .. } => "timeout",
            Error::Storage(e) if e.is_invalid_request() => "bad_data",
            Error::Storage(e) if e.metric_label() == "deadline_exceeded" => "timeout",
            Error::Storage(_) => "execution",
            Error::Internal { .. } => "internal",
        }
    }

    /// The HTTP status Prometheus answers this error with.
    pub fn http_status(&self) -> u16 {
        match self.error_type() {
            "bad_data" => 400,
            "execution" => 422,
            "timeout" => 503,
            _ => 500,
        }
    }

    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::TooManySamples { .. } => "too_many_samples",
            Error::Storage(_) => "storage",
            _ => self.error_type(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_matches_prometheus() {
        assert_eq!(Error::bad_data("x").http_status(), 400);
        assert_eq!(Error::execution("x").http_status(), 422);
        assert_eq!(
            Error::Timeout {
                phase: "query execution"
            }
            .http_status(),
            503
        );
        assert_eq!(Error::internal("x").http_status(), 500);
        let e = Error::TooManySamples {
            phase: "query execution",
        };
        assert_eq!(e.error_type(), "execution");
        assert_eq!(
            e.to_string(),
            "query processing would load too many samples into memory in query execution"
        );
    }
}
