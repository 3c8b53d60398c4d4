//! Prometheus's `__meta_kubernetes_*` labels as its roles set them: `pod`,
//! `endpointslice`, `endpoints` (renamed from an EndpointSlice endpoint's), `service`
//! and `node`. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Node, Pod, Service, ServicePort};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};

use crate::relabel::LabelMap;

const PREFIX: &str = "__meta_kubernetes_";

/// A label name made of valid characters (`[a-zA-Z0-9_]`, others become `_`).
pub fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn put(out: &mut LabelMap, name: &str, value: impl Into<String>) {
    out.insert(format!("{PREFIX}{name}"), value.into());
}

/// `<kind>_label_<name>`, `<kind>_labelpresent_<name>`, and the same for annotations.
fn labels_and_annotations(
    out: &mut LabelMap,
    kind: &str,
    labels: Option<&BTreeMap<String, String>>,
    annotations: Option<&BTreeMap<String, String>>,
) {
    for (k, v) in labels.into_iter().flatten() {
        let k = sanitize(k);
        put(out, &format!("{kind}_label_{k}"), v.clone());
        put(out, &format!("{kind}_labelpresent_{k}"), "true");
    }
    for (k, v) in annotations.into_iter().flatten() {
        let k = sanitize(k);
        put(out, &format!("{kind}_annotation_{k}"), v.clone());
        put(out, &format!("{kind}_annotationpresent_{k}"), "true");
    }
}

/// Whether the pod's `Ready` condition is true.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The pod-level labels: namespace, name, IP, labels, annotations, ready, phase, node,
/// host IP, UID and controller.
pub fn pod_labels(pod: &Pod) -> LabelMap {
    let mut out = LabelMap::new();
    let md = &pod.metadata;
    put(
        &mut out,
        "namespace",
        md.namespace.clone().unwrap_or_default(),
    );
    put(&mut out, "pod_name", md.name.clone().unwrap_or_default());
    labels_and_annotations(&mut out, "pod", md.labels.as_ref(), md.annotations.as_ref());
    if let Some(uid) = &md.uid {
        put(&mut out, "pod_uid", uid.clone());
    }
    if let Some(owner) = md
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true))
    {
        put(&mut out, "pod_controller_kind", owner.kind.clone());
        put(&mut out, "pod_controller_name", owner.name.clone());
    }
    let status = pod.status.as_ref();
    put(
        &mut out,
        "pod_ip",
        status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
    );
    put(
        &mut out,
        "pod_ready",
        if pod_ready(pod) { "true" } else { "false" },
    );
    put(
        &mut out,
        "pod_phase",
        status.and_then(|s| s.phase.clone()).unwrap_or_default(),
    );
    put(
        &mut out,
        "pod_host_ip",
        status.and_then(|s| s.host_ip.clone()).unwrap_or_default(),
    );
    put(
        &mut out,
        "pod_node_name",
        pod.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default(),
    );
    out
}

/// The pod's labels plus those of one container and (when given) one of its ports.
pub fn container_labels(
    pod: &LabelMap,
    container: &Container,
    init: bool,
    port: Option<&ContainerPort>,
) -> LabelMap {
    let mut out = pod.clone();
    put(&mut out, "pod_container_name", container.name.clone());
    put(
        &mut out,
        "pod_container_image",
        container.image.clone().unwrap_or_default(),
    );
    put(
        &mut out,
        "pod_container_init",
        if init { "true" } else { "false" },
    );
    if let Some(p) = port {
        put(
            &mut out,
            "pod_container_port_name",
            p.name.clone().unwrap_or_default(),
        );
        put(
            &mut out,
            "pod_container_port_number",
            p.container_port.to_string(),
        );
        put(
            &mut out,
            "pod_container_port_protocol",
            p.protocol.clone().unwrap_or_else(|| "TCP".into()),
        );
    }
    out
}

