//! From a snapshot of the cluster (ScrapeTargets, Pods, EndpointSlices, Services) to the
//! targets to scrape: each selected pod port or endpoint becomes an endpoint with its
//! `__meta_kubernetes_*` labels and goes through the resource's relabeling, like static
//! ones ([`crate::discovery::discover_endpoints`]). Pure.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use telltale_crds::{PromDuration, ScrapeTarget, ScrapeTargetSpec};
use tracing::warn;

use super::meta::{self, SERVICE_NAME_LABEL};
use super::selection::{KubernetesSelection, matches};
use crate::discovery::file_sd::FileSdCache;
use crate::discovery::{Discovery, discover, discover_endpoints};
use crate::relabel::LabelMap;

/// The pool (and job) of pods discovered through `prometheus.io/*` annotations.
pub const ANNOTATED_PODS_POOL: &str = "kubernetes-pods";

/// What the watches have seen.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// ScrapeTarget resources and what they select in the cluster.
    pub scrape_targets: Vec<(ScrapeTarget, Option<KubernetesSelection>)>,
    pub pods: Vec<Arc<Pod>>,
    pub endpoint_slices: Vec<Arc<EndpointSlice>>,
    pub services: Vec<Arc<Service>>,
    /// Watched only while some resource selects nodes (the `node` role).
    pub nodes: Vec<Arc<Node>>,
}

/// Settings of the discovery of pods annotated `prometheus.io/scrape: "true"`.
#[derive(Clone, Debug, PartialEq)]
pub struct AnnotatedPods {
    pub interval: PromDuration,
    pub timeout: PromDuration,
}

impl Default for AnnotatedPods {
    fn default() -> Self {
        AnnotatedPods {
            interval: PromDuration::from_secs(30),
            timeout: PromDuration::from_secs(10),
        }
    }
}

/// Every target of the snapshot: static endpoints of the resources, their selected pods
/// and endpoints, and (when `annotated` is set) the annotated pods.
pub fn kubernetes_targets(snapshot: &Snapshot, annotated: Option<&AnnotatedPods>) -> Discovery {
    let mut out = Discovery::default();
    let pods_by_key: HashMap<(&str, &str), &Pod> = snapshot
        .pods
        .iter()
        .map(|p| {
            (
                (
                    p.metadata.namespace.as_deref().unwrap_or(""),
                    p.metadata.name.as_deref().unwrap_or(""),
                ),
                p.as_ref(),
            )
        })
        .collect();
    for (res, selection) in &snapshot.scrape_targets {
        match selection {
            None => {
                let d = discover(std::slice::from_ref(res), &FileSdCache::default());
                out.active.extend(d.active);
                out.dropped.extend(d.dropped);
            }
            Some(sel) => {
                let own = res.metadata.namespace.as_deref().unwrap_or("default");
                let mut endpoints = Vec::new();
                if let Some(selector) = &sel.pod_selector {
                    for pod in &snapshot.pods {
                        let ns = pod.metadata.namespace.as_deref().unwrap_or("");
                        let labels = pod.metadata.labels.clone().unwrap_or_default();
                        if sel.in_namespace(own, ns) && matches(selector, &labels) {
                            endpoints.extend(pod_endpoints(pod, sel));
                        }
                    }
                }
                if let Some(selector) = &sel.service_selector {
                    for svc in &snapshot.services {
                        let ns = svc.metadata.namespace.as_deref().unwrap_or("");
                        let labels = svc.metadata.labels.clone().unwrap_or_default();
                        if sel.in_namespace(own, ns) && matches(selector, &labels) {
                            endpoints.extend(service_endpoints(
                                svc,
                                &snapshot.endpoint_slices,
                                &pods_by_key,
                                sel,
                            ));
                        }
                    }
                }
                if let Some(selector) = &sel.service_targets {
                    for svc in &snapshot.services {
                        let ns = svc.metadata.namespace.as_deref().unwrap_or("");
                        let labels = svc.metadata.labels.clone().unwrap_or_default();
                        if sel.in_namespace(own, ns) && matches(selector, &labels) {
                            for port in svc.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
                                if sel.port_matches(port.name.as_deref(), port.port) {
                                    endpoints.push(meta::service_target(svc, port));
                                }
                            }
                        }
                    }
                }
                if let Some(selector) = &sel.node_targets {
                    for node in &snapshot.nodes {
                        let labels = node.metadata.labels.clone().unwrap_or_default();
                        if matches(selector, &labels) {
                            endpoints.extend(meta::node_target(node));
                        }
                    }
                }
                discover_endpoints(res, endpoints, &mut out);
            }
        }
    }
    if let Some(cfg) = annotated {
        annotated_pod_targets(&snapshot.pods, cfg, &mut out);
    }
    out
}

