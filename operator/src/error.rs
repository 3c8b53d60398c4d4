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
}

impl Error {
    /// A short, stable label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Connect(_) => "connect",
            Error::Kube(_) => "kube",
            Error::Metrics(_) => "metrics",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
