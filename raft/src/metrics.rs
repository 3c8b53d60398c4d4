//! Self-metrics of a replica (`telltale_raft_*`) and of the sharded client
//! (`telltale_shard_*`).

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

use crate::error::Result;

/// A replica's metrics.
#[derive(Debug, Clone)]
pub struct ReplicaMetrics {
    pub writes: IntCounterVec,
    pub samples: IntCounter,
    pub write_duration: Histogram,
    pub term: IntGauge,
    pub is_leader: IntGauge,
    pub last_log_index: IntGauge,
    pub applied_index: IntGauge,
    pub snapshot_index: IntGauge,
    pub leader_changes: IntCounter,
}

impl ReplicaMetrics {
    pub fn register(registry: &Registry) -> Result<Self> {
        let m = ReplicaMetrics {
            writes: IntCounterVec::new(
                Opts::new(
                    "telltale_raft_writes_total",
                    "Write batches received, by result (ok, duplicate, not_leader, error).",
                ),
                &["result"],
            )?,
            samples: IntCounter::new(
                "telltale_raft_samples_applied_total",
                "Samples committed through this replica as leader.",
            )?,
            write_duration: Histogram::with_opts(HistogramOpts::new(
                "telltale_raft_write_duration_seconds",
                "From receiving a write to its commit and apply on the leader.",
            ))?,
            term: IntGauge::new("telltale_raft_term", "Current Raft term.")?,
            is_leader: IntGauge::new("telltale_raft_is_leader", "1 if this replica leads.")?,
            last_log_index: IntGauge::new("telltale_raft_last_log_index", "Last log index.")?,
            applied_index: IntGauge::new(
                "telltale_raft_applied_index",
                "Last log index applied to the engine.",
            )?,
            snapshot_index: IntGauge::new(
                "telltale_raft_snapshot_index",
                "Last log index in the current snapshot.",
            )?,
            leader_changes: IntCounter::new(
                "telltale_raft_leader_changes_total",
                "Times the known leader changed.",
            )?,
        };
        registry.register(Box::new(m.writes.clone()))?;
        registry.register(Box::new(m.samples.clone()))?;
        registry.register(Box::new(m.write_duration.clone()))?;
        registry.register(Box::new(m.term.clone()))?;
        registry.register(Box::new(m.is_leader.clone()))?;
        registry.register(Box::new(m.last_log_index.clone()))?;
        registry.register(Box::new(m.applied_index.clone()))?;
        registry.register(Box::new(m.snapshot_index.clone()))?;
        registry.register(Box::new(m.leader_changes.clone()))?;
        Ok(m)
    }
}

/// The sharded client's metrics.
#[derive(Debug, Clone)]
pub struct ClientMetrics {
    pub batches: IntCounterVec,
    pub retries: IntCounterVec,
    pub write_duration: HistogramVec,
    pub follower_lag: IntGaugeVec,
}

impl ClientMetrics {
    pub fn register(registry: &Registry) -> Result<Self> {
        let m = ClientMetrics {
            batches: IntCounterVec::new(
                Opts::new(
                    "telltale_shard_write_batches_total",
                    "Per-shard write batches, by shard and result.",
                ),
                &["shard", "result"],
            )?,
            retries: IntCounterVec::new(
                Opts::new(
                    "telltale_shard_write_retries_total",
                    "Write attempts repeated, by shard and reason.",
                ),
                &["shard", "reason"],
            )?,
            write_duration: HistogramVec::new(
                HistogramOpts::new(
                    "telltale_shard_write_duration_seconds",
                    "From sending a shard batch to its acknowledgment, retries included.",
                ),
                &["shard"],
            )?,
            follower_lag: IntGaugeVec::new(
                Opts::new(
                    "telltale_shard_follower_read_lag_entries",
                    "Log entries the replica of the last follower read was behind the leader.",
                ),
                &["shard"],
            )?,
        };
        registry.register(Box::new(m.batches.clone()))?;
        registry.register(Box::new(m.retries.clone()))?;
        registry.register(Box::new(m.write_duration.clone()))?;
        registry.register(Box::new(m.follower_lag.clone()))?;
        Ok(m)
    }
}
