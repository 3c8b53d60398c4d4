//! [`Operator`]: the controllers (MetricCluster, ScrapeTarget, AlertRule), leader election
//! and the loop that runs them.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{PredicateConfig, WatchStreamExt, reflector, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use prometheus::Registry;
use serde::de::DeserializeOwned;
use telltale_crds::{AlertRule, MetricCluster, ScrapeTarget};

use crate::context::{Context, Metrics};
use crate::controller::validation::TelltaleResource;
use crate::controller::{error_policy, metric_cluster, validation};
use crate::leader::{LeaderElector, LeaseConfig};
use crate::naming::{CLUSTER_LABEL, MANAGED_BY};
use crate::{Error, Result};

/// The controllers for every Telltale resource kind.
pub struct Operator {
    client: Client,
    namespace: Option<String>,
    metrics: Metrics,
    lease: Option<LeaseConfig>,
}

impl Operator {
    /// Connects with the in-cluster configuration or the local kubeconfig, with leader
    /// election ([`LeaseConfig::from_env`]). `namespace` limits the watch to one namespace.
    pub async fn connect(namespace: Option<String>, registry: &Registry) -> Result<Self> {
        let client = Client::try_default().await.map_err(Error::Connect)?;
        let lease = LeaseConfig::from_env(namespace.as_deref());
        Ok(Self::new(client, namespace, registry)?.with_leader_election(lease))
    }

    /// Uses an existing client (tests point one at an emulated API server); no leader
    /// election unless [`Operator::with_leader_election`] adds it.
    pub fn new(client: Client, namespace: Option<String>, registry: &Registry) -> Result<Self> {
        Ok(Operator {
            client,
            namespace,
            metrics: Metrics::register(registry)?,
            lease: None,
        })
    }

    /// Reconciles only while holding this lease.
    pub fn with_leader_election(mut self, lease: LeaseConfig) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Runs every controller until `shutdown` completes. With leader election it first
    /// waits for the lease, and returns [`Error::LostLease`] if it loses it.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let identity = self
            .lease
            .as_ref()
            .map(|l| l.identity.clone())
            .unwrap_or_else(|| crate::FIELD_MANAGER.to_string());
        let ctx = Arc::new(Context::new(
            self.client.clone(),
            self.metrics.clone(),
            &identity,
            &crate::context::own_namespace(self.namespace.as_deref()),
        ));
        let elector = self
            .lease
            .clone()
            .map(|l| LeaderElector::new(self.client.clone(), l));
        let work = async {
            if let Some(e) = &elector {
                e.acquire().await;
            }
            self.metrics.leader.set(1);
            let controllers = futures::future::join3(
                run_validation::<ScrapeTarget>(self.api(), ctx.clone()),
                run_validation::<AlertRule>(self.api(), ctx.clone()),
                self.run_metric_clusters(ctx.clone()),
            );
            match &elector {
                Some(e) => tokio::select! {
                    _ = controllers => Ok(()),
                    lost = e.keep() => Err(lost),
                },
                None => {
                    controllers.await;
                    Ok(())
                }
            }
        };
        let result = tokio::select! {
            r = work => r,
            _ = shutdown => Ok(()),
        };
        self.metrics.leader.set(0);
        result
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope>,
    {
        match &self.namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    async fn run_metric_clusters(&self, ctx: Arc<Context>) {
        let managed = watcher::Config::default()
            .labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
        // Spec changes and deletion start a reconcile; the operator's own status writes
        // (the shards' commit index moves all the time) do not.
        let (reader, writer) = reflector::store();
        let clusters = watcher(self.api::<MetricCluster>(), watcher::Config::default())
            .default_backoff()
            .reflect(writer)
            .applied_objects()
            .predicate_filter(spec_or_deletion, PredicateConfig::default());
        Controller::for_stream(clusters, reader)
            .owns(self.api::<StatefulSet>(), managed.clone())
            .owns(self.api::<Deployment>(), managed.clone())
            // Pod readiness drives the rollout and the status: map a pod to its cluster.
            .watches(self.api::<Pod>(), managed, |pod: Pod| {
                let cluster = pod.labels().get(CLUSTER_LABEL)?.clone();
                Some(ObjectRef::<MetricCluster>::new(&cluster).within(&pod.namespace()?))
            })
            .shutdown_on_signal()
            .run(
                metric_cluster::reconcile,
                error_policy::<MetricCluster>,
                ctx,
            )
            .for_each(log_result)
            .await;
    }
}

/// What a MetricCluster reconcile follows: its generation (the spec), whether it is
/// being deleted, and its finalizers.
fn spec_or_deletion(mc: &MetricCluster) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    mc.metadata.generation.hash(&mut h);
    mc.metadata.deletion_timestamp.is_some().hash(&mut h);
    mc.metadata.finalizers.hash(&mut h);
    Some(h.finish())
}

async fn run_validation<K>(api: Api<K>, ctx: Arc<Context>)
where
    K: TelltaleResource + DeserializeOwned + Debug,
{
    Controller::new(api, watcher::Config::default())
        .shutdown_on_signal()
        .run(validation::reconcile::<K>, error_policy::<K>, ctx)
        .for_each(log_result)
        .await;
}

async fn log_result<K: Resource, E: std::fmt::Display>(
    result: std::result::Result<(ObjectRef<K>, Action), E>,
) {
    match result {
        Ok((obj, _)) => tracing::debug!(name = %obj.name, "reconciled"),
        Err(e) => tracing::debug!(error = %e, "reconcile error"),
    }
}
