//! [`ForwardMetrics`]: one forwarder's self-metrics, with Prometheus 2.42's names and
//! its labels `remote_name` and `url` (constant labels, so forwarders of several
//! sections share a registry), unregistered when the forwarder goes.

use prometheus::core::Collector;
use prometheus::{Gauge, Histogram, HistogramOpts, IntCounter, IntGauge, Opts, Registry};
use tracing::warn;

/// Counters, gauges and the batch duration histogram of one forwarder.
#[derive(Clone)]
pub struct ForwardMetrics {
    /// `prometheus_remote_storage_samples_total`: samples in batches sent (accepted or
    /// refused for good), as Prometheus counts them.
    pub samples_total: IntCounter,
    /// `prometheus_remote_storage_samples_failed_total`: samples in batches the remote
    /// refused for good (4xx other than a retried 429); those batches are dropped.
    pub samples_failed_total: IntCounter,
    /// `prometheus_remote_storage_samples_retried_total`: samples in attempts that
    /// failed recoverably (5xx, 429 when retried, no answer) and were sent again.
    pub samples_retried_total: IntCounter,
    /// `prometheus_remote_storage_samples_dropped_total`: samples never sent: dropped by
    /// `write_relabel_configs`, or evicted from a full queue.
    pub samples_dropped_total: IntCounter,
    /// `prometheus_remote_storage_samples_pending`: samples queued, not sent yet.
    pub samples_pending: IntGauge,
    /// `prometheus_remote_storage_queue_highest_sent_timestamp_seconds`.
    pub highest_sent_timestamp_seconds: Gauge,
    /// `prometheus_remote_storage_sent_batch_duration_seconds`: one attempt each.
    pub sent_batch_duration_seconds: Histogram,
    /// `prometheus_remote_storage_bytes_total`: compressed request bytes sent.
    pub bytes_total: IntCounter,
    /// `telltale_remote_storage_samples_evicted_total`: the part of the dropped samples
    /// evicted, oldest first, because the queue reached its byte limit.
    pub samples_evicted_total: IntCounter,
    /// `telltale_remote_storage_queue_bytes`: bytes of the queue's files not sent yet.
    pub queue_bytes: IntGauge,
}

/// The metrics' registration: dropping it removes them from the registry.
pub struct Registered {
    collectors: Vec<Box<dyn Collector>>,
    registry: Registry,
}

impl Drop for Registered {
    fn drop(&mut self) {
        for c in self.collectors.drain(..) {
            let _ = self.registry.unregister(c);
        }
    }
}

impl ForwardMetrics {
    /// Makes and registers the metrics of the forwarder `remote_name` sending to `url`.
    pub fn new(registry: &Registry, remote_name: &str, url: &str) -> (Self, Registered) {
        let opts = |name: &str, help: &str| {
            Opts::new(name, help)
                .const_label("remote_name", remote_name)
                .const_label("url", url)
        };
        let counter = |name: &str, help: &str| {
            IntCounter::with_opts(opts(name, help)).expect("valid metric definition")
        };
        let mut buckets = prometheus::DEFAULT_BUCKETS.to_vec();
        buckets.extend([25.0, 60.0, 120.0, 300.0]);
        let m = ForwardMetrics {
            samples_total: counter(
                "prometheus_remote_storage_samples_total",
                "Total number of samples sent to remote storage.",
            ),
            samples_failed_total: counter(
                "prometheus_remote_storage_samples_failed_total",
                "Total number of samples which failed on send to remote storage, non-recoverable errors.",
            ),
            samples_retried_total: counter(
                "prometheus_remote_storage_samples_retried_total",
                "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.",
            ),
            samples_dropped_total: counter(
                "prometheus_remote_storage_samples_dropped_total",
                "Total number of samples which were dropped before being sent via remote write, by relabeling or because the queue was full.",
            ),
            samples_pending: IntGauge::with_opts(opts(
                "prometheus_remote_storage_samples_pending",
                "The number of samples pending in the queues shards to be sent to the remote storage.",
            ))
            .expect("valid metric definition"),
            highest_sent_timestamp_seconds: Gauge::with_opts(opts(
                "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
                "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.",
            ))
            .expect("valid metric definition"),
            sent_batch_duration_seconds: Histogram::with_opts(
                HistogramOpts::from(opts(
                    "prometheus_remote_storage_sent_batch_duration_seconds",
                    "Duration of send calls to the remote storage.",
                ))
                .buckets(buckets),
            )
            .expect("valid metric definition"),
            bytes_total: counter(
                "prometheus_remote_storage_bytes_total",
                "The total number of bytes of data (not metadata) sent by the queue after compression.",
            ),
            samples_evicted_total: counter(
                "telltale_remote_storage_samples_evicted_total",
                "Samples evicted, oldest first, from a remote_write queue that reached its byte limit.",
            ),
            queue_bytes: IntGauge::with_opts(opts(
                "telltale_remote_storage_queue_bytes",
                "Bytes of the remote_write queue's files not sent yet.",
            ))
            .expect("valid metric definition"),
        };
        let mut registered = Registered {
            collectors: Vec::new(),
            registry: registry.clone(),
        };
        let collectors: [(Box<dyn Collector>, Box<dyn Collector>); 10] = [
            twice(&m.samples_total),
            twice(&m.samples_failed_total),
            twice(&m.samples_retried_total),
            twice(&m.samples_dropped_total),
            twice(&m.samples_pending),
            twice(&m.highest_sent_timestamp_seconds),
            twice(&m.sent_batch_duration_seconds),
            twice(&m.bytes_total),
            twice(&m.samples_evicted_total),
            twice(&m.queue_bytes),
        ];
        for (c, kept) in collectors {
            match registry.register(c) {
                Ok(()) => registered.collectors.push(kept),
                Err(e) => warn!(error = %e, remote_name, "cannot register remote_write metric"),
            }
        }
        (m, registered)
    }
}

/// Two handles on one collector: one to register, one to unregister with later.
fn twice<C: Collector + Clone + 'static>(c: &C) -> (Box<dyn Collector>, Box<dyn Collector>) {
    (Box::new(c.clone()), Box::new(c.clone()))
}
