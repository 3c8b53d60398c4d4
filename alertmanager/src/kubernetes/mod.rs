//! The alertmanager in a Kubernetes cluster: its configuration from the API and the
//! credentials its receivers name.
//!
//! ```text
//!  watch AlertRules in the namespace (reflector) --debounced--> RuleManager::apply
//!  watch PrometheusRules the MetricCluster's ruleSelector picks --as AlertRules--^
//!  watch MetricClusters, keep the named one     ----spec.alerting--> set_alerting
//!  notification --SecretRef--> KubernetesSecrets --GET secret (short cache)--> value
//! ```

/// prometheus-operator's PrometheusRules: watched, selected, translated.
pub mod prometheus_rules;
/// [`KubernetesSecrets`]: receivers' credentials from Kubernetes Secrets.
pub mod secrets;
/// [`watch_cluster`]: AlertRules and the MetricCluster's alerting section, applied live.
pub mod watch;

pub use prometheus_rules::PrometheusRuleScope;
pub use secrets::KubernetesSecrets;
pub use watch::{ClusterWatch, ClusterWatchOptions, watch_cluster};
