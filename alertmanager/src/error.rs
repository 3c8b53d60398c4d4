//! Errors of rule evaluation and notification.

/// Everything that can go wrong in the alertmanager.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The rule's expression could not be evaluated.
    #[error("query {expr:?} failed: {message}")]
    Query { expr: String, message: String },
    /// Two samples of a rule's result have the same labels once the rule's are applied.
    #[error(
        "alert {alert}: vector contains metrics with the same labelset after applying alert labels: {labels}"
    )]
    DuplicateLabelSet { alert: String, labels: String },
    /// A webhook could not be reached or timed out.
    #[error("webhook {url}: {message}")]
    WebhookTransport { url: String, message: String },
    /// A webhook answered with an error status.
    #[error("webhook {url} answered {status}")]
    WebhookStatus { url: String, status: u16 },
}

impl Error {
    /// A short label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Query { .. } => "query",
            Error::DuplicateLabelSet { .. } => "duplicate_labelset",
            Error::WebhookTransport { .. } => "transport",
            Error::WebhookStatus { .. } => "status",
        }
    }

    /// Whether trying the same notification again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::WebhookTransport { .. } => true,
            Error::WebhookStatus { status, .. } => *status >= 500 || *status == 429,
            Error::Query { .. } | Error::DuplicateLabelSet { .. } => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
