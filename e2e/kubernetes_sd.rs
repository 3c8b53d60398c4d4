//! `telltale standalone --config.file prometheus.yml` where the file discovers through
//! the Kubernetes API, as Prometheus running in a cluster does: a scrape job's
//! `kubernetes_sd_configs` (role pod, relabeled on the pod's labels and port names) and
//! an `alerting.alertmanagers` section's, against the emulated API server (kmock) named
//! by the sections' `kubeconfig_file` (over a `$KUBECONFIG` that points nowhere). The pods' IPs are 127.0.0.1, so the discovered node_exporter and
//! Alertmanager are real processes; a pod deleted live is no longer scraped.

mod common;
/// The emulated Kubernetes API (kmock), as the operator's e2e tests use it.
#[path = "kubelet/api.rs"]
#[allow(dead_code)]
mod kube_api;

use std::time::Duration;

use common::{Telltale, eventually, value_of, write_file};
use kube_api::KubeApi;
use serde_json::json;

const NS: &str = "monitoring";

/// A running pod at 127.0.0.1 with one named container port.
fn pod(name: &str, app: &str, port_name: &str, port: u16) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": NS, "labels": {"app": app}},
           "spec": {"nodeName": "node-1", "containers": [{"name": app, "image": "x",
               "ports": [{"name": port_name, "containerPort": port}]}]},
           "status": {"phase": "Running", "podIP": "127.0.0.1",
               "conditions": [{"type": "Ready", "status": "True"}]}})
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_sd_configs_find_targets_and_alertmanagers() {
    let dir = tempfile::tempdir().unwrap();
    let api = KubeApi::start();
    let kubeconfig = api.kubeconfig(dir.path(), NS);
    let (_exporter, exporter) = common::start_node_exporter(dir.path()).await;
    let (_am, am) = common::start_alertmanager(dir.path()).await;
    let am_port: u16 = am.rsplit(':').next().unwrap().parse().unwrap();
    api.create(pod(
        "node-exporter-0",
        "node-exporter",
        "metrics",
        exporter.port(),
    ))
    .await;
    api.create(pod("alertmanager-0", "alertmanager", "web", am_port))
        .await;
    // A pod the scrape job's relabeling drops.
    api.create(pod("other-0", "other", "metrics", 1)).await;
    let rules = write_file(
        dir.path(),
        "rules.yml",
        "groups: [{name: g, rules: [{alert: FromKubernetes, expr: vector(1)}]}]\n",
    );
    let config = write_file(
        dir.path(),
        "prometheus.yml",
        &format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [{rules}]
scrape_configs:
  - job_name: kubernetes-pods
    kubernetes_sd_configs: [{{role: pod, kubeconfig_file: {kc}, namespaces: {{names: [{NS}]}}}}]
    relabel_configs:
      - {{source_labels: [__meta_kubernetes_pod_label_app], regex: node-exporter, action: keep}}
      - {{source_labels: [__meta_kubernetes_pod_container_port_name], regex: metrics, action: keep}}
      - {{source_labels: [__meta_kubernetes_pod_name], target_label: pod}}
alerting:
  alertmanagers:
    - kubernetes_sd_configs: [{{role: pod, kubeconfig_file: {kc}, namespaces: {{names: [{NS}]}}}}]
      relabel_configs:
        - {{source_labels: [__meta_kubernetes_pod_label_app], regex: alertmanager, action: keep}}
        - {{source_labels: [__meta_kubernetes_pod_container_port_name], regex: web, action: keep}}
",
            rules = rules.display(),
            kc = kubeconfig.display()
        ),
    );
    let config_arg = config.display().to_string();
    let t = Telltale::start_env(
        &dir.path().join("data"),
        &["--config.file", &config_arg],
        &[("KUBECONFIG", &dir.path().join("no-such-kubeconfig"))],
    )
    .await;
    let base = t.url("");

    // The pod's target, with the relabeling's `pod` label; the other pod dropped.
    let up = eventually(
        &base,
        r#"up{job="kubernetes-pods",pod="node-exporter-0"} == 1"#,
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(value_of(&up[0]), 1.0);
    eventually(
        &base,
        r#"node_load1{job="kubernetes-pods"}"#,
        Duration::from_secs(30),
    )
    .await;
    let targets = common::get_json(&t.url("/api/v1/targets")).await;
    let active: Vec<_> = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["labels"]["job"] == "kubernetes-pods")
        .collect();
    assert_eq!(active.len(), 1, "{targets}");

    // The Alertmanager found as a pod gets the alert.
    common::wait_for_alert(&am, "FromKubernetes").await;
    let ams = common::get_json(&t.url("/api/v1/alertmanagers")).await;
    assert!(
        ams.to_string()
            .contains(&format!("http://127.0.0.1:{am_port}/api/v2/alerts")),
        "{ams}"
    );

    // The pod goes away: so does its target.
    api.delete("v1", "Pod", NS, "node-exporter-0").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let targets = common::get_json(&t.url("/api/v1/targets")).await;
        let left = targets["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["labels"]["job"] == "kubernetes-pods");
        if !left {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{targets}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
