//! The EndpointSlice controller's part: once the pods run, every Service with a selector
//! gets one EndpointSlice listing its pods (ready, named by `targetRef` and hostname),
//! as the cluster would publish it. The scrapers learn their live member set from it.

use serde_json::{Value, json};

use super::api::KubeApi;
use super::pods::PlannedPod;

/// Publishes the slices of `services` for the running `pods` (all ready).
pub async fn publish(api: &KubeApi, services: &[Value], pods: &[PlannedPod]) {
    for service in services {
        let Some(selector) = service["spec"]["selector"].as_object() else {
            continue;
        };
        let name = service["metadata"]["name"].as_str().unwrap_or_default();
        let namespace = service["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default();
        let endpoints: Vec<Value> = pods
            .iter()
            .filter(|p| p.namespace == namespace)
            .filter(|p| {
                selector
                    .iter()
                    .all(|(k, v)| p.labels.get(k).map(String::as_str) == v.as_str())
            })
            .map(|p| {
                json!({
                    // Every pod is 127.0.0.1 on the flattened network (see `network`).
                    "addresses": ["127.0.0.1"],
                    "conditions": {"ready": true, "serving": true, "terminating": false},
                    "hostname": p.hostname,
                    "targetRef": {"kind": "Pod", "name": p.name, "namespace": p.namespace},
                })
            })
            .collect();
        if endpoints.is_empty() {
            continue;
        }
        let ports: Vec<Value> = service["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| json!({"name": p["name"], "port": p["targetPort"].as_u64().or(p["port"].as_u64()), "protocol": "TCP"}))
            .collect();
        api.create(json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": format!("{name}-slice"),
                "namespace": namespace,
                "labels": {"kubernetes.io/service-name": name},
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }))
        .await;
    }
}
