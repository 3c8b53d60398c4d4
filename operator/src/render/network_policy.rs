//! NetworkPolicies admitting only the traffic a cluster needs to its pods (ingress only:
//! scrapers reach arbitrary targets, everything reaches the API server and DNS).
//!
//! ```text
//!  storage      gRPC 9095  <- this cluster's pods (writes, reads, Raft between replicas)
//!                          <- the operator's pods (Raft status, membership changes)
//!               HTTP 9091  <- this cluster's pods (the scrapers' self-monitoring)
//!  scraper      HTTP 9092  <- anywhere (push receivers; query's targets API; /metrics)
//!  query        HTTP 9090  <- anywhere (the Prometheus API and UI)
//!  alertmanager HTTP 9093  <- anywhere (the Alertmanager API; query forwards to it)
//! ```
//!
//! Kubelet probes come from the node and are not subject to NetworkPolicies.

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Meta;
use crate::naming::{
    ALERTMANAGER_PORT, Component, OPERATOR_POD_LABELS, QUERY_PORT, SCRAPER_PORT, STORAGE_GRPC_PORT,
    STORAGE_HTTP_PORT,
};

/// The label every namespace carries with its name (Kubernetes 1.22+).
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn selector(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        ..LabelSelector::default()
    }
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        ..NetworkPolicyPort::default()
    }
}

/// Ingress to `port` from `from` (from anywhere when `None`).
fn rule(port: i32, from: Option<Vec<NetworkPolicyPeer>>) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        ports: Some(vec![tcp(port)]),
        from,
    }
}

fn policy(m: &Meta, c: Component, ingress: Vec<NetworkPolicyIngressRule>) -> NetworkPolicy {
    let names = &m.names;
    NetworkPolicy {
        metadata: m.object(names.component(c), c, None),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(selector(names.selector(c, None))),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(ingress),
            ..NetworkPolicySpec::default()
        }),
    }
}

/// The pods of this cluster (its namespace, its labels).
fn cluster_pods(m: &Meta) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(selector(m.names.cluster_labels())),
        ..NetworkPolicyPeer::default()
    }
}

/// The operator's pods in `operator_namespace`.
fn operator_pods(operator_namespace: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(selector(BTreeMap::from([(
            NAMESPACE_NAME_LABEL.to_string(),
            operator_namespace.to_string(),
        )]))),
        pod_selector: Some(selector(
            OPERATOR_POD_LABELS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )),
        ..NetworkPolicyPeer::default()
    }
}

/// One policy per component (`<mc>-<component>`; storage's covers every shard).
pub fn network_policies(m: &Meta, operator_namespace: &str) -> Vec<NetworkPolicy> {
    vec![
        policy(
            m,
            Component::Storage,
            vec![
                rule(
                    STORAGE_GRPC_PORT,
                    Some(vec![cluster_pods(m), operator_pods(operator_namespace)]),
                ),
                rule(STORAGE_HTTP_PORT, Some(vec![cluster_pods(m)])),
            ],
        ),
        policy(m, Component::Scraper, vec![rule(SCRAPER_PORT, None)]),
        policy(m, Component::Query, vec![rule(QUERY_PORT, None)]),
        policy(
            m,
            Component::Alertmanager,
            vec![rule(ALERTMANAGER_PORT, None)],
        ),
    ]
}
