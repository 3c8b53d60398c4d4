//! What a `ScrapeTarget` selects in the cluster — a pod selector or a service selector
//! (its EndpointSlices), the namespaces, the port by name or number (the typed fields of
//! [`ScrapeTargetSpec`]) — and label selector matching. Pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::DynamicObject;
use telltale_crds::prometheus::KubernetesRole;
use telltale_crds::scrape_target::KubernetesSd;
use telltale_crds::selection::{parse_label_selector, port_matches};
use telltale_crds::{NamespaceSelector, ScrapeTarget, ScrapeTargetSpec};
use tracing::warn;

/// A selector no object matches (a key that cannot exist and must).
fn nothing() -> LabelSelector {
    LabelSelector {
        match_expressions: Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement {
                key: "telltale.dev/invalid-selector".into(),
                operator: "In".into(),
                values: Some(Vec::new()),
            },
        ]),
        match_labels: None,
    }
}

/// The cluster objects a `ScrapeTarget` scrapes (its selection fields).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KubernetesSelection {
    /// Pods whose labels match (one target per matching container port).
    pub pod_selector: Option<LabelSelector>,
    /// Services whose labels match (one target per ready or not-ready endpoint and
    /// matching port of their EndpointSlices).
    pub service_selector: Option<LabelSelector>,
    pub namespace_selector: Option<NamespaceSelector>,
    /// The container or endpoint port, by name or number; every port when unset.
    pub port: Option<IntOrString>,
    /// Services whose labels match, each port one target at `<name>.<namespace>.svc:<port>`
    /// (Prometheus's `service` role, for probing through a blackbox exporter).
    pub service_targets: Option<LabelSelector>,
    /// Name the endpoints' labels as Prometheus's `endpoints` role does
    /// (`__meta_kubernetes_endpoint_*`) instead of its `endpointslice` role.
    pub endpoints_role: bool,
    /// Nodes whose labels match, each one target at its kubelet's address (Prometheus's
    /// `node` role; nodes have no namespace).
    pub node_targets: Option<LabelSelector>,
}

/// `targets` split for a process that discovers files itself and the cluster through
/// [`kubernetes_discovery`](super::kubernetes_discovery) (standalone with a
/// prometheus.yml): the targets with their static, file and HTTP discovery, and those
/// that select cluster objects with only that selection. A target doing both is in both
/// lists, each part discovering its own.
pub fn split_by_discovery(targets: &[ScrapeTarget]) -> (Vec<ScrapeTarget>, Vec<ScrapeTarget>) {
    let mut local = Vec::new();
    let mut cluster = Vec::new();
    for t in targets {
        if KubernetesSelection::of(&t.spec).is_none() {
            local.push(t.clone());
            continue;
        }
        let mut c = t.clone();
        c.spec.static_targets.clear();
        c.spec.file_sd.clear();
        c.spec.http_sd.clear();
        cluster.push(c);
        let s = &t.spec;
        if !s.static_targets.is_empty() || !s.file_sd.is_empty() || !s.http_sd.is_empty() {
            let mut l = t.clone();
            l.spec.kubernetes_sd.clear();
            l.spec.pod_selector = None;
            l.spec.service_selector = None;
            local.push(l);
        }
    }
    (local, cluster)
}

impl KubernetesSelection {
    /// The selection of `spec`; `None` when it selects no cluster objects (static
    /// targets, files).
    pub fn of(spec: &ScrapeTargetSpec) -> Option<KubernetesSelection> {
        if !spec.kubernetes_sd.is_empty() {
            return Some(Self::of_kubernetes_sd(&spec.kubernetes_sd));
        }
        spec.selects_cluster_objects().then(|| KubernetesSelection {
            pod_selector: spec.pod_selector.clone(),
            service_selector: spec.service_selector.clone(),
            namespace_selector: spec.namespace_selector.clone(),
            port: spec.port.clone(),
            service_targets: None,
            endpoints_role: false,
            node_targets: None,
        })
    }

    /// The selection of Prometheus-style `kubernetesSd` entries: role `pod` selects pods
    /// (with the entry's `pod` label selector), roles `endpointslice` and `endpoints`
    /// select the endpoints of Services (with its `service` label selector), role
    /// `service` the Services themselves, role `node` the nodes (with its `node` label
    /// selector); every port; the entry's namespaces, or all. Role `ingress` is not
    /// watched yet and selects nothing (with a warning).
    pub fn of_kubernetes_sd(entries: &[KubernetesSd]) -> KubernetesSelection {
        let mut sel = KubernetesSelection::default();
        let label = |sd: &KubernetesSd, role: KubernetesRole| -> LabelSelector {
            let text = sd
                .selectors
                .iter()
                .find(|s| s.role == role)
                .and_then(|s| s.label.as_deref())
                .unwrap_or("");
            parse_label_selector(text).unwrap_or_else(|e| {
                warn!(error = %e, "invalid kubernetesSd label selector; selecting nothing");
                nothing()
            })
        };
        for sd in entries {
            let namespaces = NamespaceSelector {
                any: sd.namespaces.is_empty(),
                match_names: sd.namespaces.clone(),
            };
            match sd.role {
                KubernetesRole::Pod if sel.pod_selector.is_none() => {
                    sel.pod_selector = Some(label(sd, KubernetesRole::Pod));
                }
                KubernetesRole::EndpointSlice | KubernetesRole::Endpoints
                    if sel.service_selector.is_none() =>
                {
                    sel.service_selector = Some(label(sd, KubernetesRole::Service));
                    sel.endpoints_role = sd.role == KubernetesRole::Endpoints;
                }
                KubernetesRole::Service if sel.service_targets.is_none() => {
                    sel.service_targets = Some(label(sd, KubernetesRole::Service));
                }
                KubernetesRole::Node if sel.node_targets.is_none() => {
                    sel.node_targets = Some(label(sd, KubernetesRole::Node));
                    continue;
                }
                role => {
                    warn!(
                        role = role.as_str(),
                        "kubernetesSd role not supported here; ignored"
                    );
                    continue;
                }
            }
            sel.namespace_selector.get_or_insert(namespaces);
        }
        sel
    }

