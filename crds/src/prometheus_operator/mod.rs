//! prometheus-operator's resources (`monitoring.coreos.com`), read as the charts ship
//! them and turned into Telltale's own:
//!
//! ```text
//!  ServiceMonitor ─┐  translate.rs: one ScrapeTarget per endpoint, with the kubernetesSd
//!  PodMonitor ─────┴─ role and the relabelings prometheus-operator's promcfg.go generates
//!  PrometheusRule ─── rule.rs: one AlertRule holding its groups
//!  ScrapeConfig ───── scrape_config.rs (v1alpha1): one ScrapeTarget
//! ```
//!
//! Reading is lenient where prometheus-operator is: fields this version does not know
//! (charts carry fields of newer operator versions) do not fail the object. Every field
//! whose setting is not honoured — unknown, or known but not implemented (
//! proxy headers, `tlsConfig.maxVersion`) — is named in the
//! `not_honoured` list of the translation, so the caller can log it or put it in an
//! Event; nothing is dropped silently.
//!
//! [`MonitorSelectors`] are the MetricCluster's selectors with the names of the
//! Prometheus resource (`serviceMonitorSelector`, `ruleNamespaceSelector`, ...) and the
//! same semantics.

/// The chart's open-schema CRDs of the three kinds (for clusters without the operator).
pub mod crd;
/// `ServiceMonitor`, `PodMonitor` and their endpoints.
pub mod monitor;
/// `PrometheusRule` and its translation to an `AlertRule`.
pub mod rule;
/// `ScrapeConfig` (`v1alpha1`) and its translation to a ScrapeTarget.
pub mod scrape_config;
/// Which monitors and rules a MetricCluster selects.
pub mod select;
/// ServiceMonitor and PodMonitor endpoints to ScrapeTargets, as promcfg.go.
pub mod translate;

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

pub use monitor::{
    Endpoint, PodMetricsEndpoint, PodMonitor, PodMonitorSpec, RelabelConfig, ServiceMonitor,
    ServiceMonitorSpec,
};
pub use rule::{PrometheusRule, PrometheusRuleSpec};
pub use scrape_config::{ScrapeConfig, ScrapeConfigSpec};
pub use select::MonitorSelectors;
pub use translate::Translated;

/// The note of a Warning Event listing what is not honoured on an object: the messages
/// joined, cut (on a character boundary) to fit the 1,024 bytes Kubernetes allows.
pub fn event_note(messages: &[String]) -> String {
    let mut note = messages.join("; ");
    if note.len() > 1000 {
        let mut end = 997;
        while !note.is_char_boundary(end) {
            end -= 1;
        }
        note.truncate(end);
        note.push_str("...");
    }
    note
}

/// The API group of prometheus-operator's resources.
pub const GROUP: &str = "monitoring.coreos.com";
/// The version of ServiceMonitor, PodMonitor and PrometheusRule.
pub const VERSION: &str = "v1";
/// `apiVersion` as written in YAML documents.
pub const API_VERSION: &str = "monitoring.coreos.com/v1";

/// A resource as the API serves it: metadata and a spec (status and the rest ignored).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
pub struct Object<S> {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: S,
}

impl<S> Object<S> {
    /// The namespace, `default` when unset (as `kubectl apply` would place it).
    pub fn namespace(&self) -> &str {
        self.metadata
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or("default")
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// The labels (empty when unset).
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.metadata.labels.clone().unwrap_or_default()
    }
}

/// The fields of a section that were not read into its typed fields, each reported as
/// not honoured under `at` (`spec.endpoints[0].tlsConfig: ...`).
pub(crate) fn report_unread(
    at: &str,
    unread: &BTreeMap<String, serde_json::Value>,
    out: &mut Vec<String>,
) {
    for (field, value) in unread {
        if value.is_null() {
            continue;
        }
        let why = match field.as_str() {
            "proxyFromEnvironment" | "proxyConnectHeader" | "noProxy" => {
                "only proxyUrl is supported; scraped without this proxy setting"
            }
            _ => "not supported by Telltale; ignored",
        };
        out.push(format!("{at}.{field}: {why}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_notes_fit_kubernetes_limit_and_cut_on_characters() {
        let long = vec!["é".repeat(600), "x".into()];
        let note = event_note(&long);
        assert!(
            note.len() <= 1000 && note.ends_with("..."),
            "{}",
            note.len()
        );
        assert_eq!(event_note(&["a".into(), "b".into()]), "a; b");
    }
}
