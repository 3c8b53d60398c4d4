//! [`QueueMetrics`]: the disk queue's self-metrics.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use tracing::warn;

/// Counters and gauges of one disk queue. Cheap to clone.
#[derive(Clone, Debug)]
pub struct QueueMetrics {
    /// `telltale_queue_pending_bytes`: bytes waiting to be replayed.
    pub pending_bytes: IntGauge,
    /// `telltale_queue_pending_batches`: batches waiting to be replayed.
    pub pending_batches: IntGauge,
    /// `telltale_queue_enqueued_samples_total`: samples written to disk because storage
    /// was unavailable (or a backlog existed).
    pub enqueued_samples_total: IntCounter,
    /// `telltale_queue_replayed_samples_total`: queued samples storage accepted later.
    pub replayed_samples_total: IntCounter,
    /// `telltale_queue_dropped_samples_total{reason}`: `overflow` (queue full, the caller
    /// got an error), `io` (the disk failed, the caller got an error), `rejected`
    /// (storage refused a replayed batch as invalid), `corrupt` (a record no longer read
    /// back).
    pub dropped_samples_total: IntCounterVec,
}

impl QueueMetrics {
    pub fn new(registry: &Registry) -> Self {
        let m = QueueMetrics {
            pending_bytes: IntGauge::new(
                "telltale_queue_pending_bytes",
                "Bytes in the disk queue waiting to be replayed to storage.",
            )
            .expect("valid metric definition"),
            pending_batches: IntGauge::new(
                "telltale_queue_pending_batches",
                "Batches in the disk queue waiting to be replayed to storage.",
            )
            .expect("valid metric definition"),
            enqueued_samples_total: IntCounter::new(
                "telltale_queue_enqueued_samples_total",
                "Samples written to the disk queue while storage was unavailable.",
            )
            .expect("valid metric definition"),
            replayed_samples_total: IntCounter::new(
                "telltale_queue_replayed_samples_total",
                "Queued samples replayed to storage.",
            )
            .expect("valid metric definition"),
            dropped_samples_total: IntCounterVec::new(
                Opts::new(
                    "telltale_queue_dropped_samples_total",
                    "Samples the disk queue could not keep, by reason.",
                ),
                &["reason"],
            )
            .expect("valid metric definition"),
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 5] = [
            Box::new(m.pending_bytes.clone()),
            Box::new(m.pending_batches.clone()),
            Box::new(m.enqueued_samples_total.clone()),
            Box::new(m.replayed_samples_total.clone()),
            Box::new(m.dropped_samples_total.clone()),
        ];
        for c in collectors {
            if let Err(e) = registry.register(c) {
                warn!(error = %e, "cannot register disk queue metric");
            }
        }
        m
    }
}
