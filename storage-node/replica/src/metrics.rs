//! Self-metrics of a replica (`telltale_raft_*`).

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

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
    pub log_entries: IntGauge,
    pub log_bytes: IntGauge,
    pub log_snapshots: IntCounter,
    pub log_full_waits: IntCounter,
    pub grpc_requests: IntCounterVec,
}

impl ReplicaMetrics {
    pub fn register(registry: &Registry) -> Result<Self> {
        let m = ReplicaMetrics {
            writes: IntCounterVec::new(
                Opts::new(
                    "telltale_raft_writes_total",
                    "Write batches received, by result (ok, duplicate, not_leader, log_full, error).",
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
            log_entries: IntGauge::new(
                "telltale_raft_log_entries",
                "Entries held in the Raft log.",
            )?,
            log_bytes: IntGauge::new(
                "telltale_raft_log_bytes",
                "Encoded bytes of the entries held in the Raft log.",
            )?,
            grpc_requests: IntCounterVec::new(
                Opts::new(
                    "telltale_storage_grpc_requests_total",
                    "Storage API calls received over gRPC (in-process calls are not counted), by method.",
                ),
                &["method"],
            )?,
            log_snapshots: IntCounter::new(
                "telltale_raft_log_size_snapshots_total",
                "Snapshots asked for by the log's byte bound: at half of --raft-log-max-bytes, or when a write waits for room.",
            )?,
            log_full_waits: IntCounter::new(
                "telltale_raft_log_full_waits_total",
                "Writes that waited for a snapshot because the Raft log was at --raft-log-max-bytes.",
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
        registry.register(Box::new(m.log_entries.clone()))?;
        registry.register(Box::new(m.log_bytes.clone()))?;
        registry.register(Box::new(m.log_snapshots.clone()))?;
        registry.register(Box::new(m.log_full_waits.clone()))?;
        registry.register(Box::new(m.grpc_requests.clone()))?;
        Ok(m)
    }
}