    /// Whether `namespace` is searched for a resource living in `own`.
    pub fn in_namespace(&self, own: &str, namespace: &str) -> bool {
        match &self.namespace_selector {
            Some(ns) => ns.includes(own, namespace),
            None => own == namespace,
        }
    }

    /// Whether a port of this name and number is selected.
    pub fn port_matches(&self, name: Option<&str>, number: i32) -> bool {
        port_matches(self.port.as_ref(), name, number)
    }
}

/// A `ScrapeTarget` read from the API as a dynamic object (one bad object must not stop
/// the watch of the others): the typed resource, checked, and what it selects in the
/// cluster (`None` when it selects nothing, such as static targets).
pub fn split_scrape_target(
    obj: &DynamicObject,
) -> Result<(ScrapeTarget, Option<KubernetesSelection>), String> {
    let spec = obj
        .data
        .get("spec")
        .cloned()
        .unwrap_or(serde_json::json!({}));
    let spec: ScrapeTargetSpec = serde_json::from_value(spec).map_err(|e| format!("spec: {e}"))?;
    spec.validate().map_err(|e| e.to_string())?;
    let selection = KubernetesSelection::of(&spec);
    let mut res = ScrapeTarget::new(obj.metadata.name.as_deref().unwrap_or(""), spec);
    res.metadata = obj.metadata.clone();
    Ok((res, selection))
}

pub use telltale_crds::selection::label_selector_matches as matches;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(v: &[(&str, &str)]) -> BTreeMap<String, String> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn selectors_match_labels_and_expressions() {
        let sel = LabelSelector {
            match_labels: Some(labels(&[("app", "api")])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: Some(vec!["web".into(), "backend".into()]),
                },
                LabelSelectorRequirement {
                    key: "canary".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        assert!(matches(&sel, &labels(&[("app", "api"), ("tier", "web")])));
        assert!(!matches(&sel, &labels(&[("app", "api"), ("tier", "db")])));
        assert!(!matches(
            &sel,
            &labels(&[("app", "api"), ("tier", "web"), ("canary", "1")])
        ));
        assert!(!matches(&sel, &labels(&[("tier", "web")])));
        assert!(matches(&LabelSelector::default(), &labels(&[])));
    }

    #[test]
    fn splits_selection_from_the_spec() {
        let obj: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "telltale.dev/v1alpha1",
            "kind": "ScrapeTarget",
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {
                "interval": "15s",
                "podSelector": {"matchLabels": {"app": "api"}},
                "namespaceSelector": {"matchNames": ["shop", "shop-canary"]},
                "port": "metrics"
            }
        }))
        .unwrap();
        let (res, sel) = split_scrape_target(&obj).unwrap();
        assert_eq!(res.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!(res.spec.interval.to_string(), "15s");
        let sel = sel.unwrap();
        assert!(sel.in_namespace("shop", "shop-canary"));
        assert!(!sel.in_namespace("shop", "other"));
        assert!(sel.port_matches(Some("metrics"), 9000));
        assert!(!sel.port_matches(Some("http"), 9000));
        let by_number = KubernetesSelection {
            port: Some(IntOrString::Int(9000)),
            ..Default::default()
        };
        assert!(by_number.port_matches(None, 9000));
        assert!(by_number.in_namespace("a", "a") && !by_number.in_namespace("a", "b"));

        let mut both = obj.clone();
        both.data["spec"]["serviceSelector"] = serde_json::json!({});
        assert!(
            split_scrape_target(&both)
                .unwrap_err()
                .contains("exactly one")
        );
        let static_only: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "telltale.dev/v1alpha1", "kind": "ScrapeTarget",
            "metadata": {"name": "s", "namespace": "shop"},
            "spec": {"static": [{"targets": ["a:1"]}]}
        }))
        .unwrap();
        assert_eq!(split_scrape_target(&static_only).unwrap().1, None);
        let mut bad = obj;
        bad.data["spec"]["nope"] = serde_json::json!(1);
        assert!(split_scrape_target(&bad).is_err());
    }

    #[test]
    fn jobs_split_between_files_and_the_cluster() {
        let config = telltale_crds::PrometheusConfig::from_str(
            std::path::Path::new("prometheus.yml"),
            "scrape_configs:
  - {job_name: files, static_configs: [{targets: ['a:1']}]}
  - {job_name: pods, kubernetes_sd_configs: [{role: pod}]}
  - job_name: both
    static_configs: [{targets: ['b:1']}]
    file_sd_configs: [{files: [t.json]}]
    kubernetes_sd_configs: [{role: node}]
",
        )
        .unwrap();
        let (local, cluster) = split_by_discovery(&config.scrape_targets());
        let names = |v: &[ScrapeTarget]| -> Vec<String> {
            v.iter().map(|t| t.metadata.name.clone().unwrap()).collect()
        };
        assert_eq!(names(&local), ["files", "both"]);
        assert_eq!(names(&cluster), ["pods", "both"]);
        // Each part discovers only its own.
        assert!(local[1].spec.kubernetes_sd.is_empty());
        assert_eq!(local[1].spec.file_sd.len(), 1);
        assert!(cluster[1].spec.static_targets.is_empty() && cluster[1].spec.file_sd.is_empty());
        assert_eq!(cluster[1].spec.kubernetes_sd.len(), 1);
    }
}
