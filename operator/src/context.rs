//! [`Context`]: what every reconcile shares — the client, the event reporter, the
//! backoff state and the operator's own metrics.

use kube::Client;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

use crate::backoff::Backoff;
use crate::{FIELD_MANAGER, Result};

/// The operator's self-metrics, registered in the process registry.
#[derive(Clone)]
pub struct Metrics {
    /// Reconciliations by kind and result (`ok` or an error's metric label).
    pub reconciles: IntCounterVec,
    /// Reconcile duration by kind.
    pub duration: HistogramVec,
    /// Storage pods deleted by the rollout.
    pub pods_rolled: IntCounter,
    /// Membership changes (a replica added or removed) the operator made.
    pub membership_steps: IntCounter,
    /// 1 while this replica holds the leader lease (or runs without election).
    pub leader: IntGauge,
}

impl Metrics {
    pub fn register(registry: &Registry) -> Result<Self> {
        let m = Metrics {
            reconciles: IntCounterVec::new(
                Opts::new(
                    "telltale_operator_reconciliations_total",
                    "Reconciliations by resource kind and result.",
                ),
                &["kind", "result"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "telltale_operator_reconcile_duration_seconds",
                    "Time one reconciliation took, by resource kind.",
                ),
                &["kind"],
            )?,
            pods_rolled: IntCounter::new(
                "telltale_operator_storage_pods_rolled_total",
                "Storage pods deleted to move them to a new template, one at a time.",
            )?,
            membership_steps: IntCounter::new(
                "telltale_operator_membership_steps_total",
                "Replicas added to or removed from a shard's Raft group, one per step.",
            )?,
            leader: IntGauge::new(
                "telltale_operator_leader",
                "1 while this replica holds the leader lease.",
            )?,
        };
        registry.register(Box::new(m.reconciles.clone()))?;
        registry.register(Box::new(m.duration.clone()))?;
        registry.register(Box::new(m.pods_rolled.clone()))?;
        registry.register(Box::new(m.membership_steps.clone()))?;
        registry.register(Box::new(m.leader.clone()))?;
        Ok(m)
    }
}

/// Shared by every reconcile of every controller.
pub struct Context {
    pub client: Client,
    pub metrics: Metrics,
    pub backoff: Backoff,
    recorder: Recorder,
}

impl Context {
    pub fn new(client: Client, metrics: Metrics, identity: &str) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: Some(identity.into()),
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            backoff: Backoff::default(),
        }
    }

    /// Publishes an Event about `obj`. A failure to publish is logged, never fatal: an
    /// Event is a courtesy, the status is the record.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "cannot publish event");
        }
    }
}
