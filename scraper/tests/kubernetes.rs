//! Kubernetes discovery against a fake API server over real HTTP: an axum server that
//! answers list and watch requests for ScrapeTargets, Pods, EndpointSlices and Services
//! the way the API server does (a list with a resourceVersion, then a stream of
//! newline-delimited watch events). The scraper's real kube client code watches it; the
//! pods point at a local exporter, so the targets are really scraped. Scraper replicas
//! learn their live member set from the EndpointSlices of their Service the same way.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::{Exporter, MemoryWriter, series_named, serve_app};
use serde_json::{Value, json};
use telltale_scraper::discovery::k8s::{
    AnnotatedPods, KubernetesSdOptions, MemberSetOptions, kubernetes_discovery, watch_member_set,
};
use telltale_scraper::{Discovery, ScrapeManager};
use tokio::sync::{broadcast, watch};

const PODS: &str = "/api/v1/pods";
const SERVICES: &str = "/api/v1/services";
const SLICES: &str = "/apis/discovery.k8s.io/v1/endpointslices";
const SCRAPE_TARGETS: &str = "/apis/telltale.dev/v1alpha1/scrapetargets";
const NODES: &str = "/api/v1/nodes";

/// One kind's objects, its event log and live watchers.
struct Kind {
    api_version: &'static str,
    list_kind: &'static str,
    objects: Mutex<BTreeMap<String, Value>>,
    log: Mutex<Vec<(u64, String)>>,
    events: broadcast::Sender<(u64, String)>,
}

#[derive(Clone)]
struct FakeApi {
    kinds: Arc<HashMap<&'static str, Kind>>,
    rv: Arc<AtomicU64>,
    watches: Arc<AtomicU64>,
    /// Every path listed or watched.
    paths: Arc<Mutex<std::collections::BTreeSet<String>>>,
}

impl FakeApi {
    fn new() -> Self {
        let kind = |api_version, list_kind| Kind {
            api_version,
            list_kind,
            objects: Mutex::new(BTreeMap::new()),
            log: Mutex::new(Vec::new()),
            events: broadcast::channel(1024).0,
        };
        let kinds = HashMap::from([
            (PODS, kind("v1", "PodList")),
            (SERVICES, kind("v1", "ServiceList")),
            (SLICES, kind("discovery.k8s.io/v1", "EndpointSliceList")),
            (NODES, kind("v1", "NodeList")),
            (
                SCRAPE_TARGETS,
                kind("telltale.dev/v1alpha1", "ScrapeTargetList"),
            ),
        ]);
        FakeApi {
            kinds: Arc::new(kinds),
            rv: Arc::new(AtomicU64::new(1)),
            watches: Arc::new(AtomicU64::new(0)),
            paths: Arc::default(),
        }
    }

    /// Stores `object` (ADDED, MODIFIED or DELETED) and tells the watchers.
    fn event(&self, path: &str, kind_name: &str, event: &str, mut object: Value) {
        let kind = &self.kinds[path];
        let rv = self.rv.fetch_add(1, Ordering::SeqCst) + 1;
        object["apiVersion"] = json!(kind.api_version);
        object["kind"] = json!(kind_name);
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let key = format!(
            "{}/{}",
            object["metadata"]["namespace"].as_str().unwrap_or(""),
            object["metadata"]["name"].as_str().unwrap()
        );
        {
            let mut objects = kind.objects.lock().unwrap();
            if event == "DELETED" {
                objects.remove(&key);
            } else {
                objects.insert(key, object.clone());
            }
        }
        let line = format!("{}\n", json!({"type": event, "object": object}));
        kind.log.lock().unwrap().push((rv, line.clone()));
        let _ = kind.events.send((rv, line));
    }

    fn router(&self) -> Router {
        Router::new().fallback(serve).with_state(self.clone())
    }
}

