//! prometheus-operator's ServiceMonitors, PodMonitors and ScrapeConfigs against the emulated
//! Kubernetes API (kmock's emulator, `operator/tests/kube_emulator.py`): the monitors
//! kube-prometheus-stack ships (`crds/tests/prometheus_operator/`), picked by the
//! MetricCluster's `serviceMonitorSelector` / `podMonitorSelector`, become targets with
//! the labels prometheus-operator's generated relabelings give them, and are really
//! scraped; changing the selector live drops them.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Exporter, MemoryWriter, series_named};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::{Client, Config};
use serde_json::{Value, json};
use telltale_scraper::discovery::k8s::{
    KubernetesSdOptions, OperatorMonitors, kubernetes_discovery,
};
use telltale_scraper::{Discovery, ScrapeManager};
use tokio::sync::watch;

const NS: &str = "monitoring";

/// A running `kube_emulator.py`; it exits when this is dropped (its stdin closes).
struct Emulator {
    child: Child,
    _stdin: ChildStdin,
    client: Client,
}

impl Emulator {
    fn start() -> Self {
        let home = std::env::var("HOME").expect("HOME is set");
        let python = std::path::Path::new(&home).join(".cache/telltale-venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/install-deps.sh",
            python.display()
        );
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../operator/tests/kube_emulator.py");
        let mut child = Command::new(python)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start kube_emulator.py");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("kube_emulator.py did not start: {line:?}"));
        let config = Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
        Emulator {
            child,
            _stdin: stdin,
            client: Client::try_from(config).unwrap(),
        }
    }

    fn api(&self, group: &str, version: &str, kind: &str) -> Api<DynamicObject> {
        let ar = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind));
        Api::namespaced_with(self.client.clone(), NS, &ar)
    }

    async fn create(&self, group: &str, version: &str, kind: &str, object: Value) {
        let api_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        let mut object = object;
        object["apiVersion"] = json!(api_version);
        object["kind"] = json!(kind);
        let obj: DynamicObject = serde_json::from_value(object).unwrap();
        self.api(group, version, kind)
            .create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("create {kind}: {e}"));
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Service, its EndpointSlice and the pod behind it, serving metrics on `port` of
/// 127.0.0.1 under the port name `port_name`.
async fn workload(api: &Emulator, name: &str, labels: Value, port_name: &str, port: u16) {
    let pod = format!("{name}-abcde");
    api.create(
        "",
        "v1",
        "Service",
        json!({"metadata": {"name": name, "namespace": NS, "labels": labels},
               "spec": {"ports": [{"name": port_name, "port": port}]}}),
    )
    .await;
    api.create(
        "",
        "v1",
        "Pod",
        json!({"metadata": {"name": pod, "namespace": NS, "labels": labels},
               "spec": {"nodeName": "node-1", "containers": [{"name": name, "image": "x",
                   "ports": [{"name": port_name, "containerPort": port}]}]},
               "status": {"phase": "Running", "podIP": "127.0.0.1",
                   "conditions": [{"type": "Ready", "status": "True"}]}}),
    )
    .await;
    api.create(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        json!({"metadata": {"name": format!("{name}-1"), "namespace": NS,
                   "labels": {"kubernetes.io/service-name": name}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true},
                   "targetRef": {"kind": "Pod", "name": pod, "namespace": NS}}],
               "ports": [{"name": port_name, "port": port}]}),
    )
    .await;
}

async fn wait_for(
    rx: &mut watch::Receiver<Discovery>,
    what: &str,
    pred: impl Fn(&Discovery) -> bool,
) -> Discovery {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        {
            let d = rx.borrow_and_update();
            if pred(&d) {
                return d.clone();
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "timed out waiting for {what}: {:?}",
            *rx.borrow()
        );
        let _ = tokio::time::timeout(left, rx.changed()).await;
    }
}

fn labels_of(d: &Discovery, pool: &str) -> BTreeMap<String, String> {
    d.active
        .iter()
        .find(|t| t.pool == pool)
        .unwrap()
        .labels
        .iter()
        .cloned()
        .collect()
}

