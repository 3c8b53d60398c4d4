//! [`kubernetes_discovery`]: the watches (kube's `watcher` feeding a `reflector` store per
//! kind — no polling) and the task that turns every change, debounced, into a new
//! [`Discovery`] on a watch channel.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use telltale_crds::ScrapeTarget;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use super::monitors::{MonitorSnapshot, monitor_targets};
use super::selection::{KubernetesSelection, split_scrape_target};
use super::targets::{AnnotatedPods, Snapshot, kubernetes_targets};
use crate::discovery::Discovery;

/// Settings of [`kubernetes_discovery`].
#[derive(Clone, Debug)]
pub struct KubernetesSdOptions {
    /// Watch only this namespace (`None`: every namespace, which needs cluster-wide
    /// list/watch permissions).
    pub namespace: Option<String>,
    /// Also scrape pods annotated `prometheus.io/scrape: "true"` (opt-in per cluster).
    pub annotated_pods: Option<AnnotatedPods>,
    /// How long to let changes settle before recomputing the targets.
    pub debounce: Duration,
    /// ScrapeTargets that do not come from the API (prometheus.yml's scrape configs,
    /// see `telltale_crds::PrometheusConfig::scrape_targets`), served next to the
    /// watched ones: their `kubernetesSd` over the watched objects, their static targets
    /// as they are.
    pub scrape_targets: Vec<ScrapeTarget>,
    /// Also scrape prometheus-operator's ServiceMonitors and PodMonitors (watched in the
    /// same namespaces as the rest) that this MetricCluster's selectors pick.
    pub monitors: Option<OperatorMonitors>,
    /// Watch ScrapeTarget resources (false: only `scrape_targets` are served, as
    /// standalone's prometheus.yml and Alertmanager discovery want, in a cluster without
    /// Telltale's CRDs).
    pub watch_scrape_targets: bool,
}

/// Where the selectors of prometheus-operator's monitors come from.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorMonitors {
    /// The MetricCluster's namespace: the one unset namespace selectors mean.
    pub namespace: String,
    /// The MetricCluster whose `serviceMonitorSelector`, `podMonitorSelector` and their
    /// namespace selectors apply (nothing is selected while it does not exist).
    pub metric_cluster: String,
}

impl Default for KubernetesSdOptions {
    fn default() -> Self {
        KubernetesSdOptions {
            namespace: None,
            annotated_pods: None,
            debounce: Duration::from_millis(200),
            scrape_targets: Vec::new(),
            monitors: None,
            watch_scrape_targets: true,
        }
    }
}

/// The running discovery: its targets on a watch channel. Dropping it stops the watches.
pub struct KubernetesDiscovery {
    targets: watch::Receiver<Discovery>,
    tasks: Vec<JoinHandle<()>>,
}

impl KubernetesDiscovery {
    /// The targets, updated on every change once every watch has listed its objects
    /// (the initial value, before that, is empty and not marked as changed).
    pub fn targets(&self) -> watch::Receiver<Discovery> {
        self.targets.clone()
    }
}

impl Drop for KubernetesDiscovery {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The `ApiResource` of `ScrapeTarget` (read as a dynamic object, see
/// [`split_scrape_target`]).
pub fn scrape_target_resource() -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        telltale_crds::GROUP,
        telltale_crds::VERSION,
        "ScrapeTarget",
    ))
}

/// The `ApiResource` of one of prometheus-operator's kinds (`monitoring.coreos.com/v1`).
pub fn operator_resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk(
        telltale_crds::prometheus_operator::GROUP,
        telltale_crds::prometheus_operator::VERSION,
        kind,
    ))
}