async fn serve(
    State(api): State<FakeApi>,
    uri: Uri,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // A namespaced list or watch of endpoint slices reads the same store (the tests put
    // every slice in the namespace asked for).
    let path = match uri
        .path()
        .strip_prefix("/apis/discovery.k8s.io/v1/namespaces/")
    {
        Some(rest) if rest.ends_with("/endpointslices") => SLICES,
        _ => uri.path(),
    };
    api.paths.lock().unwrap().insert(path.to_string());
    let Some(kind) = api.kinds.get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        api.watches.fetch_add(1, Ordering::SeqCst);
        let since: u64 = q
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let live = kind.events.subscribe();
        let backlog: Vec<(u64, String)> = kind
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|(rv, _)| *rv > since)
            .cloned()
            .collect();
        let last = backlog.last().map_or(since, |(rv, _)| *rv);
        let replay = futures::stream::iter(
            backlog
                .into_iter()
                .map(|(_, l)| Ok::<Bytes, Infallible>(Bytes::from(l))),
        );
        let follow = futures::stream::unfold(live, move |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok((rv, line)) if rv > last => return Some((Ok(Bytes::from(line)), rx)),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        use futures::StreamExt;
        return (
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(replay.chain(follow)),
        )
            .into_response();
    }
    let items: Vec<Value> = kind.objects.lock().unwrap().values().cloned().collect();
    let list = json!({
        "apiVersion": kind.api_version,
        "kind": kind.list_kind,
        "metadata": {"resourceVersion": api.rv.load(Ordering::SeqCst).to_string()},
        "items": items,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        list.to_string(),
    )
        .into_response()
}

fn pod(name: &str, ns: &str, app: &str, port: u16, annotations: Value) -> Value {
    json!({
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"),
            "labels": {"app": app}, "annotations": annotations},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "app:1",
            "ports": [{"name": "metrics", "containerPort": port}, {"name": "http", "containerPort": 1}]}]},
        "status": {"phase": "Running", "podIP": "127.0.0.1", "hostIP": "10.1.0.1",
            "conditions": [{"type": "Ready", "status": "True"}]}
    })
}