fn pools(d: &Discovery) -> Vec<String> {
    let mut v: Vec<_> = d.active.iter().map(|t| t.pool.clone()).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_prometheus_stack_monitors_are_selected_and_scraped() {
    let exporter = Exporter::start("# TYPE node_load1 gauge\nnode_load1 0.5\n").await;
    let port = exporter.addr.port();
    let api = Emulator::start();
    workload(
        &api,
        "kps-prometheus-node-exporter",
        json!({"app.kubernetes.io/instance": "kps", "app.kubernetes.io/name": "prometheus-node-exporter",
               "jobLabel": "node-exporter"}),
        "http-metrics",
        port,
    )
    .await;
    workload(
        &api,
        "kps-kube-state-metrics",
        json!({"app.kubernetes.io/instance": "kps", "app.kubernetes.io/name": "kube-state-metrics"}),
        "http",
        port,
    )
    .await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crds/tests/prometheus_operator/kube-prometheus-stack-exporters.yaml");
    let text = std::fs::read_to_string(fixtures).unwrap();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let mut value: Value = serde::Deserialize::deserialize(doc).unwrap();
        // Scraped every second: the default 30s would make the test wait that long.
        for ep in value["spec"]["endpoints"].as_array_mut().unwrap() {
            ep["interval"] = json!("1s");
        }
        api.create("monitoring.coreos.com", "v1", "ServiceMonitor", value)
            .await;
    }
    // A monitor of another release and a PodMonitor the selectors leave out.
    api.create(
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
        json!({"metadata": {"name": "other", "namespace": NS, "labels": {"release": "other"}},
               "spec": {"selector": {}, "endpoints": [{"port": "http"}]}}),
    )
    .await;
    api.create(
        "monitoring.coreos.com",
        "v1",
        "PodMonitor",
        json!({"metadata": {"name": "pods", "namespace": NS},
               "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "kube-state-metrics"}},
                        "podMetricsEndpoints": [{"port": "http", "interval": "1s"}]}}),
    )
    .await;
    // kube-prometheus-stack's kubelet ServiceMonitor (excerpt): selected; its TLS and token
    // settings are honoured, its `scrapeClass` is not, which an Event on it says.
    api.create(
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
        json!({"metadata": {"name": "kps-kubelet", "namespace": NS, "labels": {"release": "kps"}},
               "spec": {"jobLabel": "k8s-app", "scrapeClass": "kubelet",
                        "namespaceSelector": {"matchNames": ["kube-system"]},
                        "selector": {"matchLabels": {"app.kubernetes.io/name": "kubelet", "k8s-app": "kubelet"}},
                        "endpoints": [{"port": "https-metrics", "scheme": "https", "honorLabels": true,
                            "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
                            "tlsConfig": {"caFile": "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
                                          "insecureSkipVerify": true},
                            "relabelings": [{"action": "replace", "sourceLabels": ["__metrics_path__"],
                                             "targetLabel": "metrics_path"}]}]}}),
    )
    .await;
    // A ScrapeConfig (v1alpha1) with a static target.
    api.create(
        "monitoring.coreos.com",
        "v1alpha1",
        "ScrapeConfig",
        json!({"metadata": {"name": "static", "namespace": NS},
               "spec": {"scrapeInterval": "1s",
                        "staticConfigs": [{"targets": [format!("127.0.0.1:{port}")], "labels": {"source": "static"}}]}}),
    )
    .await;
    api.create(
        "telltale.dev",
        "v1alpha1",
        "MetricCluster",
        json!({"metadata": {"name": "telltale", "namespace": NS},
               "spec": {"serviceMonitorSelector": {"matchLabels": {"release": "kps"}},
                        "scrapeConfigSelector": {}}}),
    )
    .await;

    let discovery = kubernetes_discovery(
        api.client.clone(),
        KubernetesSdOptions {
            namespace: Some(NS.into()),
            debounce: Duration::from_millis(20),
            monitors: Some(OperatorMonitors {
                namespace: NS.into(),
                metric_cluster: "telltale".into(),
            }),
            ..KubernetesSdOptions::default()
        },
    );
    let mut rx = discovery.targets();
    let d = wait_for(&mut rx, "the selected monitors' targets", |d| {
        d.active.len() == 3
    })
    .await;
    assert_eq!(
        pools(&d),
        [
            "scrapeConfig/monitoring/static",
            "serviceMonitor/monitoring/kps-kube-state-metrics/0",
            "serviceMonitor/monitoring/kps-prometheus-node-exporter/0"
        ]
    );
    assert_eq!(
        labels_of(&d, "scrapeConfig/monitoring/static")["source"],
        "static"
    );
    let labels = |pool: &str| -> BTreeMap<String, String> {
        d.active
            .iter()
            .find(|t| t.pool.ends_with(pool))
            .unwrap()
            .labels
            .iter()
            .cloned()
            .collect()
    };
    let node = labels("node-exporter/0");
    let want = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        node.iter()
            .filter(|(k, _)| !k.starts_with("__"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>(),
        want(&[
            ("container", "kps-prometheus-node-exporter"),
            ("endpoint", "http-metrics"),
            ("instance", &format!("127.0.0.1:{port}")),
            ("job", "node-exporter"),
            ("namespace", NS),
            ("pod", "kps-prometheus-node-exporter-abcde"),
            ("service", "kps-prometheus-node-exporter"),
        ])
    );
    assert_eq!(labels("kube-state-metrics/0")["job"], "kube-state-metrics");

    // What is not honoured is said in an Event on the monitor.
    let events: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(api.client.clone(), NS);
    let deadline = Instant::now() + Duration::from_secs(20);
    let event =
        loop {
            let list = events.list(&Default::default()).await.unwrap();
            if let Some(e) = list.items.into_iter().find(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("kps-kubelet")
            }) {
                break e;
            }
            assert!(
                Instant::now() < deadline,
                "no Event on the kubelet ServiceMonitor"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    assert_eq!(event.reason.as_deref(), Some("NotHonoured"));
    let note = event.note.unwrap_or_default();
    assert!(note.contains("spec.scrapeClass"), "{note}");
    assert!(
        !note.contains("tlsConfig") && !note.contains("bearerTokenFile"),
        "{note}"
    );

    // The targets are scraped with those labels.
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    // A receiver that has not seen the current targets, so the manager applies them.
    tokio::spawn(manager.clone().follow(discovery.targets()));
    writer
        .wait_for("a scrape of node-exporter", |b| {
            series_named(b, "node_load1").iter().any(|s| {
                s.label("job") == Some("node-exporter")
                    && s.label("endpoint") == Some("http-metrics")
            })
        })
        .await;

    // The selectors are followed live: now PodMonitors too, and no ServiceMonitor.
    let mc = api.api("telltale.dev", "v1alpha1", "MetricCluster");
    mc.patch(
        "telltale",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"serviceMonitorSelector": null, "podMonitorSelector": {}}})),
    )
    .await
    .unwrap();
    let d = wait_for(
        &mut rx,
        "the PodMonitor instead of the ServiceMonitors",
        |d| {
            pools(d)
                == [
                    "podMonitor/monitoring/pods/0",
                    "scrapeConfig/monitoring/static",
                ]
        },
    )
    .await;
    let pod_target = labels_of(&d, "podMonitor/monitoring/pods/0");
    assert_eq!(pod_target["job"], "monitoring/pods");
    assert_eq!(pod_target["endpoint"], "http");
    manager.shutdown();
}

