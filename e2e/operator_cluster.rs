//! The proof that what the operator deploys works. `telltale operator` runs against an
//! emulated Kubernetes API (kmock, over real HTTP) and renders a small MetricCluster:
//! 1 shard × 3 storage replicas, 2 scrapers, 1 query, 1 alertmanager. Every pod its
//! workloads would create runs as a local `telltale` process with the container's own
//! command line and environment (see `kubelet/` for what stands in for Kubernetes, and
//! the one address mapping onto 127.0.0.1). The API also holds a ScrapeTarget and a Pod
//! standing for a real Debian `prometheus-node-exporter`, and an AlertRule. Shown:
//! - the 3 storage replicas form one Raft group with one leader, and all apply the writes;
//! - they run with the cold tier of `spec.coldStorage` (a `file:///` store here): the
//!   binary takes the rendered `--cold-*` flags and opens its cache on the data volume;
//! - both scrapers run, and the node exporter is scraped by exactly one of them;
//! - `up` and `node_*` series answer through the query pod (HTTP API and promtool);
//! - an alert fires and reaches the webhook receiver of the MetricCluster;
//! - the query pod answers `/api/v1/targets` (both scrapers), the alerting API (amtool
//!   through it) and `/api/v1/status/cluster` (the three replicas);
//! - no pod writes outside its volumes (the root filesystem is read-only in the cluster).

mod common;
mod kubelet;

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{get_json, get_text, query_at, raft_status, value_of};
use kubelet::api::KubeApi;
use kubelet::cluster::{CLUSTER, component, eventually, http_base, read_rendered, start_operator};
use kubelet::network::PodNetwork;
use kubelet::pods::pods_of;
use kubelet::run::{Kubelet, RunningPod};
use serde_json::{Value, json};
use telltale_storage_api::raft_pb::StatusResponse;

const NS: &str = "monitoring";
const ALERT: &str = "NodeExporterScraped";

/// A local HTTP endpoint standing for the receiver's webhook: records every body.
struct WebhookSink {
    url: String,
    received: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookSink {
    async fn start() -> WebhookSink {
        let received = Arc::new(Mutex::new(Vec::new()));
        let store = received.clone();
        let app = axum::Router::new().route(
            "/alerts",
            axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
                let store = store.clone();
                async move {
                    store.lock().unwrap().push(body);
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/alerts", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        WebhookSink {
            url,
            received,
            task,
        }
    }

    /// The firing alerts named `name` received so far.
    fn firing(&self, name: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["labels"]["alertname"] == name && a["status"] == "firing")
            .collect()
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The resources a user would `kubectl apply`: the MetricCluster, a ScrapeTarget selecting
/// the node exporter's pod, an AlertRule; and the node exporter's Pod as the kubelet
/// reports it (running on this machine, at `exporter`).
async fn apply_user_resources(api: &KubeApi, exporter: SocketAddr, webhook: &str, cold: &str) {
    let pod = api
        .create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "node-exporter-7xk2p", "namespace": NS,
                         "labels": {"app": "node-exporter"}},
            "spec": {"containers": [{
                "name": "node-exporter", "image": "debian:prometheus-node-exporter",
                "ports": [{"name": "metrics", "containerPort": exporter.port(), "protocol": "TCP"}],
            }]},
        }))
        .await;
    api.patch_status(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": pod["metadata"]}),
        json!({"phase": "Running", "podIP": exporter.ip().to_string(),
               "hostIP": exporter.ip().to_string(),
               "conditions": [{"type": "Ready", "status": "True"}]}),
    )
    .await;
    api.create(json!({
        "apiVersion": "telltale.dev/v1alpha1", "kind": "ScrapeTarget",
        "metadata": {"name": "node", "namespace": NS},
        "spec": {"job": "node", "interval": "1s", "scrapeTimeout": "1s",
                 "podSelector": {"matchLabels": {"app": "node-exporter"}}, "port": "metrics"},
    }))
    .await;
    api.create(json!({
        "apiVersion": "telltale.dev/v1alpha1", "kind": "AlertRule",
        "metadata": {"name": "node", "namespace": NS},
        "spec": {"groups": [{"name": "node", "interval": "1s", "rules": [{
            "alert": ALERT, "expr": "up{job=\"node\"} == 1",
            "labels": {"severity": "info"},
            "annotations": {"summary": "{{ $labels.instance }} is scraped"},
        }]}]},
    }))
    .await;
    api.create(json!({
        "apiVersion": "telltale.dev/v1alpha1", "kind": "MetricCluster",
        "metadata": {"name": CLUSTER, "namespace": NS},
        "spec": {
            "shards": 1, "replicasPerShard": 3,
            "scraper": {"replicas": 2}, "query": {"replicas": 1}, "alertmanager": {"replicas": 1},
            "coldStorage": {"url": cold, "after": {"raw": "1d", "1h": "30d"},
                            "cacheSize": "64Mi", "memorySize": "16Mi", "moveInterval": "10s"},
            "alerting": {
                "route": {"receiver": "sink", "groupWait": "1s", "groupInterval": "1s",
                          "repeatInterval": "1h"},
                "receivers": [{"name": "sink", "webhooks": [{"url": webhook}]}],
            },
        },
    }))
    .await;
}

