//! The reconcilers: one for MetricCluster (desired state, rollout, status, cleanup) and a
//! generic one that validates ScrapeTarget and AlertRule.

/// `spec.backup`: every shard backed up when the schedule says so.
pub mod backup;
/// A cluster's CA and TLS Secrets, kept before its workloads are applied.
pub mod certificates;
/// MetricCluster: apply, roll, report, clean up.
pub mod metric_cluster;
/// `spec.restore`: the shards a new cluster creates from a backup.
pub mod restore;
/// ScrapeTarget and AlertRule: validate and report.
pub mod validation;
/// `spec.web`'s Secret: what the components' HTTP servers serve with.
pub mod web;

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use crate::Error;
use crate::context::Context;

/// The error policy of every controller: exponential backoff per object.
pub fn error_policy<K>(obj: Arc<K>, err: &Error, ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    let kind = K::kind(&());
    let key = format!(
        "{kind}/{}/{}",
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    );
    let delay = ctx.backoff.failed(&key);
    ctx.metrics
        .reconciles
        .with_label_values(&[kind.as_ref(), err.metric_label()])
        .inc();
    tracing::warn!(%key, error = %err, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}
