//! Prometheus's `__meta_kubernetes_*` labels for pods and EndpointSlice endpoints, as its
//! `pod` and `endpointslice` roles set them. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Pod, Service};
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
}
