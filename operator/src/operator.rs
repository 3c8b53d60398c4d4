//! [`Operator`]: one kube-runtime controller per resource kind, and the loop that runs them.

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use prometheus::{IntCounterVec, Opts, Registry};
use serde::Serialize;
use serde::de::DeserializeOwned;
use telltale_crds::{AlertRule, MetricCluster, ScrapeTarget};

use crate::status::{self, Validate};
use crate::{Error, FIELD_MANAGER, Result};

/// How often an unchanged resource is looked at again.
const RESYNC: Duration = Duration::from_secs(300);
/// How long to wait after a failed reconcile.
const RETRY: Duration = Duration::from_secs(15);

/// The controllers for every Telltale resource kind.
pub struct Operator {
    client: Client,
    namespace: Option<String>,
    reconciles: IntCounterVec,
}

struct Context {
    client: Client,
    reconciles: IntCounterVec,
}

impl Operator {
    /// Connects with the in-cluster configuration or the local kubeconfig. `namespace`
    /// limits the watch to one namespace.
    pub async fn connect(namespace: Option<String>, registry: &Registry) -> Result<Self> {
        let client = Client::try_default().await.map_err(Error::Connect)?;
        Self::new(client, namespace, registry)
    }

    /// Uses an existing client (tests point one at an emulated API server).
    pub fn new(client: Client, namespace: Option<String>, registry: &Registry) -> Result<Self> {
        let reconciles = IntCounterVec::new(
            Opts::new(
                "telltale_operator_reconciliations_total",
                "Reconciliations by resource kind and result.",
            ),
            &["kind", "result"],
        )?;
        registry.register(Box::new(reconciles.clone()))?;
        Ok(Operator {
            client,
            namespace,
            reconciles,
        })
    }

    /// Runs every controller until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let ctx = Arc::new(Context {
            client: self.client.clone(),
            reconciles: self.reconciles.clone(),
        });
        let controllers = futures::future::join3(
            run_controller::<ScrapeTarget>(self.api(), ctx.clone()),
            run_controller::<AlertRule>(self.api(), ctx.clone()),
            run_controller::<MetricCluster>(self.api(), ctx),
        );
        tokio::select! {
            _ = controllers => {}
            _ = shutdown => {}
        }
        Ok(())
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
}

async fn run_controller<K>(api: Api<K>, ctx: Arc<Context>)
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Validate
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    Controller::new(api, watcher::Config::default())
        .shutdown_on_signal()
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => {
                    tracing::debug!(kind = K::kind(&()).as_ref(), name = %obj.name, "reconciled")
                }
                Err(e) => {
                    tracing::warn!(kind = K::kind(&()).as_ref(), error = %e, "reconcile failed")
                }
            }
        })
        .await;
}

async fn reconcile<K>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Validate
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned,
{
    let kind = K::kind(&());
    let verdict = obj.validate_spec();
    let patch = status::decide(&verdict, obj.meta().generation);
    let current = serde_json::to_value(&*obj)
        .ok()
        .and_then(|v| v.get("status").cloned());
    if current.as_ref() != Some(&patch["status"]) {
        let ns = obj.namespace().unwrap_or_default();
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
        let params = PatchParams::apply(FIELD_MANAGER);
        if let Err(e) = api
            .patch_status(&obj.name_any(), &params, &Patch::Merge(&patch))
            .await
        {
            ctx.reconciles
                .with_label_values(&[kind.as_ref(), "error"])
                .inc();
            return Err(e.into());
        }
        if let Err(e) = &verdict {
            tracing::info!(kind = kind.as_ref(), name = %obj.name_any(), error = %e, "resource is invalid");
        }
    }
    ctx.reconciles
        .with_label_values(&[kind.as_ref(), "ok"])
        .inc();
    Ok(Action::requeue(RESYNC))
}

fn error_policy<K>(_obj: Arc<K>, _err: &Error, _ctx: Arc<Context>) -> Action {
    Action::requeue(RETRY)
}
