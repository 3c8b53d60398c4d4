//! Errors of the query engine and how the HTTP API classifies them.

/// Everything that can go wrong while parsing, evaluating or serving a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request parameter is malformed.
    #[error("{message}")]
    BadData { message: String },
    /// The expression does not parse, or its type does not fit the query (a range
    /// vector for a range query). The HTTP API names the `query` parameter.
    #[error("{message}")]
    InvalidQuery { message: String },
    /// The expression parsed but could not be evaluated (Prometheus' `execution`).
    #[error("{message}")]
    Execution { message: String },
    /// The query ran longer than its timeout.
    #[error("query timed out in {phase}")]
    Timeout { phase: &'static str },
    /// The query would hold more samples in memory than allowed.
    #[error("query processing would load too many samples into memory in {phase}")]
    TooManySamples { phase: &'static str },
    /// A select matched more series than allowed.
    #[error("the query exceeded the maximum number of series per select (limit: {limit})")]
    TooManySeries { limit: usize },
    /// A range query would return more points per series than allowed.
    #[error(
        "exceeded maximum resolution of {limit} points per timeseries. Try decreasing the query resolution (?step=XX)"
    )]
    TooManyPoints { limit: String },
    /// Every query slot is busy and the queue is full.
    #[error("too many concurrent queries: {running} running and {queued} queued; try again later")]
    TooManyQueries { running: usize, queued: usize },
    /// The query was abandoned (the client went away).
    #[error("query was canceled in {phase}")]
    Canceled { phase: &'static str },
    /// A request body was larger than allowed.
    #[error("request body too large: more than {limit} bytes")]
    BodyTooLarge { limit: usize },
    /// The endpoint is switched off or cannot serve now (Prometheus's `unavailable`:
    /// the admin APIs without `--web.enable-admin-api`).
    #[error("{message}")]
    Unavailable { message: String },
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
            Error::BadData { .. }
            | Error::InvalidQuery { .. }
            | Error::TooManyPoints { .. }
            | Error::BodyTooLarge { .. } => "bad_data",
            Error::Execution { .. }
            | Error::TooManySamples { .. }
            | Error::TooManySeries { .. } => "execution",
            Error::Timeout { .. } => "timeout",
            Error::TooManyQueries { .. } | Error::Unavailable { .. } => "unavailable",
            Error::Canceled { .. } => "canceled",
            Error::Storage(e) if e.is_invalid_request() => "bad_data",
            Error::Storage(e) if e.metric_label() == "deadline_exceeded" => "timeout",
            // Prometheus reports storage failures as internal errors.
            Error::Storage(_) => "internal",
            Error::Internal { .. } => "internal",
        }
    }

    /// The HTTP status Prometheus answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::BodyTooLarge { .. } => return 413,
            // Prometheus's respondError has no case for `unavailable`: its default, 500
            // (the admin APIs when disabled, as Prometheus 2.42 and 3.x answer).
            Error::Unavailable { .. } => return 500,
            _ => {}
        }
        match self.error_type() {
            "bad_data" => 400,
            "execution" => 422,
            "canceled" => 499,
            "timeout" | "unavailable" => 503,
            _ => 500,
        }
    }

    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::TooManySamples { .. } => "too_many_samples",
            Error::TooManySeries { .. } => "too_many_series",
            Error::TooManyPoints { .. } => "too_many_points",
            Error::TooManyQueries { .. } => "too_many_queries",
            Error::BodyTooLarge { .. } => "body_too_large",
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
        let busy = Error::TooManyQueries {
            running: 2,
            queued: 1,
        };
        assert_eq!(
            (busy.error_type(), busy.http_status()),
            ("unavailable", 503)
        );
        assert_eq!(Error::BodyTooLarge { limit: 1 }.http_status(), 413);
        assert_eq!(Error::Canceled { phase: "x" }.error_type(), "canceled");
        let points = Error::TooManyPoints {
            limit: "11,000".into(),
        };
        assert_eq!(points.http_status(), 400);
        assert_eq!(
            points.to_string(),
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
        );
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