fn scrapeable(pod: &Pod) -> Option<&str> {
    let status = pod.status.as_ref()?;
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    status.pod_ip.as_deref().filter(|ip| !ip.is_empty())
}

/// `ip:port`, bracketing IPv6 addresses.
pub fn join_host_port(ip: &str, port: i32) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// One endpoint per selected container port of a running pod; with a numeric `port` no
/// container declares, one endpoint on that port.
fn pod_endpoints(pod: &Pod, sel: &KubernetesSelection) -> Vec<(String, LabelMap)> {
    let Some(ip) = scrapeable(pod) else {
        return Vec::new();
    };
    let base = meta::pod_labels(pod);
    let mut out = Vec::new();
    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        for p in c.ports.iter().flatten() {
            if sel.port_matches(p.name.as_deref(), p.container_port) {
                out.push((
                    join_host_port(ip, p.container_port),
                    meta::container_labels(&base, c, false, Some(p)),
                ));
            }
        }
    }
    if out.is_empty() {
        let number = match &sel.port {
            Some(IntOrString::Int(n)) => Some(*n),
            Some(IntOrString::String(s)) => s.parse().ok(),
            None => None,
        };
        if let Some(n) = number {
            out.push((join_host_port(ip, n), base));
        }
    }
    out
}

/// One endpoint per address and selected port of the Service's EndpointSlices, with the
/// labels of the pod behind it when known.
fn service_endpoints(
    svc: &Service,
    slices: &[Arc<EndpointSlice>],
    pods: &HashMap<(&str, &str), &Pod>,
    sel: &KubernetesSelection,
) -> Vec<(String, LabelMap)> {
    let ns = svc.metadata.namespace.as_deref().unwrap_or("");
    let name = svc.metadata.name.as_deref().unwrap_or("");
    let mut out = Vec::new();
    for slice in slices {
        let owned = slice.metadata.namespace.as_deref() == Some(ns)
            && slice
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(SERVICE_NAME_LABEL))
                .is_some_and(|n| n == name);
        if !owned {
            continue;
        }
        for ep in slice.endpoints.iter().flatten() {
            let pod = ep
                .target_ref
                .as_ref()
                .filter(|t| t.kind.as_deref() == Some("Pod"))
                .and_then(|t| pods.get(&(t.namespace.as_deref().unwrap_or(ns), t.name.as_deref()?)))
                .copied();
            for port in slice.ports.iter().flatten() {
                let Some(number) = port.port else {
                    continue;
                };
                if !sel.port_matches(port.name.as_deref(), number) {
                    continue;
                }
                for addr in &ep.addresses {
                    let mut labels = meta::endpoint_labels(slice, ep, port, Some(svc));
                    if let Some(pod) = pod {
                        let base = meta::pod_labels(pod);
                        let container =
                            pod.spec
                                .iter()
                                .flat_map(|s| s.containers.iter())
                                .find_map(|c| {
                                    c.ports
                                        .iter()
                                        .flatten()
                                        .find(|p| p.container_port == number)
                                        .map(|p| (c, p))
                                });
                        let pod_labels = match container {
                            Some((c, p)) => meta::container_labels(&base, c, false, Some(p)),
                            None => base,
                        };
                        labels.extend(pod_labels);
                    }
                    if sel.endpoints_role {
                        labels = meta::endpoints_role_labels(labels);
                    }
                    out.push((join_host_port(addr, number), labels));
                }
            }
        }
    }
    out
}

