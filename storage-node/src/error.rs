//! Errors of the storage engine and its gRPC server.

/// What can go wrong in the storage node. Each error is either the caller's fault
/// ([`Error::is_invalid_argument`]) or ours; [`Error::metric_label`] names it for metrics
/// (the replica maps it to a gRPC status).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A series of a write request is malformed; the whole request was rejected.
    #[error("invalid series #{index} {labels}: {reason}")]
    InvalidSeries {
        /// Position of the series in the request, from 0.
        index: usize,
        /// The series' labels as sent, rendered `{name="value", ...}`.
        labels: String,
        reason: String,
    },
    /// A label matcher cannot be used.
    #[error("invalid matcher {matcher}: {reason}")]
    InvalidMatcher { matcher: String, reason: String },
    /// Every matcher of a selector matches the empty string, so it would select every
    /// series (Prometheus refuses such selectors with the same message).
    #[error("vector selector must contain at least one non-empty matcher")]
    EmptySelector,
    /// The request's time range is inverted.
    #[error("invalid time range: start {start_ms} ms is after end {end_ms} ms")]
    InvalidTimeRange { start_ms: i64, end_ms: i64 },
    /// A select would answer more than its budget allows; reading stopped.
    #[error("the query would read more than {limit} {what}")]
    OverBudget { what: &'static str, limit: u64 },
    /// A request argument other than series, matchers and times is wrong.
    #[error("invalid argument {name}: {reason}")]
    InvalidArgument { name: &'static str, reason: String },
    /// The data directory could not be prepared.
    #[error("data directory {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The key-value store failed.
    #[error("storage backend failed to {op}: {message}")]
    Backend { op: &'static str, message: String },
    /// Data read back from disk does not decode.
    #[error("corrupt {what} on disk: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// A day moved to object storage could not be fetched or is damaged.
    #[error("cold {tier} day {day} ({object}): {reason}")]
    Cold {
        tier: &'static str,
        day: i64,
        object: String,
        reason: String,
    },
    /// The self-metrics could not be registered.
    #[error("registering self-metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A blocking task running engine work panicked or was cancelled.
    #[error("engine task failed: {0}")]
    Task(String),
}

impl Error {
    /// True when the request itself was bad (retrying it will not help).
    pub fn is_invalid_argument(&self) -> bool {
        matches!(
            self,
            Error::InvalidSeries { .. }
                | Error::InvalidMatcher { .. }
                | Error::EmptySelector
                | Error::InvalidTimeRange { .. }
                | Error::InvalidArgument { .. }
        )
    }

    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        if self.is_invalid_argument() {
            return "invalid_argument";
        }
        match self {
            Error::Io { .. } | Error::Backend { .. } => "backend",
            Error::Corrupt { .. } => "corrupt",
            Error::Cold { .. } => "cold_storage",
            Error::Metrics(_) => "metrics",
            Error::OverBudget { .. } => "over_budget",
            _ => "internal",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_told_apart_by_its_metric_label() {
        let bad = Error::InvalidTimeRange {
            start_ms: 2,
            end_ms: 1,
        };
        assert!(bad.is_invalid_argument());
        assert_eq!(bad.metric_label(), "invalid_argument");
        let ours = Error::Backend {
            op: "write",
            message: "disk full".into(),
        };
        assert!(!ours.is_invalid_argument());
        assert_eq!(ours.metric_label(), "backend");
        let over = Error::OverBudget {
            what: "samples",
            limit: 3,
        };
        assert_eq!(over.metric_label(), "over_budget");
        assert_eq!(over.to_string(), "the query would read more than 3 samples");
    }
}