async fn wait_for(
    rx: &mut watch::Receiver<Discovery>,
    what: &str,
    pred: impl Fn(&Discovery) -> bool,
) -> Discovery {
    let deadline = Instant::now() + Duration::from_secs(20);
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

fn addresses(d: &Discovery) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = d
        .active
        .iter()
        .map(|t| (t.pool.clone(), t.address.clone()))
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_the_api_and_scrapes_what_it_selects() {
    let exporter = Exporter::start("# TYPE requests_total counter\nrequests_total 7\n").await;
    let port = exporter.addr.port();
    let api = FakeApi::new();
    api.event(
        SCRAPE_TARGETS,
        "ScrapeTarget",
        "ADDED",
        json!({
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {
                "interval": "1s", "scrapeTimeout": "1s",
                "podSelector": {"matchLabels": {"app": "api"}},
                "port": "metrics",
                "relabelings": [
                    {"sourceLabels": ["__meta_kubernetes_pod_name"], "targetLabel": "pod"},
                    {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}
                ]
            }
        }),
    );
    api.event(
        SCRAPE_TARGETS,
        "ScrapeTarget",
        "ADDED",
        json!({
            "metadata": {"name": "svc", "namespace": "shop"},
            "spec": {"serviceSelector": {"matchLabels": {"team": "a"}}, "port": port,
                     "namespaceSelector": {"any": true}}
        }),
    );
    api.event(
        PODS,
        "Pod",
        "ADDED",
        pod("api-1", "shop", "api", port, json!({})),
    );
    api.event(
        PODS,
        "Pod",
        "ADDED",
        pod("api-x", "elsewhere", "api", port, json!({})),
    );
    api.event(
        SERVICES,
        "Service",
        "ADDED",
        json!({"metadata": {"name": "backend", "namespace": "other", "labels": {"team": "a"}}}),
    );
    api.event(
        SLICES,
        "EndpointSlice",
        "ADDED",
        json!({
            "metadata": {"name": "backend-1", "namespace": "other",
                "labels": {"kubernetes.io/service-name": "backend"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["127.0.0.2"], "conditions": {"ready": true}}],
            "ports": [{"name": "metrics", "port": port}]
        }),
    );
    let base = serve_app(api.router()).await;
    let config = kube::Config::new(base.parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let discovery = kubernetes_discovery(
        client,
        KubernetesSdOptions {
            annotated_pods: Some(AnnotatedPods {
                interval: telltale_crds::PromDuration::from_secs(1),
                timeout: telltale_crds::PromDuration::from_secs(1),
            }),
            debounce: Duration::from_millis(20),
            ..KubernetesSdOptions::default()
        },
    );
    let mut rx = discovery.targets();
    let d = wait_for(&mut rx, "the initial targets", |d| d.active.len() == 2).await;
    assert_eq!(
        addresses(&d),
        vec![
            ("shop/api".into(), format!("127.0.0.1:{port}")),
            ("shop/svc".into(), format!("127.0.0.2:{port}")),
        ]
    );
    let api_target = d.active.iter().find(|t| t.pool == "shop/api").unwrap();
    let labels: BTreeMap<_, _> = api_target.labels.iter().cloned().collect();
    assert_eq!(labels["pod"], "api-1");
    assert_eq!(labels["node"], "node-1");
    assert_eq!(labels["job"], "api");
    let meta: BTreeMap<_, _> = api_target.discovered_labels.iter().cloned().collect();
    assert_eq!(meta["__meta_kubernetes_namespace"], "shop");
    assert_eq!(meta["__meta_kubernetes_pod_ready"], "true");
    assert_eq!(meta["__meta_kubernetes_pod_ip"], "127.0.0.1");
    assert_eq!(meta["__meta_kubernetes_pod_label_app"], "api");
    assert_eq!(
        meta["__meta_kubernetes_pod_container_port_number"],
        port.to_string()
    );
    let svc_target = d.active.iter().find(|t| t.pool == "shop/svc").unwrap();
    let meta: BTreeMap<_, _> = svc_target.discovered_labels.iter().cloned().collect();
    assert_eq!(meta["__meta_kubernetes_service_name"], "backend");
    assert_eq!(meta["__meta_kubernetes_service_label_team"], "a");
    assert_eq!(meta["__meta_kubernetes_endpointslice_port_name"], "metrics");

    // The manager follows the discovery and really scrapes the selected pod.
    let writer = MemoryWriter::new();
    let manager = ScrapeManager::new(writer.clone(), &prometheus::Registry::new());
    tokio::spawn(manager.clone().follow(rx.clone()));
    // Nudge the channel so the follower sees the current value.
    api.event(
        PODS,
        "Pod",
        "ADDED",
        pod("api-2", "shop", "api", port, json!({})),
    );
    let d = wait_for(&mut rx, "the second pod", |d| d.active.len() == 3).await;
    assert_eq!(d.active.iter().filter(|t| t.pool == "shop/api").count(), 2);
    writer
        .wait_for("a scrape of the discovered pod", |b| {
            series_named(b, "requests_total")
                .iter()
                .any(|s| s.label("pod") == Some("api-1"))
        })
        .await;

    // Watch events: an annotated pod appears, a selected one goes away.
    api.event(
        PODS,
        "Pod",
        "ADDED",
        pod(
            "annotated",
            "tools",
            "tool",
            port,
            json!({"prometheus.io/scrape": "true", "prometheus.io/path": "/custom"}),
        ),
    );
    api.event(
        PODS,
        "Pod",
        "DELETED",
        pod("api-1", "shop", "api", port, json!({})),
    );
    let d = wait_for(&mut rx, "the annotated pod and the deletion", |d| {
        d.active.iter().any(|t| t.pool == "kubernetes-pods")
            && d.active.iter().filter(|t| t.pool == "shop/api").count() == 1
    })
    .await;
    let annotated = d
        .active
        .iter()
        .find(|t| t.pool == "kubernetes-pods")
        .unwrap();
    assert_eq!(
        annotated.url.as_str(),
        format!("http://127.0.0.1:{port}/custom")
    );
    let labels: BTreeMap<_, _> = annotated.labels.iter().cloned().collect();
    assert_eq!(labels["namespace"], "tools");
    assert_eq!(labels["pod"], "annotated");
    assert_eq!(labels["app"], "tool");
    writer
        .wait_for("a scrape of the annotated pod", |b| {
            series_named(b, "requests_total")
                .iter()
                .any(|s| s.label("pod") == Some("annotated"))
        })
        .await;
    assert!(
        exporter.seen().iter().any(|r| r.uri.path() == "/custom"),
        "the annotation's path was scraped"
    );
    assert!(
        api.watches.load(Ordering::SeqCst) >= 4,
        "every kind is watched, not polled"
    );
    manager.shutdown();
}

fn scraper_endpoints(names: &[&str]) -> Value {
    let endpoints: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"addresses": [format!("10.0.0.{i}")], "conditions": {"ready": true},
                   "targetRef": {"kind": "Pod", "name": n, "namespace": "monitoring"}})
        })
        .collect();
    json!({
        "metadata": {"name": "scrapers-x1", "namespace": "monitoring",
            "labels": {"kubernetes.io/service-name": "scrapers"}},
        "addressType": "IPv4",
        "endpoints": endpoints,
    })
}