/// Starts watching ScrapeTargets, Pods, EndpointSlices and Services (and, with
/// `options.monitors`, ServiceMonitors, PodMonitors, the MetricCluster and Namespaces)
/// through `client` and publishes the targets they describe. Kinds that are optional
/// here (prometheus-operator's CRDs may not be installed, Namespaces may not be
/// readable) hold nothing until their watch succeeds, and never hold the rest back.
/// Must be called within a Tokio runtime.
pub fn kubernetes_discovery(client: Client, options: KubernetesSdOptions) -> KubernetesDiscovery {
    let notify = Arc::new(Notify::new());
    let ns = options.namespace.clone();
    let ar = scrape_target_resource();
    let st_api: Api<DynamicObject> = match &ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let mut st_writer = reflector::store::Writer::<DynamicObject>::new(ar);
    let st = st_writer.as_reader();
    let (pods, pods_writer) = reflector::store::<Pod>();
    let (slices, slices_writer) = reflector::store::<EndpointSlice>();
    let (services, services_writer) = reflector::store::<Service>();
    let mut tasks = Vec::new();
    if options.watch_scrape_targets {
        tasks.push(spawn_reflector(
            "ScrapeTarget",
            st_api,
            st_writer,
            notify.clone(),
            None,
        ));
    } else {
        // An empty store, listed: nothing to wait for.
        st_writer.apply_watcher_event(&watcher::Event::Init);
        st_writer.apply_watcher_event(&watcher::Event::InitDone);
    }
    tasks.extend([
        spawn_reflector("Pod", api(&client, &ns), pods_writer, notify.clone(), None),
        spawn_reflector(
            "EndpointSlice",
            api(&client, &ns),
            slices_writer,
            notify.clone(),
            None,
        ),
        spawn_reflector(
            "Service",
            api(&client, &ns),
            services_writer,
            notify.clone(),
            None,
        ),
    ]);
    let monitors = options.monitors.clone().map(|m| {
        let mut settled = Vec::new();
        let mut dynamic = |kind: &'static str, api: Api<DynamicObject>, ar: ApiResource| {
            let writer = reflector::store::Writer::<DynamicObject>::new(ar);
            let store = writer.as_reader();
            let (tx, rx) = watch::channel(false);
            settled.push(rx);
            tasks.push(spawn_reflector(kind, api, writer, notify.clone(), Some(tx)));
            store
        };
        let scoped = |kind: &str| {
            let ar = operator_resource(kind);
            let api = match &ns {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
                None => Api::all_with(client.clone(), &ar),
            };
            (api, ar)
        };
        let (sm_api, sm_ar) = scoped("ServiceMonitor");
        let service_monitors = dynamic("ServiceMonitor", sm_api, sm_ar);
        let (pm_api, pm_ar) = scoped("PodMonitor");
        let pod_monitors = dynamic("PodMonitor", pm_api, pm_ar);
        let sc_ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
            telltale_crds::prometheus_operator::GROUP,
            telltale_crds::prometheus_operator::scrape_config::VERSION,
            "ScrapeConfig",
        ));
        let sc_api = match &ns {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &sc_ar),
            None => Api::all_with(client.clone(), &sc_ar),
        };
        let scrape_configs = dynamic("ScrapeConfig", sc_api, sc_ar);
        let mc_ar = ApiResource::from_gvk(&GroupVersionKind::gvk(
            telltale_crds::GROUP,
            telltale_crds::VERSION,
            "MetricCluster",
        ));
        let mc_api = Api::namespaced_with(client.clone(), &m.namespace, &mc_ar);
        let clusters = dynamic("MetricCluster", mc_api, mc_ar);
        let (namespaces, ns_writer) = reflector::store::<Namespace>();
        let (tx, rx) = watch::channel(false);
        settled.push(rx);
        tasks.push(spawn_reflector(
            "Namespace",
            Api::all(client.clone()),
            ns_writer,
            notify.clone(),
            Some(tx),
        ));
        MonitorStores {
            options: m,
            service_monitors,
            pod_monitors,
            scrape_configs,
            clusters,
            namespaces,
            settled,
        }
    });
    let (tx, rx) = watch::channel(Discovery::default());
    tasks.push(tokio::spawn(publish(
        Stores {
            scrape_targets: st,
            pods,
            slices,
            services,
            monitors,
            nodes: NodeWatch {
                client: client.clone(),
                started: None,
            },
        },
        Recorder::new(
            client.clone(),
            Reporter {
                controller: "telltale-scraper".into(),
                instance: None,
            },
        ),
        options,
        notify,
        tx,
    )));
    KubernetesDiscovery { targets: rx, tasks }
}

