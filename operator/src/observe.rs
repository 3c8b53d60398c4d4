//! Reading what a MetricCluster's workloads and storage pods report, into the plain views
//! the rollout and status decisions take.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use telltale_crds::MetricClusterSpec;

use crate::Result;
use crate::cluster_status::WorkloadView;
use crate::naming::{Component, Names, REVISION_LABEL, pod_ordinal, selector_string};
use crate::rollout::{PodView, ShardView};

/// Whether a pod's `Ready` condition is true.
pub fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The rollout's view of a storage pod.
pub fn pod_view(pod: &Pod) -> PodView {
    let name = pod.name_any();
    PodView {
        ordinal: pod_ordinal(&name).unwrap_or(0),
        revision: pod.labels().get(REVISION_LABEL).cloned(),
        ready: pod_ready(pod),
        terminating: pod.metadata.deletion_timestamp.is_some(),
        name,
    }
}

/// Everything the reconciler reads about one cluster.
pub struct Observation {
    pub shards: Vec<ShardView>,
    pub workloads: Vec<WorkloadView>,
    /// Per shard: its StatefulSet (if it exists) and its pods.
    pub storage: Vec<(Option<StatefulSet>, Vec<Pod>)>,
}

/// Reads the StatefulSets, Deployments and storage pods of the cluster `names`.
pub async fn observe(
    client: &Client,
    names: &Names,
    spec: &MetricClusterSpec,
) -> Result<Observation> {
    let sts: Api<StatefulSet> = Api::namespaced(client.clone(), &names.namespace);
    let deploys: Api<Deployment> = Api::namespaced(client.clone(), &names.namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), &names.namespace);
    let mut shards = Vec::new();
    let mut workloads = Vec::new();
    let mut storage = Vec::new();
    for shard in 0..spec.shards {
        let set = sts.get_opt(&names.storage(shard)).await?;
        let selector = selector_string(&names.selector(Component::Storage, Some(shard)));
        let list = pods.list(&ListParams::default().labels(&selector)).await?;
        let view = ShardView {
            shard,
            desired: spec.replicas_per_shard,
            update_revision: set
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .and_then(|s| s.update_revision.clone()),
            pods: list.items.iter().map(pod_view).collect(),
        };
        let live = view.pods.iter().filter(|p| !p.terminating);
        let ready = live.clone().filter(|p| p.ready).count() as u32;
        workloads.push(WorkloadView {
            component: Component::Storage,
            shard: Some(shard),
            desired: spec.replicas_per_shard,
            ready,
            updated: live
                .filter(|p| view.update_revision.is_some() && p.revision == view.update_revision)
                .count() as u32,
        });
        shards.push(view);
        storage.push((set, list.items));
    }
    let scraper = sts.get_opt(&names.component(Component::Scraper)).await?;
    let status = scraper.and_then(|s| s.status);
    workloads.push(WorkloadView {
        component: Component::Scraper,
        shard: None,
        desired: spec.scraper.replicas,
        ready: status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0) as u32,
        updated: status
            .as_ref()
            .and_then(|s| s.updated_replicas)
            .unwrap_or(0) as u32,
    });
    let query = deploys
        .get_opt(&names.component(Component::Query))
        .await?
        .and_then(|d| d.status);
    workloads.push(WorkloadView {
        component: Component::Query,
        shard: None,
        desired: spec.query.replicas,
        ready: query.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0) as u32,
        updated: query.as_ref().and_then(|s| s.updated_replicas).unwrap_or(0) as u32,
    });
    // The alertmanager is a StatefulSet of one pod, whatever spec.alertmanager.replicas says.
    let alertmanager = sts
        .get_opt(&names.component(Component::Alertmanager))
        .await?
        .and_then(|s| s.status);
    workloads.push(WorkloadView {
        component: Component::Alertmanager,
        shard: None,
        desired: 1,
        ready: alertmanager
            .as_ref()
            .and_then(|s| s.ready_replicas)
            .unwrap_or(0) as u32,
        updated: alertmanager
            .as_ref()
            .and_then(|s| s.updated_replicas)
            .unwrap_or(0) as u32,
    });
    Ok(Observation {
        shards,
        workloads,
        storage,
    })
}
