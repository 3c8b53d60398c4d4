//! [`kubernetes_discovery`]: the watches (kube's `watcher` feeding a `reflector` store per
//! kind — no polling) and the task that turns every change, debounced, into a new
//! [`Discovery`] on a watch channel.

use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use telltale_crds::ScrapeTarget;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

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
}

impl Default for KubernetesSdOptions {
    fn default() -> Self {
        KubernetesSdOptions {
            namespace: None,
            annotated_pods: None,
            debounce: Duration::from_millis(200),
            scrape_targets: Vec::new(),
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

/// Starts watching ScrapeTargets, Pods, EndpointSlices and Services through `client` and
/// publishes the targets they describe. Must be called within a Tokio runtime.
pub fn kubernetes_discovery(client: Client, options: KubernetesSdOptions) -> KubernetesDiscovery {
    let notify = Arc::new(Notify::new());
    let ns = options.namespace.clone();
    let ar = scrape_target_resource();
    let st_api: Api<DynamicObject> = match &ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let st_writer = reflector::store::Writer::<DynamicObject>::new(ar);
    let st = st_writer.as_reader();
    let (pods, pods_writer) = reflector::store::<Pod>();
    let (slices, slices_writer) = reflector::store::<EndpointSlice>();
    let (services, services_writer) = reflector::store::<Service>();
    let mut tasks = vec![
        spawn_reflector("ScrapeTarget", st_api, st_writer, notify.clone()),
        spawn_reflector("Pod", api(&client, &ns), pods_writer, notify.clone()),
        spawn_reflector(
            "EndpointSlice",
            api(&client, &ns),
            slices_writer,
            notify.clone(),
        ),
        spawn_reflector(
            "Service",
            api(&client, &ns),
            services_writer,
            notify.clone(),
        ),
    ];
    let (tx, rx) = watch::channel(Discovery::default());
    tasks.push(tokio::spawn(publish(
        Stores {
            scrape_targets: st,
            pods,
            slices,
            services,
        },
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

fn spawn_reflector<K>(
    kind: &'static str,
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    notify: Arc<Notify>,
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
        while let Some(event) = stream.next().await {
            match event {
                Ok(_) => notify.notify_one(),
                Err(e) => warn!(kind, error = %e, "kubernetes watch failed; retrying"),
            }
        }
        warn!(kind, "kubernetes watch ended");
    })
}

struct Stores {
    scrape_targets: Store<DynamicObject>,
    pods: Store<Pod>,
    slices: Store<EndpointSlice>,
    services: Store<Service>,
}

impl Stores {
    async fn ready(&self) -> bool {
        self.scrape_targets.wait_until_ready().await.is_ok()
            && self.pods.wait_until_ready().await.is_ok()
            && self.slices.wait_until_ready().await.is_ok()
            && self.services.wait_until_ready().await.is_ok()
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
        }
    }
}

async fn publish(
    stores: Stores,
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
    loop {
        let mut snapshot = stores.snapshot();
        snapshot.scrape_targets.extend(from_files.iter().cloned());
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
