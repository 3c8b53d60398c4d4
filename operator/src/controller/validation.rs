//! ScrapeTarget and AlertRule: the spec is validated and the verdict written to the
//! status (`Accepted` or `Invalid` with the field and the reason); an invalid resource
//! also gets a Warning Event. Nothing else is touched: the components that watch these
//! resources skip the invalid ones.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use telltale_crds::{AlertRule, MetricCluster, ResourceStatus, ScrapeTarget};

use crate::context::Context;
use crate::status::{self, Validate};
use crate::{Error, Result};

/// How often an unchanged resource is looked at again.
pub const RESYNC: Duration = Duration::from_secs(300);

/// A Telltale resource: it validates its spec and carries a [`ResourceStatus`].
pub trait TelltaleResource:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Validate
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    fn current_status(&self) -> Option<&ResourceStatus>;
}

impl TelltaleResource for ScrapeTarget {
    fn current_status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref()
    }
}

impl TelltaleResource for AlertRule {
    fn current_status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref()
    }
}

impl TelltaleResource for MetricCluster {
    fn current_status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref()
    }
}

/// Writes `status` to `obj`'s status subresource.
pub async fn write_status<K: TelltaleResource>(
    ctx: &Context,
    obj: &K,
    status: &ResourceStatus,
) -> Result<()> {
    let ns = obj.namespace().ok_or_else(|| Error::Incomplete {
        name: obj.name_any(),
        what: "metadata.namespace",
    })?;
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &ns);
    api.patch_status(
        &obj.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&status::status_patch(status)),
    )
    .await?;
    Ok(())
}

/// Validates `obj` and reports the verdict: status when it changed, and a Warning Event
/// when it became invalid (or its reason changed).
pub async fn reconcile<K: TelltaleResource>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action> {
    let kind = K::kind(&());
    let _timer = ctx
        .metrics
        .duration
        .with_label_values(&[kind.as_ref()])
        .start_timer();
    let previous = obj.current_status().cloned().unwrap_or_default();
    let verdict = obj.validate_spec();
    let now = Time(Timestamp::now());
    let next = status::decide(&verdict, obj.meta().generation, &previous, &now);
    if next != previous {
        write_status(&ctx, &*obj, &next).await?;
        if let Err(e) = &verdict
            && previous.message.as_deref() != Some(e.to_string().as_str())
        {
            tracing::info!(kind = kind.as_ref(), name = %obj.name_any(), error = %e, "resource is invalid");
            ctx.event(&*obj, true, "InvalidSpec", "Validate", e.to_string())
                .await;
        }
    }
    let key = format!(
        "{kind}/{}/{}",
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    );
    ctx.backoff.succeeded(&key);
    ctx.metrics
        .reconciles
        .with_label_values(&[kind.as_ref(), "ok"])
        .inc();
    Ok(Action::requeue(RESYNC))
}
