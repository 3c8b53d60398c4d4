//! [`MonitorSelectors`]: which ServiceMonitors, PodMonitors and PrometheusRules a
//! MetricCluster picks up, with the Prometheus resource's field names and semantics:
//!
//! - an object selector left unset selects nothing; `{}` selects every object;
//! - a namespace selector left unset means the MetricCluster's own namespace only; `{}`
//!   means every namespace; otherwise the namespaces whose labels match.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::selection::{label_selector_matches, validate_label_selector};

/// The selectors of prometheus-operator's resources on a MetricCluster (flattened into
/// its spec, as on the Prometheus resource).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitorSelectors {
    /// ServiceMonitors to scrape (by their labels); none when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_monitor_selector: Option<LabelSelector>,
    /// Namespaces to look for ServiceMonitors in (by the namespaces' labels); the
    /// MetricCluster's own when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_monitor_namespace_selector: Option<LabelSelector>,
    /// PodMonitors to scrape; none when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_monitor_selector: Option<LabelSelector>,
    /// Namespaces to look for PodMonitors in; own when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_monitor_namespace_selector: Option<LabelSelector>,
    /// PrometheusRules to evaluate; none when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_selector: Option<LabelSelector>,
    /// Namespaces to look for PrometheusRules in; own when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_namespace_selector: Option<LabelSelector>,
    /// ScrapeConfigs (`v1alpha1`) to scrape; none when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_config_selector: Option<LabelSelector>,
    /// Namespaces to look for ScrapeConfigs in; own when unset, all with `{}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_config_namespace_selector: Option<LabelSelector>,
}

/// The kinds the selectors pick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MonitorKind {
    ServiceMonitor,
    PodMonitor,
    PrometheusRule,
    ScrapeConfig,
}

/// What is known about the cluster's namespaces: their labels, when watched.
pub trait NamespaceLabels {
    /// The labels of `namespace`, `None` when unknown.
    fn labels(&self, namespace: &str) -> Option<&BTreeMap<String, String>>;
}

impl NamespaceLabels for BTreeMap<String, BTreeMap<String, String>> {
    fn labels(&self, namespace: &str) -> Option<&BTreeMap<String, String>> {
        self.get(namespace)
    }
}

impl MonitorSelectors {
    fn pair(&self, kind: MonitorKind) -> (Option<&LabelSelector>, Option<&LabelSelector>) {
        match kind {
            MonitorKind::ServiceMonitor => (
                self.service_monitor_selector.as_ref(),
                self.service_monitor_namespace_selector.as_ref(),
            ),
            MonitorKind::PodMonitor => (
                self.pod_monitor_selector.as_ref(),
                self.pod_monitor_namespace_selector.as_ref(),
            ),
            MonitorKind::PrometheusRule => (
                self.rule_selector.as_ref(),
                self.rule_namespace_selector.as_ref(),
            ),
            MonitorKind::ScrapeConfig => (
                self.scrape_config_selector.as_ref(),
                self.scrape_config_namespace_selector.as_ref(),
            ),
        }
    }

    /// Whether any object of `kind` can be selected (its object selector is set).
    pub fn selects_any(&self, kind: MonitorKind) -> bool {
        self.pair(kind).0.is_some()
    }

    /// Whether the namespace selector of `kind` needs the namespaces' labels (it is set
    /// and not `{}`).
    pub fn needs_namespace_labels(&self, kind: MonitorKind) -> bool {
        self.pair(kind)
            .1
            .is_some_and(|s| *s != LabelSelector::default())
    }

    /// Whether an object of `kind` in `namespace` with `labels` is selected by a
    /// MetricCluster living in `own`. A namespace selector with requirements matches
    /// nothing whose namespace's labels are unknown.
    pub fn selects(
        &self,
        kind: MonitorKind,
        own: &str,
        namespace: &str,
        labels: &BTreeMap<String, String>,
        namespaces: &dyn NamespaceLabels,
    ) -> bool {
        let (objects, in_namespaces) = self.pair(kind);
        let Some(objects) = objects else {
            return false;
        };
        let namespace_ok = match in_namespaces {
            None => namespace == own,
            Some(sel) if *sel == LabelSelector::default() => true,
            Some(sel) => namespaces
                .labels(namespace)
                .is_some_and(|l| label_selector_matches(sel, l)),
        };
        namespace_ok && label_selector_matches(objects, labels)
    }

    /// Checks the selectors' operators and values.
    pub fn validate(&self) -> Result<(), FieldError> {
        for (field, sel) in [
            (
                "spec.serviceMonitorSelector",
                &self.service_monitor_selector,
            ),
            (
                "spec.serviceMonitorNamespaceSelector",
                &self.service_monitor_namespace_selector,
            ),
            ("spec.podMonitorSelector", &self.pod_monitor_selector),
            (
                "spec.podMonitorNamespaceSelector",
                &self.pod_monitor_namespace_selector,
            ),
            ("spec.ruleSelector", &self.rule_selector),
            ("spec.ruleNamespaceSelector", &self.rule_namespace_selector),
            ("spec.scrapeConfigSelector", &self.scrape_config_selector),
            (
                "spec.scrapeConfigNamespaceSelector",
                &self.scrape_config_namespace_selector,
            ),
        ] {
            if let Some(sel) = sel {
                validate_label_selector(field, sel)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &[(&str, &str)]) -> BTreeMap<String, String> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn prometheus_resource_semantics() {
        let ns: BTreeMap<String, BTreeMap<String, String>> = [
            ("apps".to_string(), labels(&[("team", "a")])),
            ("other".to_string(), labels(&[])),
        ]
        .into();
        let kps = labels(&[("release", "kps")]);
        let none = MonitorSelectors::default();
        assert!(!none.selects(MonitorKind::ServiceMonitor, "mon", "mon", &kps, &ns));

        let own: MonitorSelectors =
            serde_yaml::from_str("serviceMonitorSelector: {matchLabels: {release: kps}}").unwrap();
        assert!(own.selects(MonitorKind::ServiceMonitor, "mon", "mon", &kps, &ns));
        assert!(!own.selects(MonitorKind::ServiceMonitor, "mon", "apps", &kps, &ns));
        assert!(!own.selects(MonitorKind::ServiceMonitor, "mon", "mon", &labels(&[]), &ns));
        assert!(!own.selects(MonitorKind::PodMonitor, "mon", "mon", &kps, &ns));

        let all: MonitorSelectors =
            serde_yaml::from_str("ruleSelector: {}\nruleNamespaceSelector: {}").unwrap();
        assert!(all.selects(MonitorKind::PrometheusRule, "mon", "zzz", &labels(&[]), &ns));
        assert!(!all.needs_namespace_labels(MonitorKind::PrometheusRule));

        let team: MonitorSelectors = serde_yaml::from_str(
            "podMonitorSelector: {}\npodMonitorNamespaceSelector: {matchLabels: {team: a}}",
        )
        .unwrap();
        assert!(team.needs_namespace_labels(MonitorKind::PodMonitor));
        assert!(team.selects(MonitorKind::PodMonitor, "mon", "apps", &kps, &ns));
        assert!(!team.selects(MonitorKind::PodMonitor, "mon", "other", &kps, &ns));
        assert!(!team.selects(MonitorKind::PodMonitor, "mon", "unknown", &kps, &ns));
    }
}