/// Pods annotated `prometheus.io/scrape: "true"`: port from `prometheus.io/port` (else
/// the first declared container port), path from `prometheus.io/path`, scheme from
/// `prometheus.io/scheme`; their labels become target labels, with `namespace` and `pod`.
fn annotated_pod_targets(pods: &[Arc<Pod>], cfg: &AnnotatedPods, out: &mut Discovery) {
    let spec: ScrapeTargetSpec = match serde_yaml::from_str(&format!(
        r#"
interval: {}
scrapeTimeout: {}
relabelings:
  - {{action: labelmap, regex: '__meta_kubernetes_pod_label_(.+)'}}
  - {{sourceLabels: [__meta_kubernetes_namespace], targetLabel: namespace}}
  - {{sourceLabels: [__meta_kubernetes_pod_name], targetLabel: pod}}
"#,
        cfg.interval,
        cfg.timeout.min(cfg.interval)
    )) {
        Ok(s) => s,
        Err(e) => {
            warn!(error = %e, "cannot build the annotated pods configuration");
            return;
        }
    };
    let res = ScrapeTarget::new(ANNOTATED_PODS_POOL, spec);
    let mut endpoints = Vec::new();
    for pod in pods {
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        if annotations.get("prometheus.io/scrape").map(String::as_str) != Some("true") {
            continue;
        }
        let Some(ip) = scrapeable(pod) else {
            continue;
        };
        let declared = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .flat_map(|c| c.ports.iter().flatten().map(move |p| (c, p)));
        let wanted: Option<i32> = annotations
            .get("prometheus.io/port")
            .and_then(|p| p.parse().ok());
        let base = meta::pod_labels(pod);
        let (port, mut labels) = match wanted {
            Some(n) => match declared.clone().find(|(_, p)| p.container_port == n) {
                Some((c, p)) => (n, meta::container_labels(&base, c, false, Some(p))),
                None => (n, base),
            },
            None => match declared.clone().next() {
                Some((c, p)) => (
                    p.container_port,
                    meta::container_labels(&base, c, false, Some(p)),
                ),
                None => continue,
            },
        };
        if let Some(path) = annotations
            .get("prometheus.io/path")
            .filter(|p| p.starts_with('/'))
        {
            labels.insert("__metrics_path__".into(), path.clone());
        }
        if let Some(scheme) = annotations.get("prometheus.io/scheme") {
            labels.insert("__scheme__".into(), scheme.clone());
        }
        endpoints.push((join_host_port(ip, port), labels));
    }
    discover_endpoints(&res, endpoints, out);
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    use super::*;

    fn pod(name: &str, ns: &str, app: &str, ip: &str, annotations: serde_json::Value) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "namespace": ns, "labels": {"app": app}, "annotations": annotations},
                "spec": {"containers": [{"name": "c", "ports": [
                    {"name": "http", "containerPort": 8080},
                    {"name": "metrics", "containerPort": 9000}]}]},
                "status": {"podIP": ip, "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
            }))
            .unwrap(),
        )
    }

    fn resource(name: &str, ns: &str, extra: &str) -> ScrapeTarget {
        let mut r = ScrapeTarget::new(name, serde_yaml::from_str(&format!("{{{extra}}}")).unwrap());
        r.metadata.namespace = Some(ns.into());
        r
    }

    fn selection(app: &str, port: Option<IntOrString>, service: bool) -> KubernetesSelection {
        let sel = LabelSelector {
            match_labels: Some([("app".to_string(), app.to_string())].into()),
            match_expressions: None,
        };
        KubernetesSelection {
            pod_selector: (!service).then(|| sel.clone()),
            service_selector: service.then_some(sel),
            namespace_selector: None,
            port,
            service_targets: None,
            endpoints_role: false,
            node_targets: None,
        }
    }

    #[test]
    fn pod_selector_picks_ports_in_the_namespace() {
        let snapshot = Snapshot {
            scrape_targets: vec![(
                resource(
                    "api",
                    "shop",
                    "relabelings: [{sourceLabels: [__meta_kubernetes_pod_name], targetLabel: pod}]",
                ),
                Some(selection(
                    "api",
                    Some(IntOrString::String("metrics".into())),
                    false,
                )),
            )],
            pods: vec![
                pod("api-1", "shop", "api", "10.0.0.1", serde_json::json!({})),
                pod("api-2", "other", "api", "10.0.0.2", serde_json::json!({})),
                pod("web-1", "shop", "web", "10.0.0.3", serde_json::json!({})),
            ],
            ..Snapshot::default()
        };
        let d = kubernetes_targets(&snapshot, None);
        assert_eq!(d.active.len(), 1);
        let t = &d.active[0];
        assert_eq!(t.address, "10.0.0.1:9000");
        assert_eq!(t.pool, "shop/api");
        assert!(t.labels.contains(&("pod".into(), "api-1".into())));
        assert!(t.discovered_labels.contains(&(
            "__meta_kubernetes_pod_container_port_name".into(),
            "metrics".into()
        )));
        // Every port without a port selection; a number nobody declares still works.
        let mut all = snapshot.clone();
        all.scrape_targets[0].1 = Some(selection("api", None, false));
        assert_eq!(kubernetes_targets(&all, None).active.len(), 2);
        all.scrape_targets[0].1 = Some(selection("api", Some(IntOrString::Int(7777)), false));
        assert_eq!(
            kubernetes_targets(&all, None).active[0].address,
            "10.0.0.1:7777"
        );
    }

    #[test]
    fn service_selector_reads_endpoint_slices() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api", "namespace": "shop", "labels": {"app": "api"}}
        }))
        .unwrap();
        let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api-abc", "namespace": "shop", "labels": {"kubernetes.io/service-name": "api"}},
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": true},
                 "targetRef": {"kind": "Pod", "name": "api-1", "namespace": "shop"}, "nodeName": "n1"},
                {"addresses": ["10.0.0.9"], "conditions": {"ready": false}}
            ],
            "ports": [{"name": "metrics", "port": 9000}, {"name": "http", "port": 8080}]
        }))
        .unwrap();
        let snapshot = Snapshot {
            scrape_targets: vec![(
                resource("api", "shop", ""),
                Some(selection(
                    "api",
                    Some(IntOrString::String("metrics".into())),
                    true,
                )),
            )],
            pods: vec![pod(
                "api-1",
                "shop",
                "api",
                "10.0.0.1",
                serde_json::json!({}),
            )],
            endpoint_slices: vec![Arc::new(slice)],
            services: vec![Arc::new(svc)],
            nodes: Vec::new(),
        };
        let d = kubernetes_targets(&snapshot, None);
        let addrs: Vec<&str> = d.active.iter().map(|t| t.address.as_str()).collect();
        assert_eq!(addrs, vec!["10.0.0.1:9000", "10.0.0.9:9000"]);
        let first: LabelMap = d.active[0].discovered_labels.iter().cloned().collect();
        assert_eq!(first["__meta_kubernetes_service_name"], "api");
        assert_eq!(
            first["__meta_kubernetes_endpointslice_endpoint_conditions_ready"],
            "true"
        );
        assert_eq!(first["__meta_kubernetes_pod_name"], "api-1");
        assert_eq!(
            first["__meta_kubernetes_pod_container_port_name"],
            "metrics"
        );
        let second: LabelMap = d.active[1].discovered_labels.iter().cloned().collect();
        assert_eq!(
            second["__meta_kubernetes_endpointslice_endpoint_conditions_ready"],
            "false"
        );
    }

    /// prometheus.yml's `kubernetes_sd_configs`, translated to ScrapeTargets, select as
    /// Prometheus would: the pod role in its namespaces, the service role one target per
    /// port, the endpoints role with its `__meta_kubernetes_endpoint_*` names, the node
    /// role one target per selected node at its kubelet.
    #[test]
    fn prometheus_kubernetes_sd_configs_select_pods_and_endpoints() {
        let config = telltale_crds::PrometheusConfig::from_str(
            std::path::Path::new("prometheus.yml"),
            r#"
scrape_configs:
  - job_name: pods
    kubernetes_sd_configs: [{role: pod, namespaces: {names: [shop]}}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], action: keep, regex: true}
  - job_name: services
    kubernetes_sd_configs: [{role: service}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_service_port_name], action: keep, regex: http}
  - job_name: endpoints
    kubernetes_sd_configs:
      - role: endpoints
        selectors: [{role: service, label: "app=api"}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_endpoint_port_name], action: keep, regex: metrics}
      - {source_labels: [__meta_kubernetes_endpoints_name], target_label: endpoints}
  - job_name: kubelet
    scheme: https
    kubernetes_sd_configs:
      - role: node
        selectors: [{role: node, label: "kubernetes.io/os=linux"}]
    relabel_configs:
      - {action: labelmap, regex: __meta_kubernetes_node_label_(.+)}
