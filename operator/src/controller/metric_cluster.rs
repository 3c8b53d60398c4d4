//! The MetricCluster reconciler:
//!
//! ```text
//!  deleting? ──yes──> delete owned objects (and PVCs if spec.deletePVCs) ─> drop finalizer
//!     │no
//!  spec invalid? ──yes──> status Invalid + Warning Event; nothing else touched
//!     │no
//!  finalizer ─> observe ─> spec.restore: a new shard's backup checked (refused as an
//!     invalid spec) ─> certificates::ensure (CA, TLS Secrets) ─> render()
//!     ─> server-side apply (NetworkPolicies pruned when turned off) ─> rollout::next_step
//!     ─> delete at most one storage pod ─> cluster_status::decide ─> status + Events
//! ```
//!
//! Certificates are renewed by the reconcile that finds them within `renewBefore` of
//! their expiry: at the latest one [`RESYNC`] after they become due.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;
use telltale_crds::{MetricCluster, ResourceStatus};

use super::certificates;
use super::validation::{TelltaleResource, write_status};
use crate::apply::{OWNED_KINDS, apply_all, delete_matching};
use crate::cluster_status::{self, Observed, phase};
use crate::context::Context;
use crate::membership::{self, Next, ShardGroup};
use crate::naming::Names;
use crate::observe::observe;
use crate::render::storage::{initial_voters_of, restores};
use crate::render::{ShardLayout, render_with};
use crate::rollout::{Step, next_step};
use crate::status::{self, Validate};
use crate::{Error, Result};

/// The finalizer that makes deletion wait for the cleanup.
pub const FINALIZER: &str = "telltale.dev/cleanup";
/// Requeue while the cluster converges (pods starting, a rollout going on).
pub const CONVERGING: Duration = Duration::from_secs(10);
/// Requeue of an available cluster (the shards' Raft status in `status.shards` is as
/// fresh as this).
pub const RESYNC: Duration = Duration::from_secs(30);
/// Requeue while a shard's voters are changing: the next step follows soon.
pub const MEMBERSHIP: Duration = Duration::from_secs(2);

const KIND: &str = "MetricCluster";

/// One reconciliation of a MetricCluster.
pub async fn reconcile(mc: Arc<MetricCluster>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx
        .metrics
        .duration
        .with_label_values(&[KIND])
        .start_timer();
    let ns = mc.namespace().ok_or_else(|| Error::Incomplete {
        name: mc.name_any(),
        what: "metadata.namespace",
    })?;
    let api: Api<MetricCluster> = Api::namespaced(ctx.client.clone(), &ns);
    let action = if mc.meta().deletion_timestamp.is_some() {
        cleanup(&mc, &api, &ctx, &ns).await?
    } else {
        apply(&mc, &api, &ctx).await?
    };
    ctx.backoff
        .succeeded(&format!("{KIND}/{ns}/{}", mc.name_any()));
    ctx.metrics
        .reconciles
        .with_label_values(&[KIND, "ok"])
        .inc();
    Ok(action)
}

fn has_finalizer(mc: &MetricCluster) -> bool {
    mc.finalizers().iter().any(|f| f == FINALIZER)
}