fn api<K>(client: &Client, ns: &Option<String>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Watches `api` into `writer`, waking `notify` on every change. An optional kind
/// (`settled` given) reports through `settled` once it has listed its objects or failed
/// for the first time: an absent CRD (404) or a forbidden list (403) is logged once and
/// retried with backoff, and the kind holds nothing until it lists.
fn spawn_reflector<K>(
    kind: &'static str,
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    notify: Arc<Notify>,
    settled: Option<watch::Sender<bool>>,
) -> JoinHandle<()>
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer);
        futures::pin_mut!(stream);
        let mut reported = false;
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    if matches!(event, watcher::Event::InitDone) {
                        if let Some(s) = &settled {
                            s.send_replace(true);
                        }
                        if reported {
                            info!(kind, "kubernetes watch listing again");
                            reported = false;
                        }
                    }
                    notify.notify_one()
                }
                Err(e) => match (&settled, status_code(&e)) {
                    (Some(s), Some(code @ (403 | 404))) => {
                        s.send_replace(true);
                        if !reported {
                            let why = if code == 404 {
                                "the resource is not served (CRD not installed?)"
                            } else {
                                "listing it is forbidden"
                            };
                            info!(kind, code, "{why}; not watched until it lists (retrying)");
                            reported = true;
                        }
                    }
                    (Some(s), _) => {
                        s.send_replace(true);
                        warn!(kind, error = %e, "kubernetes watch failed; retrying");
                    }
                    (None, _) => warn!(kind, error = %e, "kubernetes watch failed; retrying"),
                },
            }
        }
        warn!(kind, "kubernetes watch ended");
    })
}

/// The HTTP status of the API server's answer behind a watch error, when there is one.
fn status_code(e: &watcher::Error) -> Option<u16> {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        watcher::Error::WatchError(s) => Some(s.code),
        _ => None,
    }
}