type Owned = Vec<std::collections::HashSet<String>>;

/// The addresses each manager scrapes, and how many are scraped by two.
fn ownership(managers: &[Arc<ScrapeManager>]) -> (Owned, usize) {
    let owned: Owned = managers
        .iter()
        .map(|m| {
            m.targets()
                .iter()
                .map(|t| t.target.address.clone())
                .collect()
        })
        .collect();
    let mut doubles = 0;
    for (i, a) in owned.iter().enumerate() {
        for b in &owned[i + 1..] {
            doubles += a.intersection(b).count();
        }
    }
    (owned, doubles)
}

/// [`ownership`], failing when a target is scraped by two replicas.
fn owned_once(managers: &[Arc<ScrapeManager>]) -> Owned {
    let (owned, doubles) = ownership(managers);
    assert_eq!(doubles, 0, "targets scraped by two replicas: {owned:?}");
    owned
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapers_learn_their_live_set_from_the_services_endpoints() {
    const TARGETS: usize = 90;
    let names = ["scraper-0", "scraper-1", "scraper-2"];
    let api = FakeApi::new();
    api.event(SLICES, "EndpointSlice", "ADDED", scraper_endpoints(&names));
    // Another Service's endpoints are not members.
    api.event(
        SLICES,
        "EndpointSlice",
        "ADDED",
        json!({
            "metadata": {"name": "web-1", "namespace": "monitoring",
                "labels": {"kubernetes.io/service-name": "web"}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["10.0.1.1"], "targetRef": {"kind": "Pod", "name": "web-0"}}]
        }),
    );
    let base = serve_app(api.router()).await;
    let client = kube::Client::try_from(kube::Config::new(base.parse().unwrap())).unwrap();

    // Targets nobody listens on: ownership is what is checked, not the scrapes.
    let addrs: Vec<String> = (1..=TARGETS).map(|p| format!("'127.0.0.1:{p}'")).collect();
    let resources = common::scrape_targets(&format!(
        "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: fleet}}\n\
spec:\n  interval: 1s\n  scrapeTimeout: 500ms\n  static: [{{targets: [{}]}}]\n",
        addrs.join(", ")
    ));
    let writer = MemoryWriter::new();
    let mut watches = Vec::new();
    let mut managers = Vec::new();
    for name in names {
        let (membership, watch) = watch_member_set(
            client.clone(),
            name,
            Vec::new(),
            MemberSetOptions {
                namespace: "monitoring".into(),
                service: "scrapers".into(),
                debounce: Duration::from_millis(50),
            },
        );
        let manager = ScrapeManager::with_membership(
            writer.clone(),
            &prometheus::Registry::new(),
            membership,
        );
        manager.apply(&resources);
        watches.push(Some(watch));
        managers.push(manager);
    }

    // Until the endpoints are listed nobody scrapes; then each target has one owner.
    let deadline = Instant::now() + Duration::from_secs(20);
    let before = loop {
        let owned = owned_once(&managers);
        if owned.iter().map(|o| o.len()).sum::<usize>() == TARGETS {
            break owned;
        }
        assert!(
            Instant::now() < deadline,
            "targets not all owned: {owned:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        before.iter().all(|o| !o.is_empty()),
        "each replica has a share"
    );

    // scraper-2's pod goes away: it stops, and its endpoint leaves the slice.
    managers[2].shutdown();
    watches[2] = None;
    let survivors = &managers[..2];
    let removed_at = Instant::now();
    api.event(
        SLICES,
        "EndpointSlice",
        "MODIFIED",
        scraper_endpoints(&names[..2]),
    );
    let after = loop {
        let owned = owned_once(survivors);
        if owned.iter().map(|o| o.len()).sum::<usize>() == TARGETS {
            break owned;
        }
        assert!(
            removed_at.elapsed() < Duration::from_secs(5),
            "scraper-2's targets not taken over within the membership delay"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    // Only scraper-2's share moved.
    for i in 0..2 {
        assert!(before[i].is_subset(&after[i]), "scraper-{i} lost targets");
    }
    let moved: usize = (0..2).map(|i| after[i].len() - before[i].len()).sum();
    assert_eq!(moved, before[2].len());

    // A new pod joins: it takes a share from both. (While the replicas' watches catch
    // up a moving target can briefly have two owners; once settled, exactly one.)
    let (membership, _watch3) = watch_member_set(
        client.clone(),
        "scraper-3",
        Vec::new(),
        MemberSetOptions {
            namespace: "monitoring".into(),
            service: "scrapers".into(),
            debounce: Duration::from_millis(50),
        },
    );
    let joined =
        ScrapeManager::with_membership(writer.clone(), &prometheus::Registry::new(), membership);
    joined.apply(&resources);
    api.event(
        SLICES,
        "EndpointSlice",
        "MODIFIED",
        scraper_endpoints(&["scraper-0", "scraper-1", "scraper-3"]),
    );
    let live = [managers[0].clone(), managers[1].clone(), joined.clone()];
    let joined_at = Instant::now();
    loop {
        let (owned, doubles) = ownership(&live);
        let total: usize = owned.iter().map(|o| o.len()).sum();
        if doubles == 0 && total == TARGETS && !owned[2].is_empty() {
            break;
        }
        assert!(
            joined_at.elapsed() < Duration::from_secs(5),
            "the new replica got no share: {owned:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        api.watches.load(Ordering::SeqCst) >= 4,
        "each replica watches the endpoints"
    );
    for m in &live {
        m.shutdown();
    }
}

/// prometheus.yml's scrape configs (translated into ScrapeTargets, not in the API) are
/// served by the same watches: `kubernetes_sd_configs` role pod with Prometheus's
/// annotation relabeling over the watched pods, static targets as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_yml_kubernetes_sd_configs_use_the_watches() {
    let api = FakeApi::new();
    api.event(
        PODS,
        "Pod",
        "ADDED",
        pod(
            "api-1",
            "shop",
            "api",
            9000,
            json!({"prometheus.io/scrape": "true"}),
        ),
    );
    api.event(
        PODS,
        "Pod",
        "ADDED",
        pod("web-1", "shop", "web", 9001, json!({})),
    );
    let config = telltale_crds::PrometheusConfig::from_str(
        std::path::Path::new("prometheus.yml"),
        r#"
scrape_configs:
  - job_name: kubernetes-pods
    kubernetes_sd_configs: [{role: pod}]
    relabel_configs:
      - {source_labels: [__meta_kubernetes_pod_annotation_prometheus_io_scrape], action: keep, regex: true}
      - {source_labels: [__meta_kubernetes_pod_container_port_name], action: keep, regex: metrics}
      - {source_labels: [__meta_kubernetes_pod_name], target_label: pod}
  - job_name: static
    static_configs: [{targets: ["10.9.9.9:9100"]}]
"#,
    )
    .unwrap();
    let base = serve_app(api.router()).await;
    let client = kube::Client::try_from(kube::Config::new(base.parse().unwrap())).unwrap();
    let discovery = kubernetes_discovery(
        client,
        KubernetesSdOptions {
            debounce: Duration::from_millis(20),
            scrape_targets: config.scrape_targets(),
            ..KubernetesSdOptions::default()
        },
    );
    let mut rx = discovery.targets();
    let d = wait_for(&mut rx, "the prometheus.yml targets", |d| {
        d.active.len() == 2
    })
    .await;
    assert_eq!(
        addresses(&d),
        vec![
            ("kubernetes-pods".into(), "127.0.0.1:9000".into()),
            ("static".into(), "10.9.9.9:9100".into()),
        ]
    );
    let pod_target = d
        .active
        .iter()
        .find(|t| t.job == "kubernetes-pods")
        .unwrap();
    assert!(pod_target.labels.contains(&("pod".into(), "api-1".into())));

    // A pod annotated later is picked up from the watch.
    api.event(
        PODS,
        "Pod",
        "MODIFIED",
        pod(
            "web-1",
            "shop",
            "web",
            9001,
            json!({"prometheus.io/scrape": "true"}),
        ),
    );
    wait_for(&mut rx, "the newly annotated pod", |d| d.active.len() == 3).await;
}

fn node(name: &str, os: &str, port: u16) -> Value {
    json!({
        "metadata": {"name": name, "labels": {"kubernetes.io/os": os}},
        "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}
    })
}

/// prometheus.yml's `node` role: Nodes are watched (cluster-wide) only once a resource
/// selects them, each selected node one target at its kubelet port, with Prometheus's
/// `instance` (the node's name) and `__meta_kubernetes_node_*` labels; a node added
/// later is picked up from the watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_yml_node_role_watches_nodes_when_asked() {
    let api = FakeApi::new();
    api.event(NODES, "Node", "ADDED", node("n1", "linux", 10250));
    api.event(NODES, "Node", "ADDED", node("w1", "windows", 10250));
    let base = serve_app(api.router()).await;
    let client = kube::Client::try_from(kube::Config::new(base.parse().unwrap())).unwrap();
    let config = |text: &str| {
        telltale_crds::PrometheusConfig::from_str(std::path::Path::new("prometheus.yml"), text)
            .unwrap()
            .scrape_targets()
    };
    let static_only =
        config("scrape_configs: [{job_name: s, static_configs: [{targets: ['10.9.9.9:9100']}]}]");
    let discovery = kubernetes_discovery(
        client.clone(),
        KubernetesSdOptions {
            debounce: Duration::from_millis(20),
            scrape_targets: static_only,
            ..KubernetesSdOptions::default()
        },
    );
    wait_for(&mut discovery.targets(), "the static target", |d| {
        d.active.len() == 1
    })
    .await;
    assert!(
        !api.paths.lock().unwrap().contains(NODES),
        "nodes watched unasked"
    );
    drop(discovery);

    let kubelets = config(
        r#"
scrape_configs:
  - job_name: kubelet
    kubernetes_sd_configs:
      - role: node
        selectors: [{role: node, label: "kubernetes.io/os=linux"}]
    relabel_configs:
      - {action: labelmap, regex: __meta_kubernetes_node_label_(.+)}
"#,
    );
    let discovery = kubernetes_discovery(
        client,
        KubernetesSdOptions {
            debounce: Duration::from_millis(20),
            scrape_targets: kubelets,
            ..KubernetesSdOptions::default()
        },
    );
    let mut rx = discovery.targets();
    let d = wait_for(&mut rx, "the linux node's kubelet", |d| d.active.len() == 1).await;
    assert_eq!(
        addresses(&d),
        vec![("kubelet".into(), "127.0.0.1:10250".into())]
    );
    let labels: BTreeMap<_, _> = d.active[0].labels.iter().cloned().collect();
    assert_eq!(labels["instance"], "n1");
    assert_eq!(labels["kubernetes_io_os"], "linux");
    api.event(NODES, "Node", "ADDED", node("n2", "linux", 10255));
    let d = wait_for(&mut rx, "the node added later", |d| d.active.len() == 2).await;
    assert_eq!(
        addresses(&d),
        vec![
            ("kubelet".into(), "127.0.0.1:10250".into()),
            ("kubelet".into(), "127.0.0.1:10255".into()),
        ]
    );
}

/// With prometheus-operator's monitors asked for but their CRDs not installed (the API
/// answers 404 for ServiceMonitors, PodMonitors, MetricClusters and Namespaces alike),
/// the ScrapeTargets are discovered as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absent_monitor_crds_do_not_hold_back_scrape_targets() {
    let api = FakeApi::new();
    api.event(
        SCRAPE_TARGETS,
        "ScrapeTarget",
        "ADDED",
        json!({
            "metadata": {"name": "api", "namespace": "shop"},
            "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "port": "metrics"}
        }),
    );
    api.event(
        PODS,
        "Pod",
        "ADDED",
        pod("api-1", "shop", "api", 9100, json!({})),
    );
    let base = serve_app(api.router()).await;
    let client = kube::Client::try_from(kube::Config::new(base.parse().unwrap())).unwrap();
    let discovery = kubernetes_discovery(
        client,
        KubernetesSdOptions {
            debounce: Duration::from_millis(20),
            monitors: Some(telltale_scraper::OperatorMonitors {
                namespace: "shop".into(),
                metric_cluster: "telltale".into(),
            }),
            ..KubernetesSdOptions::default()
        },
    );
    let mut rx = discovery.targets();
    let d = wait_for(&mut rx, "the ScrapeTarget's pod", |d| d.active.len() == 1).await;
    assert_eq!(
        addresses(&d),
        vec![("shop/api".into(), "127.0.0.1:9100".into())]
    );
}