"#,
        )
        .unwrap();
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "api", "namespace": "shop", "labels": {"app": "api"}},
            "spec": {"ports": [{"name": "http", "port": 80}, {"name": "grpc", "port": 81}]}
        }))
        .unwrap();
        let other: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "db", "namespace": "shop", "labels": {"app": "db"}}
        }))
        .unwrap();
        let slice = |svc: &str, ip: &str| -> Arc<EndpointSlice> {
            Arc::new(
                serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("{svc}-x"), "namespace": "shop",
                        "labels": {"kubernetes.io/service-name": svc}},
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": [ip], "conditions": {"ready": true}}],
                    "ports": [{"name": "metrics", "port": 9000}, {"name": "http", "port": 8080}]
                }))
                .unwrap(),
            )
        };
        let annotated = serde_json::json!({"prometheus.io/scrape": "true"});
        let snapshot = Snapshot {
            scrape_targets: config
                .scrape_targets()
                .into_iter()
                .map(|t| {
                    let sel = KubernetesSelection::of(&t.spec);
                    (t, sel)
                })
                .collect(),
            pods: vec![
                pod("api-1", "shop", "api", "10.0.0.1", annotated.clone()),
                pod("api-2", "other", "api", "10.0.0.2", annotated),
                pod("web-1", "shop", "web", "10.0.0.3", serde_json::json!({})),
            ],
            endpoint_slices: vec![slice("api", "10.0.0.1"), slice("db", "10.0.0.7")],
            services: vec![Arc::new(svc), Arc::new(other)],
            nodes: vec![
                node("n1", "linux", "192.168.0.7"),
                node("w1", "windows", "192.168.0.8"),
            ],
        };
        let d = kubernetes_targets(&snapshot, None);
        let got: Vec<(&str, &str)> = d
            .active
            .iter()
            .map(|t| (t.job.as_str(), t.address.as_str()))
            .collect();
        // One pod target per container port, as Prometheus's pod role.
        assert_eq!(
            got,
            [
                ("pods", "10.0.0.1:8080"),
                ("pods", "10.0.0.1:9000"),
                ("services", "api.shop.svc:80"),
                ("endpoints", "10.0.0.1:9000"),
                ("kubelet", "192.168.0.7:10250"),
            ]
        );
        let kubelet: LabelMap = d.active[4].labels.iter().cloned().collect();
        assert_eq!(kubelet["instance"], "n1");
        assert_eq!(kubelet["kubernetes_io_os"], "linux");
        assert_eq!(
            d.active[4].url.as_str(),
            "https://192.168.0.7:10250/metrics"
        );
        let labels: LabelMap = d.active[3].labels.iter().cloned().collect();
        assert_eq!(labels["endpoints"], "api");
        let discovered: LabelMap = d.active[3].discovered_labels.iter().cloned().collect();
        assert_eq!(discovered["__meta_kubernetes_endpoint_ready"], "true");
        assert!(!discovered.keys().any(|k| k.contains("endpointslice")));
    }

    fn node(name: &str, os: &str, ip: &str) -> Arc<Node> {
        Arc::new(
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": name, "labels": {"kubernetes.io/os": os}},
                "status": {"addresses": [{"type": "InternalIP", "address": ip}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}
            }))
            .unwrap(),
        )
    }

    #[test]
    fn annotated_pods() {
        let pods = vec![
            pod(
                "a",
                "ns",
                "x",
                "10.0.0.1",
                serde_json::json!({"prometheus.io/scrape": "true", "prometheus.io/port": "8080",
                    "prometheus.io/path": "/m", "prometheus.io/scheme": "https"}),
            ),
            pod(
                "b",
                "ns",
                "y",
                "10.0.0.2",
                serde_json::json!({"prometheus.io/scrape": "true"}),
            ),
            pod(
                "c",
                "ns",
                "z",
                "10.0.0.3",
                serde_json::json!({"prometheus.io/scrape": "false"}),
            ),
        ];
        let snapshot = Snapshot {
            pods,
            ..Snapshot::default()
        };
        assert!(kubernetes_targets(&snapshot, None).active.is_empty());
        let d = kubernetes_targets(&snapshot, Some(&AnnotatedPods::default()));
        assert_eq!(d.active.len(), 2);
        assert_eq!(d.active[0].url.as_str(), "https://10.0.0.1:8080/m");
        assert_eq!(d.active[1].url.as_str(), "http://10.0.0.2:8080/metrics");
        let labels: LabelMap = d.active[0].labels.iter().cloned().collect();
        assert_eq!(labels["app"], "x");
        assert_eq!(labels["namespace"], "ns");
        assert_eq!(labels["pod"], "a");
        assert_eq!(labels["job"], ANNOTATED_PODS_POOL);
    }
}