/// Labels of one endpoint and port of an EndpointSlice, with its Service's labels when
/// known.
pub fn endpoint_labels(
    slice: &EndpointSlice,
    endpoint: &Endpoint,
    port: &EndpointPort,
    service: Option<&Service>,
) -> LabelMap {
    let mut out = LabelMap::new();
    let md = &slice.metadata;
    put(
        &mut out,
        "namespace",
        md.namespace.clone().unwrap_or_default(),
    );
    put(
        &mut out,
        "endpointslice_name",
        md.name.clone().unwrap_or_default(),
    );
    put(
        &mut out,
        "endpointslice_address_type",
        slice.address_type.clone(),
    );
    labels_and_annotations(
        &mut out,
        "endpointslice",
        md.labels.as_ref(),
        md.annotations.as_ref(),
    );
    let conditions = endpoint.conditions.as_ref();
    let flag = |v: Option<bool>| if v.unwrap_or(false) { "true" } else { "false" };
    // Prometheus treats an unknown `ready` as ready.
    put(
        &mut out,
        "endpointslice_endpoint_conditions_ready",
        flag(Some(conditions.and_then(|c| c.ready).unwrap_or(true))),
    );
    put(
        &mut out,
        "endpointslice_endpoint_conditions_serving",
        flag(conditions.and_then(|c| c.serving)),
    );
    put(
        &mut out,
        "endpointslice_endpoint_conditions_terminating",
        flag(conditions.and_then(|c| c.terminating)),
    );
    if let Some(h) = &endpoint.hostname {
        put(&mut out, "endpointslice_endpoint_hostname", h.clone());
    }
    if let Some(n) = &endpoint.node_name {
        put(&mut out, "endpointslice_endpoint_node_name", n.clone());
    }
    if let Some(z) = &endpoint.zone {
        put(&mut out, "endpointslice_endpoint_zone", z.clone());
    }
    if let Some(t) = &endpoint.target_ref {
        put(
            &mut out,
            "endpointslice_address_target_kind",
            t.kind.clone().unwrap_or_default(),
        );
        put(
            &mut out,
            "endpointslice_address_target_name",
            t.name.clone().unwrap_or_default(),
        );
    }
    put(
        &mut out,
        "endpointslice_port",
        port.port.unwrap_or(0).to_string(),
    );
    put(
        &mut out,
        "endpointslice_port_name",
        port.name.clone().unwrap_or_default(),
    );
    put(
        &mut out,
        "endpointslice_port_protocol",
        port.protocol.clone().unwrap_or_else(|| "TCP".into()),
    );
    if let Some(svc) = service {
        put(
            &mut out,
            "service_name",
            svc.metadata.name.clone().unwrap_or_default(),
        );
        labels_and_annotations(
            &mut out,
            "service",
            svc.metadata.labels.as_ref(),
            svc.metadata.annotations.as_ref(),
        );
    } else if let Some(name) = md.labels.as_ref().and_then(|l| l.get(SERVICE_NAME_LABEL)) {
        put(&mut out, "service_name", name.clone());
    }
    out
}

/// The label EndpointSlices carry naming their Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Labels the EndpointSlice controller adds that an Endpoints object does not carry.
const SLICE_ONLY_LABELS: [&str; 2] = [
    "kubernetes_io_service_name",
    "endpointslice_kubernetes_io_managed_by",
];

/// The labels of an endpoint under the `endpoints` role, from those
/// [`endpoint_labels`] gives it under `endpointslice` (the Endpoints object of a Service
/// holds what its EndpointSlices hold): `endpoints_name` (the Service's name),
/// `endpoints_label_*` / `_annotation_*`, `endpoint_ready`, `endpoint_hostname`,
/// `endpoint_node_name`, `endpoint_port_name`, `endpoint_port_protocol`,
/// `endpoint_address_target_kind` / `_name`; service and pod labels unchanged.
pub fn endpoints_role_labels(slice: LabelMap) -> LabelMap {
    let mut out = LabelMap::new();
    let mut service = None;
    for (name, value) in slice {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            out.insert(name, value);
            continue;
        };
        let Some(slice_field) = rest.strip_prefix("endpointslice_") else {
            if rest == "service_name" {
                service = Some(value.clone());
            }
            out.insert(name, value);
            continue;
        };
        let renamed = match slice_field {
            "endpoint_conditions_ready" => Some("endpoint_ready".to_string()),
            "endpoint_hostname" => Some("endpoint_hostname".into()),
            "endpoint_node_name" => Some("endpoint_node_name".into()),
            "port_name" => Some("endpoint_port_name".into()),
            "port_protocol" => Some("endpoint_port_protocol".into()),
            "address_target_kind" => Some("endpoint_address_target_kind".into()),
            "address_target_name" => Some("endpoint_address_target_name".into()),
            f => [
                "label_",
                "labelpresent_",
                "annotation_",
                "annotationpresent_",
            ]
            .iter()
            .find_map(|p| {
                let key = f.strip_prefix(p)?;
                if SLICE_ONLY_LABELS.contains(&key) {
                    if *p == "label_" && key == "kubernetes_io_service_name" {
                        service.get_or_insert_with(|| value.clone());
                    }
                    return None;
                }
                Some(format!("endpoints_{p}{key}"))
            }),
        };
        if let Some(n) = renamed {
            out.insert(format!("{PREFIX}{n}"), value);
        }
    }
    if let Some(svc) = service {
        put(&mut out, "endpoints_name", svc);
    }
    out
}