/// In a cluster a monitor's TLS CA (a ConfigMap) and token (a Secret) are read through
/// the API from its namespace and the target is scraped over TLS with them; a file that
/// is not the pod's service-account file is refused, the target down saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitors_read_their_ca_and_token_from_the_cluster() {
    use base64::Engine as _;
    let pki = telltale_web::testing::Pki::new();
    let port = common::secured_exporter(&pki, "s3cret", false).await.port();
    let api = Emulator::start();
    workload(&api, "shop", json!({"app": "shop"}), "metrics", port).await;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    api.create(
        "",
        "v1",
        "Secret",
        json!({"metadata": {"name": "shop-token", "namespace": NS},
               "data": {"token": b64(b"s3cret\n")}}),
    )
    .await;
    api.create(
        "",
        "v1",
        "ConfigMap",
        json!({"metadata": {"name": "shop-ca", "namespace": NS},
               "data": {"ca.crt": String::from_utf8(pki.read("ca.pem")).unwrap()}}),
    )
    .await;
    api.create(
        "monitoring.coreos.com",
        "v1",
        "ServiceMonitor",
        json!({"metadata": {"name": "shop", "namespace": NS},
               "spec": {"selector": {"matchLabels": {"app": "shop"}},
                        "endpoints": [
                            {"port": "metrics", "scheme": "https", "interval": "200ms",
                             "tlsConfig": {"ca": {"configMap": {"name": "shop-ca", "key": "ca.crt"}},
                                           "serverName": "localhost"},
                             "authorization": {"credentials": {"name": "shop-token", "key": "token"}}},
                            {"port": "metrics", "scheme": "https", "interval": "200ms",
                             "tlsConfig": {"caFile": "/etc/ssl/certs/ca-certificates.crt"},
                             "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}]}}),
    )
    .await;
    api.create(
        "telltale.dev",
        "v1alpha1",
        "MetricCluster",
        json!({"metadata": {"name": "telltale", "namespace": NS},
               "spec": {"serviceMonitorSelector": {}}}),
    )
    .await;
    let discovery = kubernetes_discovery(
        api.client.clone(),
        KubernetesSdOptions {
            namespace: Some(NS.into()),
            debounce: Duration::from_millis(20),
            monitors: Some(OperatorMonitors {
                namespace: NS.into(),
                metric_cluster: "telltale".into(),
            }),
            ..KubernetesSdOptions::default()
        },
    );
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    manager.use_kubernetes_secrets(api.client.clone(), Duration::from_millis(200));
    tokio::spawn(manager.clone().follow(discovery.targets()));
    writer
        .wait_for("a scrape of the secured endpoint", |b| {
            series_named(b, "secured_up")
                .iter()
                .any(|s| s.label("job") == Some("shop"))
        })
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let refused = loop {
        let error = manager
            .targets()
            .into_iter()
            .find(|t| t.target.pool == "serviceMonitor/monitoring/shop/1")
            .and_then(|t| t.health.last_error);
        if let Some(e) = error {
            break e;
        }
        assert!(
            Instant::now() < deadline,
            "the second endpoint was never scraped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        refused,
        "spec.tlsConfig.caFile: /etc/ssl/certs/ca-certificates.crt: files are refused in a cluster (only the pod's service-account files under /var/run/secrets/kubernetes.io/serviceaccount/); use a Secret"
    );

    // A rotated Secret applies at the next refresh: this token is refused.
    let secrets = api.api("", "v1", "Secret");
    let rotated: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "shop-token", "namespace": NS},
        "data": {"token": b64(b"rotated")}}))
    .unwrap();
    secrets
        .replace("shop-token", &PostParams::default(), &rotated)
        .await
        .unwrap();
    let last_error = |manager: &ScrapeManager| {
        manager
            .targets()
            .into_iter()
            .find(|t| t.target.pool == "serviceMonitor/monitoring/shop/0")
            .and_then(|t| t.health.last_error)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while last_error(&manager).as_deref() != Some("server returned HTTP status 401 Unauthorized") {
        assert!(
            Instant::now() < deadline,
            "the rotated token was never sent: {:?}",
            last_error(&manager)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A Secret that cannot be read again leaves the last values in use.
    secrets
        .delete("shop-token", &Default::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        last_error(&manager).as_deref(),
        Some("server returned HTTP status 401 Unauthorized")
    );
    manager.shutdown();
    manager.stopped().await;
}
