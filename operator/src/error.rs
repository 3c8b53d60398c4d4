//! Errors of the operator.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No in-cluster configuration and no usable kubeconfig.
    #[error("cannot reach the Kubernetes API (no in-cluster config or kubeconfig): {0}")]
    Connect(#[source] kube::Error),
    /// A call to the Kubernetes API failed.
    #[error("Kubernetes API call failed: {0}")]
    Kube(#[from] kube::Error),
    /// A metric could not be registered.
    #[error("metrics registration failed: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A resource lacks metadata the operator needs (an object not read from the API).
    #[error("{name}: {what} is missing")]
    Incomplete { name: String, what: &'static str },
    /// An object could not be converted to or from JSON.
    #[error("cannot convert an object: {0}")]
    Serialize(#[source] serde_json::Error),
    /// The renderer produced a kind the applier does not know (a bug).
    #[error("no API resource known for kind {0}")]
    UnknownKind(String),
    /// A certificate or key could not be made or read (the user's CA Secret among them).
    #[error("{what}: {reason}")]
    Pki { what: String, reason: String },
    /// `spec.web`'s Secret is missing, lacks its key, or holds a file that does not
    /// parse (the message names the Secret, the key and the field).
    #[error("spec.web.configSecret: {0}")]
    WebConfig(String),
    /// This replica lost the leader lease and must stop reconciling.
    #[error("lost the leader lease {0}")]
    LostLease(String),
}

impl Error {
    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Connect(_) => "connect",
            Error::Kube(_) => "kube",
            Error::Metrics(_) => "metrics",
            Error::Incomplete { .. } => "incomplete",
            Error::Serialize(_) => "serialize",
            Error::UnknownKind(_) => "unknown_kind",
            Error::Pki { .. } => "pki",
            Error::WebConfig(_) => "web_config",
            Error::LostLease(_) => "lost_lease",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