/// A Warning Event on the monitor saying what is not honoured (or why it is skipped).
/// An Event is a courtesy next to the log line: failing to publish one (no permission,
/// say) is logged at debug level only.
async fn report_event(recorder: &Recorder, report: &super::monitors::MonitorReport) {
    let note = telltale_crds::prometheus_operator::event_note(&report.messages);
    let event = Event {
        type_: EventType::Warning,
        reason: if report.rejected {
            "Invalid".into()
        } else {
            "NotHonoured".into()
        },
        note: Some(note),
        action: "Scrape".into(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &report.reference).await {
        debug!(object = %report.object, error = %e, "cannot publish an Event");
    }
}

/// The stores of prometheus-operator's monitors and what selects them.
struct MonitorStores {
    options: OperatorMonitors,
    service_monitors: Store<DynamicObject>,
    pod_monitors: Store<DynamicObject>,
    scrape_configs: Store<DynamicObject>,
    clusters: Store<DynamicObject>,
    namespaces: Store<Namespace>,
    /// One per watch: true once it listed or failed the first time.
    settled: Vec<watch::Receiver<bool>>,
}

impl MonitorStores {
    async fn settled(&self) {
        for rx in &self.settled {
            let _ = rx.clone().wait_for(|v| *v).await;
        }
    }

    fn snapshot(&self) -> MonitorSnapshot {
        let selectors = self
            .clusters
            .state()
            .into_iter()
            .find(|c| c.metadata.name.as_deref() == Some(self.options.metric_cluster.as_str()))
            .and_then(|c| {
                let spec = c.data.get("spec").cloned().unwrap_or_default();
                serde_json::from_value(spec)
                    .map_err(|e| warn!(metric_cluster = %self.options.metric_cluster, error = %e, "cannot read the MetricCluster's monitor selectors; selecting none"))
                    .ok()
            });
        MonitorSnapshot {
            selectors,
            own_namespace: self.options.namespace.clone(),
            service_monitors: self.service_monitors.state(),
            pod_monitors: self.pod_monitors.state(),
            scrape_configs: self.scrape_configs.state(),
            namespaces: self
                .namespaces
                .state()
                .iter()
                .map(|n| {
                    (
                        n.metadata.name.clone().unwrap_or_default(),
                        n.metadata.labels.clone().unwrap_or_default(),
                    )
                })
                .collect::<BTreeMap<_, _>>(),
        }
    }
}

struct Stores {
    scrape_targets: Store<DynamicObject>,
    pods: Store<Pod>,
    slices: Store<EndpointSlice>,
    services: Store<Service>,
    monitors: Option<MonitorStores>,
    nodes: NodeWatch,
}

/// The watch of Nodes (cluster-wide), started the first time a resource selects nodes
/// (Prometheus's `node` role) so that a cluster without such targets neither holds every
/// Node object nor needs the permission to list them. A forbidden list is logged and
/// leaves no nodes.
struct NodeWatch {
    client: Client,
    started: Option<(Store<Node>, AbortOnDrop)>,
}

/// A task aborted when its owner is dropped (the publishing task's, here).
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl NodeWatch {
    /// The nodes, once `wanted`: the first call that wants them starts the watch and
    /// waits until it has listed them (or failed to).
    async fn nodes(&mut self, wanted: bool, notify: &Arc<Notify>) -> Vec<Arc<Node>> {
        if !wanted {
            return Vec::new();
        }
        let store = match &self.started {
            Some((store, _)) => store.clone(),
            None => {
                let (store, writer) = reflector::store::<Node>();
                let (tx, mut settled) = watch::channel(false);
                let task = spawn_reflector(
                    "Node",
                    Api::all(self.client.clone()),
                    writer,
                    notify.clone(),
                    Some(tx),
                );
                info!("a resource selects nodes: watching Nodes");
                let _ = settled.wait_for(|v| *v).await;
                self.started = Some((store.clone(), AbortOnDrop(task)));
                store
            }
        };
        let mut nodes = store.state();
        nodes.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        nodes
    }
}

impl Stores {
    async fn ready(&self) -> bool {
        let ready = self.scrape_targets.wait_until_ready().await.is_ok()
            && self.pods.wait_until_ready().await.is_ok()
            && self.slices.wait_until_ready().await.is_ok()
            && self.services.wait_until_ready().await.is_ok();
        if let Some(m) = &self.monitors {
            m.settled().await;
        }
        ready
    }

    fn snapshot(&self) -> Snapshot {
        let mut scrape_targets = Vec::new();
        let mut objects = self.scrape_targets.state();
        objects.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        for obj in objects {
            match split_scrape_target(&obj) {
                Ok(pair) => scrape_targets.push(pair),
                Err(e) => warn!(
                    namespace = obj.metadata.namespace.as_deref().unwrap_or(""),
                    name = obj.metadata.name.as_deref().unwrap_or(""),
                    error = %e,
                    "skipping invalid ScrapeTarget"
                ),
            }
        }
        let mut pods = self.pods.state();
        pods.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        let mut endpoint_slices = self.slices.state();
        endpoint_slices.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        Snapshot {
            scrape_targets,
            pods,
            endpoint_slices,
            services: self.services.state(),
            nodes: Vec::new(),
        }
    }
}

async fn publish(
    mut stores: Stores,
    recorder: Recorder,
    options: KubernetesSdOptions,
    notify: Arc<Notify>,
    tx: watch::Sender<Discovery>,
) {
    if !stores.ready().await {
        warn!("kubernetes watches stopped before listing their objects");
        return;
    }
    info!("kubernetes discovery synced");
    let from_files: Vec<_> = options
        .scrape_targets
        .iter()
        .map(|t| (t.clone(), KubernetesSelection::of(&t.spec)))
        .collect();
    // Monitors already reported at their current resourceVersion.
    let mut reported: BTreeSet<(String, String)> = BTreeSet::new();
    loop {
        let mut snapshot = stores.snapshot();
        snapshot.scrape_targets.extend(from_files.iter().cloned());
        if let Some(m) = &stores.monitors {
            let (targets, reports) = monitor_targets(&m.snapshot());
            snapshot.scrape_targets.extend(targets);
            let mut current = BTreeSet::new();
            for r in reports {
                let key = (r.object.clone(), r.resource_version.clone());
                if !reported.contains(&key) {
                    for message in &r.messages {
                        if r.rejected {
                            warn!(object = %r.object, error = %message, "skipping invalid monitor");
                        } else {
                            warn!(object = %r.object, "not honoured: {message}");
                        }
                    }
                    report_event(&recorder, &r).await;
                }
                current.insert(key);
            }
            reported = current;
        }
        let wants_nodes = snapshot
            .scrape_targets
            .iter()
            .any(|(_, sel)| sel.as_ref().is_some_and(|s| s.node_targets.is_some()));
        snapshot.nodes = stores.nodes.nodes(wants_nodes, &notify).await;
        let discovery = kubernetes_targets(&snapshot, options.annotated_pods.as_ref());
        let (active, dropped) = (discovery.active.len(), discovery.dropped.len());
        let changed = tx.send_if_modified(|current| {
            if *current == discovery {
                false
            } else {
                *current = discovery;
                true
            }
        });
        if changed {
            debug!(active, dropped, "kubernetes targets changed");
        }
        notify.notified().await;
        tokio::time::sleep(options.debounce).await;
    }
}
