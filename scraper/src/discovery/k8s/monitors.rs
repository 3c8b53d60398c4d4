//! prometheus-operator's ServiceMonitors, PodMonitors and ScrapeConfigs as targets: those the
//! MetricCluster's selectors pick (`serviceMonitorSelector`, ...; see
//! [`MonitorSelectors`]), each endpoint translated into the ScrapeTarget of the scrape
//! job prometheus-operator would generate (`telltale_crds::prometheus_operator`), so
//! the rest of discovery treats them as ScrapeTargets. Pure.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::DynamicObject;
use telltale_crds::ScrapeTarget;
use telltale_crds::prometheus_operator::select::MonitorKind;
use telltale_crds::prometheus_operator::{
    MonitorSelectors, Object, PodMonitorSpec, ScrapeConfigSpec, ServiceMonitorSpec,
};

use super::selection::KubernetesSelection;

/// What the monitor watches have seen.
#[derive(Clone, Debug, Default)]
pub struct MonitorSnapshot {
    /// The MetricCluster's selectors; `None` while it is not found (nothing selected).
    pub selectors: Option<MonitorSelectors>,
    /// The MetricCluster's namespace (what unset namespace selectors mean).
    pub own_namespace: String,
    pub service_monitors: Vec<Arc<DynamicObject>>,
    pub pod_monitors: Vec<Arc<DynamicObject>>,
    /// ScrapeConfigs (`v1alpha1`).
    pub scrape_configs: Vec<Arc<DynamicObject>>,
    /// Namespace labels, when the Namespaces are watched.
    pub namespaces: BTreeMap<String, BTreeMap<String, String>>,
}

/// What one selected monitor gives, and what to report about it.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorReport {
    /// `ServiceMonitor <namespace>/<name>`.
    pub object: String,
    pub resource_version: String,
    /// The settings not honoured, or the reason the whole monitor is skipped.
    pub messages: Vec<String>,
    /// Whether the monitor is skipped (invalid).
    pub rejected: bool,
    /// The monitor, for an Event about it.
    pub reference: ObjectReference,
}

/// The ScrapeTargets of the selected monitors (in namespace/name order) and a report per
/// monitor with something to say.
pub fn monitor_targets(
    snapshot: &MonitorSnapshot,
) -> (
    Vec<(ScrapeTarget, Option<KubernetesSelection>)>,
    Vec<MonitorReport>,
) {
    let mut targets = Vec::new();
    let mut reports = Vec::new();
    let Some(selectors) = &snapshot.selectors else {
        return (targets, reports);
    };
    let mut each = |kind: MonitorKind, objects: &[Arc<DynamicObject>]| {
        let mut objects: Vec<_> = objects.iter().collect();
        objects.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        for obj in objects {
            let ns = obj.metadata.namespace.as_deref().unwrap_or("");
            let labels = obj.metadata.labels.clone().unwrap_or_default();
            if !selectors.selects(
                kind,
                &snapshot.own_namespace,
                ns,
                &labels,
                &snapshot.namespaces,
            ) {
                continue;
            }
            let object = format!(
                "{kind:?} {ns}/{}",
                obj.metadata.name.as_deref().unwrap_or("")
            );
            let translated = match kind {
                MonitorKind::ServiceMonitor => decode::<ServiceMonitorSpec>(obj)
                    .and_then(|m| m.to_scrape_targets().map_err(|e| e.to_string())),
                MonitorKind::PodMonitor => decode::<PodMonitorSpec>(obj)
                    .and_then(|m| m.to_scrape_targets().map_err(|e| e.to_string())),
                _ => decode::<ScrapeConfigSpec>(obj)
                    .and_then(|m| m.to_scrape_targets().map_err(|e| e.to_string())),
            };
            let resource_version = obj.metadata.resource_version.clone().unwrap_or_default();
            let reference = ObjectReference {
                api_version: Some(
                    if kind == MonitorKind::ScrapeConfig {
                        telltale_crds::prometheus_operator::scrape_config::API_VERSION
                    } else {
                        telltale_crds::prometheus_operator::API_VERSION
                    }
                    .into(),
                ),
                kind: Some(format!("{kind:?}")),
                name: obj.metadata.name.clone(),
                namespace: obj.metadata.namespace.clone(),
                uid: obj.metadata.uid.clone(),
                resource_version: obj.metadata.resource_version.clone(),
                ..ObjectReference::default()
            };
            match translated {
                Ok(t) => {
                    for target in t.targets {
                        let selection = KubernetesSelection::of(&target.spec);
                        targets.push((target, selection));
                    }
                    if !t.not_honoured.is_empty() {
                        reports.push(MonitorReport {
                            object,
                            resource_version,
                            messages: t.not_honoured,
                            rejected: false,
                            reference,
                        });
                    }
                }
                Err(e) => reports.push(MonitorReport {
                    object,
                    resource_version,
                    messages: vec![e],
                    rejected: true,
                    reference,
                }),
            }
        }
    };
    each(MonitorKind::ServiceMonitor, &snapshot.service_monitors);
    each(MonitorKind::PodMonitor, &snapshot.pod_monitors);
    each(MonitorKind::ScrapeConfig, &snapshot.scrape_configs);
    (targets, reports)
}

