//! The alertmanager in a Kubernetes cluster: its configuration from the API and the
//! credentials its receivers name.
//!
//! ```text
//!  watch AlertRules in the namespace (reflector) --debounced--> RuleManager::apply
//!  watch MetricClusters, keep the named one     ----spec.alerting--> set_alerting
//!  notification --SecretRef--> KubernetesSecrets --GET secret (short cache)--> value
//! ```

/// [`KubernetesSecrets`]: receivers' credentials from Kubernetes Secrets.
pub mod secrets;
/// [`watch_cluster`]: AlertRules and the MetricCluster's alerting section, applied live.
pub mod watch;

pub use secrets::KubernetesSecrets;
pub use watch::{ClusterWatch, ClusterWatchOptions, watch_cluster};