/// Sets the finalizer list, guarded by the resourceVersion the decision was made on.
async fn set_finalizers(
    api: &Api<MetricCluster>,
    mc: &MetricCluster,
    finalizers: Vec<String>,
) -> Result<()> {
    let patch = json!({
        "metadata": {
            "finalizers": finalizers,
            "resourceVersion": mc.resource_version(),
        }
    });
    api.patch(
        &mc.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

async fn cleanup(
    mc: &MetricCluster,
    api: &Api<MetricCluster>,
    ctx: &Context,
    ns: &str,
) -> Result<Action> {
    if !has_finalizer(mc) {
        return Ok(Action::await_change());
    }
    let names = Names::new(mc.name_any(), ns);
    let selector = names.cluster_selector();
    let mut deleted = delete_matching(&ctx.client, ns, &OWNED_KINDS, &selector).await?;
    let pvcs = if mc.spec.delete_pvcs {
        let n = delete_matching(&ctx.client, ns, &["PersistentVolumeClaim"], &selector).await?;
        deleted += n;
        format!("deleted {n} PersistentVolumeClaims")
    } else {
        "kept the PersistentVolumeClaims (spec.deletePVCs is false)".to_string()
    };
    ctx.identities.forget(&names);
    tracing::info!(cluster = %names.cluster, namespace = ns, deleted, "cleaned up");
    ctx.event(
        mc,
        false,
        "Deleted",
        "Cleanup",
        format!("deleted {deleted} objects; {pvcs}"),
    )
    .await;
    let rest = mc
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    set_finalizers(api, mc, rest).await?;
    Ok(Action::await_change())
}

async fn apply(mc: &MetricCluster, api: &Api<MetricCluster>, ctx: &Context) -> Result<Action> {
    let previous = mc.current_status().cloned().unwrap_or_default();
    let now = Time(Timestamp::now());
    let generation = mc.meta().generation;
    if let Err(e) = mc.validate_spec() {
        let next = status::decide(&Err(e.clone()), generation, &previous, &now);
        if next != previous {
            write_status(ctx, mc, &next).await?;
            ctx.event(mc, true, "InvalidSpec", "Validate", e.to_string())
                .await;
        }
        // Nothing is created or changed until the spec is fixed.
        return Ok(Action::await_change());
    }
    if !has_finalizer(mc) {
        let mut finalizers = mc.finalizers().to_vec();
        finalizers.push(FINALIZER.into());
        set_finalizers(api, mc, finalizers).await?;
    }
    let ns = mc.namespace().unwrap_or_default();
    let names = Names::new(mc.name_any(), &ns);
    let desired = mc.spec.replicas_per_shard;
    let seen = observe(&ctx.client, &names, &mc.spec).await?;
    let tls = ctx.grpc_tls(&names);
    let groups: Vec<ShardGroup> = futures::future::join_all(
        seen.storage
            .iter()
            .enumerate()
            .map(|(shard, (_, pods))| membership::probe(shard as u32, pods, tls.as_ref())),
    )
    .await;
    let mut layouts: BTreeMap<u32, ShardLayout> = seen
        .storage
        .iter()
        .zip(&groups)
        .filter_map(|((set, _), group)| {
            let set = set.as_ref()?;
            let current = set.spec.replicas.map(|r| r as u32);
            let layout = group.layout(desired, current);
            Some((
                group.shard,
                ShardLayout {
                    replicas: layout.replicas,
                    min_available: layout.min_available,
                    initial_voters: initial_voters_of(set).unwrap_or(desired),
                    restore: restores(set),
                },
            ))
        })
        .collect();
    // Shards created now: from `spec.restore`'s backup, when the cluster is.
    let sets: Vec<_> = seen.storage.iter().map(|(set, _)| set.as_ref()).collect();
    match super::restore::missing_shards(ctx, &mc.spec, &ns, &sets).await {
        Ok(missing) => {
            for (shard, restore) in missing {
                layouts.insert(
                    shard,
                    ShardLayout {
                        restore,
                        ..ShardLayout::new(&mc.spec)
                    },
                );
            }
        }
        Err(e) => {
            tracing::warn!(cluster = %names.cluster, error = %e, "not created from the backup");
            let next = status::decide(&Err(e.clone()), generation, &previous, &now);
            if next != previous {
                write_status(ctx, mc, &next).await?;
                ctx.event(mc, true, "RestoreRefused", "Restore", e.to_string())
                    .await;
            }
            // The backup may become readable (a Secret created, a store reachable).
            return Ok(Action::requeue(CONVERGING));
        }
    }
    // The Secrets the pods mount exist before the pods do.
    certificates::ensure(ctx, mc, &layouts).await?;
    let web = super::web::serving(ctx, mc, &ns).await?;
    let objects = render_with(mc, &layouts, &ctx.operator_namespace, &web)?.into_dynamic()?;
    apply_all(&ctx.client, &ns, &objects).await?;
    if !mc.spec.network_policies {
        let selector = names.cluster_selector();
        delete_matching(&ctx.client, &ns, &["NetworkPolicy"], &selector).await?;
    }

    let membership = change_membership(mc, ctx, &names, &groups, desired).await;
    // Pods are replaced only while no shard's voters are changing.
    let step = if membership.is_some() {
        Step::Done
    } else {
        next_step(&seen.shards)
    };
    let rollout = match step {
        Step::Done => None,
        Step::Wait { reason } => Some(format!("storage rollout waiting: {reason}")),
        Step::Delete { shard, pod } => {
            let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), &ns);
            match pods.delete(&pod, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
            ctx.metrics.pods_rolled.inc();
            tracing::info!(cluster = %names.cluster, shard, %pod, "replaced storage pod");
            ctx.event(
                mc,
                false,
                "RollingUpdate",
                "DeletePod",
                format!("replacing storage pod {pod} of shard {shard} with the current template"),
            )
            .await;
            Some(format!("replacing storage pod {pod}"))
        }
    };
    let changing = membership.is_some();
    let mut next = cluster_status::decide(
        &Observed {
            generation,
            workloads: seen.workloads,
            rollout,
            membership,
            shards: groups.iter().map(ShardGroup::status).collect(),
            replicas_per_shard: desired,
        },
        &previous,
        &now,
    );
    if let Some(backup) = super::backup::run_if_due(ctx, mc, &names, &groups, &previous).await {
        next.backup = Some(backup);
    }
    if next != previous {
        write_status(ctx, mc, &next).await?;
        announce(ctx, mc, &previous, &next).await;
    }
    Ok(if changing {
        Action::requeue(MEMBERSHIP)
    } else if next.phase.as_deref() == Some(phase::AVAILABLE) {
        Action::requeue(RESYNC)
    } else {
        Action::requeue(CONVERGING)
    })
}

/// Takes the next membership step of every shard whose voters are not the wanted ones
/// (one step per shard per reconcile); what is going on, if anything.
async fn change_membership(
    mc: &MetricCluster,
    ctx: &Context,
    names: &Names,
    groups: &[ShardGroup],
    desired: u32,
) -> Option<String> {
    let mut notes = Vec::new();
    for group in groups {
        let shard = group.shard;
        match group.next(desired) {
            Next::Done => {}
            // A group that is still being created has nothing to change.
            Next::Wait(_) if group.answers.values().all(|s| !s.initialized) => {}
            Next::Wait(why) => notes.push(format!("shard {shard}: waiting: {why}")),
            Next::Take(step) => {
                tracing::info!(cluster = %names.cluster, shard, %step, "membership step");
                match membership::step(names, group, desired, ctx.grpc_tls(names)).await {
                    Ok(changed) => {
                        ctx.metrics.membership_steps.inc();
                        for s in &changed.steps {
                            ctx.event(
                                mc,
                                false,
                                "MembershipChange",
                                "ChangeMembership",
                                format!("shard {shard}: {s}"),
                            )
                            .await;
                        }
                        if !changed.complete {
                            notes.push(format!("shard {shard}: took `{step}`"));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(cluster = %names.cluster, shard, error = %e, "membership step failed");
                        ctx.event(
                            mc,
                            true,
                            "MembershipChangeFailed",
                            "ChangeMembership",
                            format!("shard {shard}: {e}"),
                        )
                        .await;
                        notes.push(format!("shard {shard}: `{step}` failed: {e}"));
                    }
                }
            }
        }
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// An Event when the phase changes.
async fn announce(
    ctx: &Context,
    mc: &MetricCluster,
    before: &ResourceStatus,
    after: &ResourceStatus,
) {
    if before.phase == after.phase {
        return;
    }
    let phase = after.phase.clone().unwrap_or_default();
    let note = after
        .conditions
        .iter()
        .find(|c| c.type_ == phase && !c.message.is_empty())
        .map(|c| c.message.clone())
        .unwrap_or_else(|| format!("{} pods ready", after.ready.clone().unwrap_or_default()));
    ctx.event(mc, phase == phase::DEGRADED, &phase, "Reconcile", note)
        .await;
}
