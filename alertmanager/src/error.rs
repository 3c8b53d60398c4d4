//! Errors of rule evaluation, routing, notification and state persistence.

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
    /// A label matcher is not valid.
    #[error("bad matcher {matcher:?}: {message}")]
    Matcher { matcher: String, message: String },
    /// The alerting configuration (routes, inhibition rules) is not valid.
    #[error("{field}: {message}")]
    Config { field: String, message: String },
    /// An integration could not be reached, or its request could not be built or timed
    /// out. The message never contains a secret (URLs are stripped).
    #[error("{integration}: {message}")]
    Transport {
        integration: &'static str,
        message: String,
    },
    /// An integration answered with an error status.
    #[error("{integration} answered {status}")]
    Status {
        integration: &'static str,
        status: u16,
    },
    /// An integration refused the notification for good (e.g. an SMTP 5xx reply).
    #[error("{integration} rejected the notification: {message}")]
    Rejected {
        integration: &'static str,
        message: String,
    },
    /// A secret could not be read; names where it is, never its value.
    #[error("cannot read {reference}: {message}")]
    Secret { reference: String, message: String },
    /// Persisted state could not be read or written.
    #[error("state {path}: {message}")]
    Store { path: String, message: String },
    /// Recorded series could not be written.
    #[error("writing rule results: {message}")]
    Write { message: String },
    /// A Prometheus rule file could not be read or is not valid.
    #[error("{path}: {message}")]
    RuleFile { path: String, message: String },
    /// A silence that does not exist (or no longer can be changed).
    #[error("silence {id} not found")]
    SilenceNotFound { id: String },
    /// A notification template could not be parsed or executed.
    #[error("template: {message}")]
    Template { message: String },
    /// A silence that cannot be stored as it is.
    #[error("invalid silence: {message}")]
    InvalidSilence { message: String },
    /// A silence over `--silences.max-silences` or `--silences.max-silence-size-bytes`
    /// (Alertmanager's wording).
    #[error("{message}")]
    SilenceLimit { message: String },
}

impl Error {
    /// A short label for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Query { .. } => "query",
            Error::DuplicateLabelSet { .. } => "duplicate_labelset",
            Error::Matcher { .. } => "matcher",
            Error::Config { .. } => "config",
            Error::Transport { .. } => "transport",
            Error::Status { .. } => "status",
            Error::Rejected { .. } => "rejected",
            Error::Secret { .. } => "secret",
            Error::Store { .. } => "store",
            Error::Write { .. } => "write",
            Error::RuleFile { .. } => "rule_file",
            Error::SilenceNotFound { .. } => "not_found",
            Error::InvalidSilence { .. } => "invalid_silence",
            Error::SilenceLimit { .. } => "silence_limit",
            Error::Template { .. } => "template",
        }
    }

    /// Whether trying the same notification again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } => true,
            Error::Status { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The HTTP status an API answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::SilenceNotFound { .. } => 404,
            Error::Matcher { .. }
            | Error::InvalidSilence { .. }
            | Error::SilenceLimit { .. }
            | Error::Config { .. } => 400,
            _ => 500,
        }
    }

    /// The HTTP client of `integration` cannot send: a CA, certificate or credentials
    /// file of its `httpConfig` cannot be read or used (the message names the field and
    /// the file, never a value). Retried: the file may come back.
    pub fn client(integration: &'static str, e: telltale_web::Error) -> Error {
        Error::Transport {
            integration,
            message: e.to_string(),
        }
    }

    /// The transport error of `integration` for a failed request, without its URL.
    pub fn http(integration: &'static str, e: reqwest::Error) -> Error {
        let timed_out = e.is_timeout();
        let e = e.without_url();
        Error::Transport {
            integration,
            message: if timed_out {
                "request timed out".to_string()
            } else {
                e.to_string()
            },
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