/// The target of one port of a Service under the `service` role: address
/// `<name>.<namespace>.svc:<port>` and its labels (`service_name`, `_label_*`,
/// `_annotation_*`, `service_port_name`, `_port_number`, `_port_protocol`,
/// `service_type`, `service_cluster_ip` or `service_external_name`,
/// `service_loadbalancer_ip`).
pub fn service_target(svc: &Service, port: &ServicePort) -> (String, LabelMap) {
    let md = &svc.metadata;
    let name = md.name.clone().unwrap_or_default();
    let ns = md.namespace.clone().unwrap_or_default();
    let mut out = LabelMap::new();
    put(&mut out, "namespace", ns.clone());
    put(&mut out, "service_name", name.clone());
    labels_and_annotations(
        &mut out,
        "service",
        md.labels.as_ref(),
        md.annotations.as_ref(),
    );
    put(
        &mut out,
        "service_port_name",
        port.name.clone().unwrap_or_default(),
    );
    put(&mut out, "service_port_number", port.port.to_string());
    put(
        &mut out,
        "service_port_protocol",
        port.protocol.clone().unwrap_or_else(|| "TCP".into()),
    );
    let spec = svc.spec.as_ref();
    let kind = spec
        .and_then(|s| s.type_.clone())
        .unwrap_or_else(|| "ClusterIP".into());
    if kind == "ExternalName" {
        put(
            &mut out,
            "service_external_name",
            spec.and_then(|s| s.external_name.clone())
                .unwrap_or_default(),
        );
    } else {
        put(
            &mut out,
            "service_cluster_ip",
            spec.and_then(|s| s.cluster_ip.clone()).unwrap_or_default(),
        );
    }
    if kind == "LoadBalancer"
        && let Some(ip) = svc
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|l| l.ingress.as_ref())
            .and_then(|i| i.first())
            .and_then(|i| i.ip.clone())
    {
        put(&mut out, "service_loadbalancer_ip", ip);
    }
    put(&mut out, "service_type", kind);
    (format!("{name}.{ns}.svc:{}", port.port), out)
}

/// The address types a node's address is picked from, in Prometheus's order.
const NODE_ADDRESS_ORDER: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalIP",
    "ExternalDNS",
    "LegacyHostIP",
    "Hostname",
];