/// The typed resource of a watched object (its metadata and spec).
fn decode<S: serde::de::DeserializeOwned>(obj: &DynamicObject) -> Result<Object<S>, String> {
    let spec = obj
        .data
        .get("spec")
        .cloned()
        .unwrap_or(serde_json::json!({}));
    let spec = serde_json::from_value(spec).map_err(|e| format!("spec: {e}"))?;
    Ok(Object {
        metadata: obj.metadata.clone(),
        spec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(
        kind: &str,
        ns: &str,
        name: &str,
        labels: serde_json::Value,
        spec: serde_json::Value,
    ) -> Arc<DynamicObject> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "apiVersion": "monitoring.coreos.com/v1", "kind": kind,
                "metadata": {"name": name, "namespace": ns, "labels": labels, "resourceVersion": "7"},
                "spec": spec,
            }))
            .unwrap(),
        )
    }

    #[test]
    fn selected_monitors_become_scrape_targets() {
        let endpoints =
            serde_json::json!({"endpoints": [{"port": "m"}, {"port": "n", "noProxy": "internal"}]});
        let snapshot = MonitorSnapshot {
            selectors: Some(
                serde_yaml::from_str(
                    "serviceMonitorSelector: {matchLabels: {release: kps}}\npodMonitorSelector: {}\npodMonitorNamespaceSelector: {}\nscrapeConfigSelector: {matchLabels: {release: kps}}",
                )
                .unwrap(),
            ),
            own_namespace: "monitoring".into(),
            service_monitors: vec![
                object("ServiceMonitor", "monitoring", "a", serde_json::json!({"release": "kps"}), endpoints.clone()),
                object("ServiceMonitor", "monitoring", "other-release", serde_json::json!({"release": "x"}), endpoints.clone()),
                object("ServiceMonitor", "apps", "elsewhere", serde_json::json!({"release": "kps"}), endpoints),
                object("ServiceMonitor", "monitoring", "bad", serde_json::json!({"release": "kps"}),
                    serde_json::json!({"endpoints": [{"port": "m", "scheme": "gopher"}]})),
            ],
            pod_monitors: vec![object("PodMonitor", "apps", "p", serde_json::json!({}),
                serde_json::json!({"podMetricsEndpoints": [{"port": "m"}]}))],
            scrape_configs: vec![object("ScrapeConfig", "monitoring", "static", serde_json::json!({"release": "kps"}),
                serde_json::json!({"staticConfigs": [{"targets": ["a:1"]}]}))],
            namespaces: BTreeMap::new(),
        };
        let (targets, reports) = monitor_targets(&snapshot);
        let names: Vec<_> = targets
            .iter()
            .map(|(t, _)| t.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "serviceMonitor/monitoring/a/0",
                "serviceMonitor/monitoring/a/1",
                "podMonitor/apps/p/0",
                "scrapeConfig/monitoring/static"
            ]
        );
        // Monitors select cluster objects; a static ScrapeConfig selects none.
        let selects: Vec<_> = targets.iter().map(|(_, sel)| sel.is_some()).collect();
        assert_eq!(selects, [true, true, true, false]);
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].object, "ServiceMonitor monitoring/a");
        assert!(!reports[0].rejected);
        assert!(reports[0].messages[0].starts_with("spec.endpoints[1].noProxy"));
        assert_eq!(reports[1].object, "ServiceMonitor monitoring/bad");
        assert!(reports[1].rejected);

        let none = MonitorSnapshot {
            selectors: None,
            ..snapshot
        };
        assert!(monitor_targets(&none).0.is_empty());
    }
}
