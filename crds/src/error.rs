//! Errors of loading and validating resources.

use std::path::PathBuf;

/// One field of one resource that is wrong: `field` is a path such as
/// `spec.groups[0].rules[1].for`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Why a configuration file could not be loaded. Its `Display` is one line that names
/// the file, the document (1-based, with its kind and name when known) and the field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: document {document}: not valid YAML: {message}")]
    Syntax {
        file: PathBuf,
        document: usize,
        message: String,
    },
    #[error("{file}: document {document}{what}: {error}")]
    Invalid {
        file: PathBuf,
        document: usize,
        /// ` (Kind name)` or empty.
        what: String,
        error: FieldError,
    },
    /// A field of a single-document file (prometheus.yml, a rule file), e.g.
    /// `prometheus.yml: scrape_configs[2].relabel_configs[0].action: unknown ...`.
    #[error("{file}: {error}")]
    Field { file: PathBuf, error: FieldError },
}

pub type Result<T, E = ConfigError> = std::result::Result<T, E>;
