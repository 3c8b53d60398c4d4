//! Self-metrics of the sharded client (`telltale_shard_*`).

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::error::Result;

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
