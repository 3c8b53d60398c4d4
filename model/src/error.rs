//! The crate's error type.

use crate::labels::go_quote;

/// Why a string is not a duration. The messages are Prometheus's (`model.ParseDuration`),
/// with the text quoted as Go's `%q` quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("empty duration string")]
    Empty,
    #[error("not a valid duration string: {}", go_quote(.text))]
    Invalid { text: String },
    #[error("unknown unit {} in duration {}", go_quote(.unit), go_quote(.text))]
    UnknownUnit { unit: String, text: String },
    /// Longer than Go's `time.Duration` holds (about 292 years), or, for float seconds,
    /// not finite.
    #[error("duration out of range")]
    OutOfRange,
}

/// Why a string is not a size in bytes (Go's `units` package wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BytesError {
    #[error("units: invalid {text}")]
    Invalid { text: String },
    #[error("units: unknown unit {unit} in {text}")]
    UnknownUnit { unit: String, text: String },
    #[error("units: a size cannot be negative: {text}")]
    Negative { text: String },
    #[error("units: overflow in {text}")]
    OutOfRange { text: String },
}