/// The value of an unlabelled (or first) sample of `name` in a /metrics page; 0 when absent.
fn metric(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn what_the_operator_renders_scrapes_stores_answers_and_alerts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let api = KubeApi::start();
    let kubeconfig = api.kubeconfig(dir, NS);
    let (_exporter, exporter) = common::start_node_exporter(dir).await;
    let sink = WebhookSink::start().await;

    let mut operator = start_operator(dir, &kubeconfig, NS).await;
    let cold = format!("file://{}", dir.join("cold").display());
    apply_user_resources(&api, exporter, &sink.url, &cold).await;
    let rendered = read_rendered(&api, NS, &mut operator).await;
    // The replicas speak mutual TLS (the default): the test's own status calls too.
    kubelet::cluster::trust_cluster(&rendered);

    // The pods of the workloads, as the controllers would create them.
    let pods = pods_of(&rendered.workloads);
    let count = |c: &str| pods.iter().filter(|p| component(p) == c).count();
    assert_eq!(
        [
            count("storage"),
            count("scraper"),
            count("query"),
            count("alertmanager")
        ],
        [3, 2, 1, 1],
        "pods: {:?}",
        pods.iter().map(|p| &p.name).collect::<Vec<_>>()
    );
    let network = PodNetwork::new(&pods, &rendered.services);
    let kubelet = Kubelet::new(
        dir,
        network,
        rendered.config_maps,
        rendered.secrets,
        rendered.service_accounts,
        kubeconfig,
    );
    let mut running: Vec<RunningPod> = pods.iter().map(|p| kubelet.start(p)).collect();
    for pod in &running {
        let env: Vec<String> = pod.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "{} pod {}:\n  env: {}\n  command: {}",
            pod.workload,
            pod.name,
            env.join(" "),
            pod.command.join(" ")
        );
    }
    for pod in &mut running {
        pod.wait_ready().await;
    }
    kubelet::endpoints::publish(&api, &rendered.services, &pods).await;
    let of = |c: &str| -> Vec<&RunningPod> {
        running
            .iter()
            .zip(&pods)
            .filter(|(_, p)| component(p) == c)
            .map(|(r, _)| r)
            .collect()
    };

    // The cold tier: the flags as rendered (the pods being ready shows the binary took
    // them), and the engine's read cache on each pod's data volume.
    for pod in of("storage") {
        assert_eq!(pod.flag("--cold-storage.url"), Some(cold.as_str()));
        assert_eq!(pod.flag("--cold-after"), Some("raw:1d,1h:4w2d"));
        assert_eq!(
            pod.flag("--cold-storage.cache-size"),
            Some((64u64 << 20).to_string().as_str())
        );
        let data = pod.flag("--data-dir").expect("--data-dir");
        assert!(
            std::path::Path::new(data).join("cold-cache").is_dir(),
            "{}: no {data}/cold-cache",
            pod.name
        );
    }

    // Storage: one Raft group of three, one leader.
    let storage: Vec<String> = of("storage")
        .iter()
        .map(|p| p.flag("--grpc-listen").expect("--grpc-listen").to_string())
        .collect();
    let (leader, term) = eventually(
        "one Raft leader among the 3 replicas",
        Duration::from_secs(30),
        &running,
        || async {
            let mut statuses = Vec::new();
            for a in &storage {
                statuses.push(raft_status(a).await?);
            }
            let leaders: Vec<&StatusResponse> =
                statuses.iter().filter(|s| s.role == "leader").collect();
            let [leader] = leaders.as_slice() else {
                return None;
            };
            let agreed = statuses
                .iter()
                .all(|s| s.leader_id == leader.id && s.term == leader.term && s.voters.len() == 3);
            agreed.then_some((leader.id, leader.term))
        },
    )
    .await;
    eprintln!("Raft leader: replica {leader} (term {term})");

    // Scrapers: both run and see the target; exactly one scrapes it.
    let scrapers: Vec<String> = of("scraper").iter().map(|p| http_base(p)).collect();
    assert_eq!(scrapers.len(), 2);
    let owner = eventually(
        "the node exporter scraped by exactly one scraper",
        Duration::from_secs(60),
        &running,
        || async {
            let mut owners = Vec::new();
            for (i, base) in scrapers.iter().enumerate() {
                let targets = get_json(&format!("{base}/api/v1/targets")).await;
                let active = targets["data"]["activeTargets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                for t in active.iter().filter(|t| t["labels"]["job"] == "node") {
                    owners.push((
                        i,
                        t["health"].as_str().unwrap_or_default().to_string(),
                        t["scrapeUrl"].clone(),
                    ));
                }
            }
            match &owners[..] {
                [(i, health, url)] if health == "up" => {
                    assert!(
                        url.as_str().unwrap().contains(&exporter.to_string()),
                        "{url}"
                    );
                    Some(*i)
                }
                _ => None,
            }
        },
    )
    .await;
    for (i, base) in scrapers.iter().enumerate() {
        let page = get_text(&format!("{base}/metrics")).await;
        assert_eq!(
            metric(&page, "telltale_scraper_members"),
            2.0,
            "{base}: {page}"
        );
        // Both see the target; only its owner runs a scrape loop for it.
        assert_eq!(
            metric(&page, "telltale_scrape_targets_discovered"),
            1.0,
            "{base}: {page}"
        );
        let (loops, scrapes) = (
            metric(&page, "telltale_scrape_targets"),
            metric(&page, "telltale_scrapes_total"),
        );
        if i == owner {
            assert!(loops == 1.0 && scrapes > 0.0, "the owner {base}: {page}");
        } else {
            assert!(
                loops == 0.0 && scrapes == 0.0,
                "{base} scraped a target it does not own: {page}"
            );
        }
    }

    // Query: `up` and node_* series, through the HTTP API and promtool.
    let query = http_base(of("query")[0]);
    let up = eventually(
        "up{job=\"node\"} through the query pod",
        Duration::from_secs(60),
        &running,
        || async {
            let r = query_at(&query, "up{job=\"node\"}").await;
            (!r.is_empty()).then_some(r)
        },
    )
    .await;
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(value_of(&up[0]), 1.0);
    let node_series = query_at(&query, "count({__name__=~\"node_.+\", job=\"node\"})").await;
    assert!(value_of(&node_series[0]) > 50.0, "{node_series:?}");
    let promtool = Command::new("promtool")
        .args([
            "query",
            "instant",
            &query,
            "node_exporter_build_info{job=\"node\"}",
        ])
        .output()
        .expect("promtool (Debian package prometheus) is installed");
    let out = String::from_utf8_lossy(&promtool.stdout);
    assert!(
        promtool.status.success(),
        "promtool: {out} {}",
        String::from_utf8_lossy(&promtool.stderr)
    );
    assert!(
        out.contains("node_exporter_build_info{") && out.contains("=> 1 @["),
        "promtool: {out}"
    );
    let promtool = Command::new("promtool")
        .args(["query", "instant", &query, "up"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&promtool.stdout);
    assert!(
        out.contains("job=\"node\"") && out.contains("=> 1 @["),
        "promtool: {out}"
    );

    // Every replica applies what the leader committed.
    let leader_address = &storage[(leader - 1) as usize];
    let committed = raft_status(leader_address)
        .await
        .expect("leader status")
        .applied_index;
    eventually(
        "every replica applies the writes",
        Duration::from_secs(30),
        &running,
        || async {
            let mut all = true;
            for a in &storage {
                all &= raft_status(a).await?.applied_index >= committed;
            }
            all.then_some(())
        },
    )
    .await;

    // Alerting: the AlertRule fires and the MetricCluster's webhook receiver gets it.
    let fired = eventually(
        "the alert at the webhook receiver",
        Duration::from_secs(60),
        &running,
        || async {
            let alerts = sink.firing(ALERT);
            (!alerts.is_empty()).then_some(alerts)
        },
    )
    .await;
    assert_eq!(fired[0]["labels"]["job"], "node", "{fired:?}");
    assert_eq!(fired[0]["labels"]["severity"], "info", "{fired:?}");

    // The query pod answers for the other components, through the flags the operator
    // rendered: both scrapers' targets merged (the node exporter once, named by the
    // replica that owns it), the alertmanager's alerts, rules and silences, and every
    // storage replica's Raft status and disk.
    let owner_name = &of("scraper")[owner].name;
    let targets = get_json(&format!("{query}/api/v1/targets")).await;
    let node: Vec<&Value> = targets["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["labels"]["job"] == "node")
        .collect();
    assert_eq!(node.len(), 1, "{targets}");
    assert_eq!(node[0]["scraper"], owner_name.as_str(), "{targets}");
    assert!(
        targets.get("warnings").is_none(),
        "a scraper is missing: {targets}"
    );
    // Metric metadata from the scraper that scrapes the node exporter.
    let metadata = get_json(&format!(
        "{query}/api/v1/metadata?metric=node_cpu_seconds_total"
    ))
    .await;
    assert_eq!(
        metadata["data"]["node_cpu_seconds_total"][0]["type"], "counter",
        "{metadata}"
    );
    let per_target = get_json(&format!(
        "{query}/api/v1/targets/metadata?metric=node_load1"
    ))
    .await;
    assert_eq!(
        per_target["data"][0]["target"]["job"], "node",
        "{per_target}"
    );
    assert_eq!(per_target["data"][0]["type"], "gauge", "{per_target}");
    let alerts = get_json(&format!("{query}/api/v1/alerts")).await;
    assert!(
        alerts["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["labels"]["alertname"] == ALERT && a["state"] == "firing"),
        "{alerts}"
    );
    let rules = get_json(&format!("{query}/api/v1/rules")).await;
    assert_eq!(rules["data"]["groups"][0]["name"], "node", "{rules}");
    let amtool = Command::new("amtool")
        .args([
            "silence",
            "add",
            &format!("alertname={ALERT}"),
            "--comment=through the query pod",
            "--author=e2e",
            "--duration=1h",
            &format!("--alertmanager.url={query}"),
        ])
        .output()
        .expect("amtool (Debian package prometheus-alertmanager) is installed");
    assert!(
        amtool.status.success(),
        "amtool: {}",
        String::from_utf8_lossy(&amtool.stderr)
    );
    let silences = get_json(&format!("{query}/api/v2/silences")).await;
    assert!(
        silences
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["comment"] == "through the query pod"),
        "{silences}"
    );
    let status = get_json(&format!("{query}/api/v1/status/cluster")).await;
    let shard = &status["data"]["shards"][0];
    assert_eq!(shard["leader_id"], leader, "{status}");
    let replicas = shard["replicas"].as_array().unwrap();
    assert_eq!(replicas.len(), 3, "{status}");
    assert!(
        replicas
            .iter()
            .all(|r| r["lag"].is_u64() && r["disk_bytes"]["raw"].is_u64()),
        "{status}"
    );

    for pod in &running {
        pod.assert_root_untouched();
    }
    // Stop every pod by its PID (each is also killed if the test panics, on drop).
    for mut pod in running {
        pod.proc.kill9();
    }
    operator.kill9();
}