/// The target of a node under the `node` role: the kubelet's address (the first
/// address in Prometheus's order of types, with the kubelet port) and its labels
/// (`node_name`, `node_provider_id`, `node_label_*`, `node_annotation_*`,
/// `node_address_<type>`, and `instance` set to the node's name). `None` when the node
/// has no address.
pub fn node_target(node: &Node) -> Option<(String, LabelMap)> {
    let md = &node.metadata;
    let name = md.name.clone().unwrap_or_default();
    let mut out = LabelMap::new();
    put(&mut out, "node_name", name.clone());
    put(
        &mut out,
        "node_provider_id",
        node.spec
            .as_ref()
            .and_then(|s| s.provider_id.clone())
            .unwrap_or_default(),
    );
    labels_and_annotations(
        &mut out,
        "node",
        md.labels.as_ref(),
        md.annotations.as_ref(),
    );
    let status = node.status.as_ref();
    let addresses = status.and_then(|s| s.addresses.clone()).unwrap_or_default();
    for a in &addresses {
        let key = format!("{PREFIX}node_address_{}", a.type_);
        out.entry(key).or_insert_with(|| a.address.clone());
    }
    let host = NODE_ADDRESS_ORDER
        .iter()
        .find_map(|t| addresses.iter().find(|a| a.type_ == *t))?
        .address
        .clone();
    let port = status
        .and_then(|s| s.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map_or(10250, |k| k.port);
    out.insert("instance".into(), name);
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Some((address, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": "api-1", "namespace": "shop", "uid": "u1",
                "labels": {"app": "api", "app.kubernetes.io/name": "x"},
                "annotations": {"prometheus.io/scrape": "true"},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "api-7d", "uid": "r", "controller": true}]
            },
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "img:1",
                "ports": [{"name": "metrics", "containerPort": 9000}]}]},
            "status": {"podIP": "10.0.0.5", "hostIP": "192.168.0.1", "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap()
    }

    #[test]
    fn pod_and_container_labels() {
        let p = pod();
        let base = pod_labels(&p);
        let spec = p.spec.as_ref().unwrap();
        let c = &spec.containers[0];
        let l = container_labels(&base, c, false, c.ports.as_ref().map(|p| &p[0]));
        let get = |k: &str| l.get(&format!("__meta_kubernetes_{k}")).map(String::as_str);
        assert_eq!(get("namespace"), Some("shop"));
        assert_eq!(get("pod_name"), Some("api-1"));
        assert_eq!(get("pod_ip"), Some("10.0.0.5"));
        assert_eq!(get("pod_ready"), Some("true"));
        assert_eq!(get("pod_node_name"), Some("n1"));
        assert_eq!(get("pod_label_app"), Some("api"));
        assert_eq!(get("pod_label_app_kubernetes_io_name"), Some("x"));
        assert_eq!(get("pod_labelpresent_app"), Some("true"));
        assert_eq!(get("pod_annotation_prometheus_io_scrape"), Some("true"));
        assert_eq!(get("pod_controller_kind"), Some("ReplicaSet"));
        assert_eq!(get("pod_container_name"), Some("c"));
        assert_eq!(get("pod_container_port_name"), Some("metrics"));
        assert_eq!(get("pod_container_port_number"), Some("9000"));
        assert_eq!(get("pod_container_port_protocol"), Some("TCP"));
        assert_eq!(get("pod_container_init"), Some("false"));
    }

    fn names(labels: &LabelMap) -> Vec<&str> {
        labels.keys().map(String::as_str).collect()
    }

    /// The names Prometheus documents for the `endpoints` role.
    #[test]
    fn endpoints_role_names() {
        let slice: EndpointSlice = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-abcde", "namespace": "shop",
                "labels": {"kubernetes.io/service-name": "web", "app": "web",
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true},
                "hostname": "web-0", "nodeName": "n1",
                "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "shop"}}],
            "ports": [{"name": "metrics", "port": 9000, "protocol": "TCP"}]
        }))
        .unwrap();
        let ep = &slice.endpoints.as_ref().unwrap()[0];
        let port = &slice.ports.as_ref().unwrap()[0];
        let l = endpoints_role_labels(endpoint_labels(&slice, ep, port, None));
        assert_eq!(
            names(&l),
            [
                "__meta_kubernetes_endpoint_address_target_kind",
                "__meta_kubernetes_endpoint_address_target_name",
                "__meta_kubernetes_endpoint_hostname",
                "__meta_kubernetes_endpoint_node_name",
                "__meta_kubernetes_endpoint_port_name",
                "__meta_kubernetes_endpoint_port_protocol",
                "__meta_kubernetes_endpoint_ready",
                "__meta_kubernetes_endpoints_label_app",
                "__meta_kubernetes_endpoints_labelpresent_app",
                "__meta_kubernetes_endpoints_name",
                "__meta_kubernetes_namespace",
                "__meta_kubernetes_service_name",
            ]
        );
        assert_eq!(l["__meta_kubernetes_endpoints_name"], "web");
        assert_eq!(l["__meta_kubernetes_endpoint_port_name"], "metrics");
        assert_eq!(l["__meta_kubernetes_endpoint_ready"], "true");
    }

    /// The names Prometheus documents for the `service` role.
    #[test]
    fn service_role_names() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"},
                "annotations": {"prometheus.io/probe": "true"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
                "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
        }))
        .unwrap();
        let port = &svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
        let (address, l) = service_target(&svc, port);
        assert_eq!(address, "web.shop.svc:80");
        assert_eq!(
            names(&l),
            [
                "__meta_kubernetes_namespace",
                "__meta_kubernetes_service_annotation_prometheus_io_probe",
                "__meta_kubernetes_service_annotationpresent_prometheus_io_probe",
                "__meta_kubernetes_service_cluster_ip",
                "__meta_kubernetes_service_label_app",
                "__meta_kubernetes_service_labelpresent_app",
                "__meta_kubernetes_service_name",
                "__meta_kubernetes_service_port_name",
                "__meta_kubernetes_service_port_number",
                "__meta_kubernetes_service_port_protocol",
                "__meta_kubernetes_service_type",
            ]
        );
        assert_eq!(l["__meta_kubernetes_service_cluster_ip"], "10.96.0.10");
    }

    /// The names Prometheus documents for the `node` role, and its address choice.
    #[test]
    fn node_role_names_and_address() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1", "labels": {"kubernetes.io/os": "linux"}},
            "spec": {"providerID": "aws:///eu-west-1a/i-1"},
            "status": {"addresses": [
                {"type": "Hostname", "address": "n1.local"},
                {"type": "InternalIP", "address": "192.168.0.7"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}
        }))
        .unwrap();
        let (address, l) = node_target(&node).unwrap();
        assert_eq!(address, "192.168.0.7:10250");
        assert_eq!(
            names(&l),
            [
                "__meta_kubernetes_node_address_Hostname",
                "__meta_kubernetes_node_address_InternalIP",
                "__meta_kubernetes_node_label_kubernetes_io_os",
                "__meta_kubernetes_node_labelpresent_kubernetes_io_os",
                "__meta_kubernetes_node_name",
                "__meta_kubernetes_node_provider_id",
                "instance",
            ]
        );
        assert_eq!(l["instance"], "n1");
    }
}
