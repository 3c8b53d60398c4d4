//! [`EngineMetrics`]: the engine's self-metrics, registered on the caller's registry and
//! unregistered when the engine is dropped (so a reopened engine can register again).

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    exponential_buckets,
};

use crate::error::Result;

/// Counters, gauges and histograms of one engine.
pub struct EngineMetrics {
    /// Where the metrics are registered; `None` until they all are.
    registry: Option<Registry>,
    /// `telltale_storage_series`: series in the index.
    pub series: IntGauge,
    /// `telltale_storage_samples_appended_total`: samples made durable.
    pub samples_appended: IntCounter,
    /// `telltale_storage_write_requests_total{result}`: `ok` or an error's metric label.
    pub write_requests: IntCounterVec,
    /// `telltale_storage_write_duration_seconds`: applying a write (index, batch, head).
    pub write_duration: Histogram,
    /// `telltale_storage_select_duration_seconds`: one select, index and samples.
    pub select_duration: Histogram,
    /// `telltale_storage_head_series`: series with unflushed samples.
    pub head_series: IntGauge,
    /// `telltale_storage_head_samples`: unflushed samples.
    pub head_samples: IntGauge,
    /// `telltale_storage_head_bytes`: memory the head holds (approximate).
    pub head_bytes: IntGauge,
    /// `telltale_storage_samples_out_of_order_total`: accepted samples older than their
    /// series' newest one.
    pub samples_out_of_order: IntCounter,
    /// `telltale_storage_samples_backfilled_total`: samples older than the out-of-order
    /// window, written straight to their partition.
    pub samples_backfilled: IntCounter,
    /// `telltale_storage_raw_chunks_compacted_total`: raw chunks merged into larger ones.
    pub chunks_compacted: IntCounter,
    /// `telltale_storage_flushes_total{result}`.
    pub flushes: IntCounterVec,
    /// `telltale_storage_flush_duration_seconds`.
    pub flush_duration: Histogram,
    /// `telltale_storage_flushed_seq`: the last write whose samples are in chunks.
    pub flushed_seq: IntGauge,
    /// `telltale_storage_newest_sample_timestamp_seconds`.
    pub newest_sample: IntGauge,
    /// `telltale_storage_rollup_complete_until_timestamp_seconds{tier}`.
    pub rollup_until: IntGaugeVec,
    /// `telltale_storage_rollup_lag_seconds{tier}`: newest sample minus rollup progress.
    pub rollup_lag: IntGaugeVec,
    /// `telltale_storage_rollup_windows_total{tier,kind}`: windows rolled up (`new` or
    /// `dirty` recomputations).
    pub rollup_windows: IntCounterVec,
    /// `telltale_storage_retention_dropped_days_total{tier}`.
    pub retention_dropped: IntCounterVec,
    /// `telltale_storage_retention_oldest_day_timestamp_seconds{tier}`.
    pub oldest_day: IntGaugeVec,
    /// `telltale_storage_disk_bytes{tier}`.
    pub disk_bytes: IntGaugeVec,
    /// `telltale_storage_cold_days{tier}`: days of the tier in object storage.
    pub cold_days: IntGaugeVec,
    /// `telltale_storage_cold_object_bytes{tier}`: bytes of those days' objects.
    pub cold_bytes: IntGaugeVec,
    /// `telltale_storage_cold_cache_bytes`: bytes of cold objects in the read cache.
    pub cold_cache_bytes: IntGauge,
    /// `telltale_storage_exemplars_total{outcome}`: exemplars applied, by what the
    /// exemplar store did with them (`added`, `duplicate`, `out_of_order`,
    /// `label_length`, `disabled`).
    pub exemplars: IntCounterVec,
    /// `telltale_storage_exemplars_in_storage`: exemplars the ring holds.
    pub exemplars_stored: IntGauge,
}

impl EngineMetrics {
    pub fn register(registry: &Registry) -> Result<Self> {
        // 0.5 ms .. ~16 s: a synced write costs at least one fsync.
        let buckets = exponential_buckets(0.0005, 2.0, 16)?;
        let mut metrics = EngineMetrics {
            registry: None,
            series: IntGauge::new("telltale_storage_series", "Series in the storage index.")?,
            samples_appended: IntCounter::new(
                "telltale_storage_samples_appended_total",
                "Samples durably appended.",
            )?,
            write_requests: IntCounterVec::new(
                Opts::new(
                    "telltale_storage_write_requests_total",
                    "Write requests by result (ok or an error kind).",
                ),
                &["result"],
            )?,
            write_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "telltale_storage_write_duration_seconds",
                    "Time to validate and durably commit one write request.",
                )
                .buckets(buckets.clone()),
            )?,
            select_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "telltale_storage_select_duration_seconds",
                    "Time to answer one select.",
                )
                .buckets(buckets.clone()),
            )?,
            head_series: IntGauge::new(
                "telltale_storage_head_series",
                "Series with samples not yet flushed to chunks.",
            )?,
            head_samples: IntGauge::new(
                "telltale_storage_head_samples",
                "Samples not yet flushed to chunks.",
            )?,
            head_bytes: IntGauge::new(
                "telltale_storage_head_bytes",
                "Approximate memory held by the head.",
            )?,
            samples_out_of_order: IntCounter::new(
                "telltale_storage_samples_out_of_order_total",
                "Accepted samples older than their series' newest sample.",
            )?,
            samples_backfilled: IntCounter::new(
                "telltale_storage_samples_backfilled_total",
                "Samples older than the out-of-order window, written straight to disk.",
            )?,
            chunks_compacted: IntCounter::new(
                "telltale_storage_raw_chunks_compacted_total",
                "Raw chunks merged with their neighbours in an hour window.",
            )?,
            flushes: IntCounterVec::new(
                Opts::new("telltale_storage_flushes_total", "Head flushes by result."),
                &["result"],
            )?,
            flush_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "telltale_storage_flush_duration_seconds",
                    "Time to flush the head to chunks.",
                )
                .buckets(buckets),
            )?,
            flushed_seq: IntGauge::new(
                "telltale_storage_flushed_seq",
                "Sequence number of the last write whose samples are in chunks.",
            )?,
            newest_sample: IntGauge::new(
                "telltale_storage_newest_sample_timestamp_seconds",
                "Timestamp of the newest sample stored.",
            )?,
            rollup_until: IntGaugeVec::new(
                Opts::new(
                    "telltale_storage_rollup_complete_until_timestamp_seconds",
                    "Rollups of buckets before this time are complete.",
                ),
                &["tier"],
            )?,
            rollup_lag: IntGaugeVec::new(
                Opts::new(
                    "telltale_storage_rollup_lag_seconds",
                    "Newest sample minus rollup progress.",
                ),
                &["tier"],
            )?,
            rollup_windows: IntCounterVec::new(
                Opts::new(
                    "telltale_storage_rollup_windows_total",
                    "Rollup windows computed, new or recomputed after late data.",
                ),
                &["tier", "kind"],
            )?,
            retention_dropped: IntCounterVec::new(
                Opts::new(
                    "telltale_storage_retention_dropped_days_total",
                    "Day partitions dropped by retention.",
                ),
                &["tier"],
            )?,
            oldest_day: IntGaugeVec::new(
                Opts::new(
                    "telltale_storage_retention_oldest_day_timestamp_seconds",
                    "Start of the oldest day partition kept.",
                ),
                &["tier"],
            )?,
            disk_bytes: IntGaugeVec::new(
                Opts::new("telltale_storage_disk_bytes", "Bytes on disk per tier."),
                &["tier"],
            )?,
            cold_days: IntGaugeVec::new(
                Opts::new(
                    "telltale_storage_cold_days",
                    "Days of the tier moved to object storage.",
                ),
                &["tier"],
            )?,
            cold_bytes: IntGaugeVec::new(
                Opts::new(
                    "telltale_storage_cold_object_bytes",
                    "Bytes of the tier's objects in object storage.",
                ),
                &["tier"],
            )?,
            cold_cache_bytes: IntGauge::new(
                "telltale_storage_cold_cache_bytes",
                "Bytes of cold objects in the read cache directory.",
            )?,
            exemplars: IntCounterVec::new(
                Opts::new(
                    "telltale_storage_exemplars_total",
                    "Exemplars applied, by outcome (added, or why not).",
                ),
                &["outcome"],
            )?,
            exemplars_stored: IntGauge::new(
                "telltale_storage_exemplars_in_storage",
                "Exemplars held in the bounded exemplar store.",
            )?,
        };
        // All or none. Until `registry` is set, dropping `metrics` unregisters nothing,
        // so a failure here cannot take away the metrics of a twin already registered.
        for (i, c) in metrics.boxed().into_iter().enumerate() {
            if let Err(e) = registry.register(c) {
                for done in metrics.boxed().into_iter().take(i) {
                    let _ = registry.unregister(done);
                }
                return Err(e.into());
            }
        }
        metrics.registry = Some(registry.clone());
        Ok(metrics)
    }

    fn boxed(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.series.clone()),
            Box::new(self.exemplars.clone()),
            Box::new(self.exemplars_stored.clone()),
            Box::new(self.samples_appended.clone()),
            Box::new(self.write_requests.clone()),
            Box::new(self.write_duration.clone()),
            Box::new(self.select_duration.clone()),
            Box::new(self.head_series.clone()),
            Box::new(self.head_samples.clone()),
            Box::new(self.head_bytes.clone()),
            Box::new(self.samples_out_of_order.clone()),
            Box::new(self.samples_backfilled.clone()),
            Box::new(self.chunks_compacted.clone()),
            Box::new(self.flushes.clone()),
            Box::new(self.flush_duration.clone()),
            Box::new(self.flushed_seq.clone()),
            Box::new(self.newest_sample.clone()),
            Box::new(self.rollup_until.clone()),
            Box::new(self.rollup_lag.clone()),
            Box::new(self.rollup_windows.clone()),
            Box::new(self.retention_dropped.clone()),
            Box::new(self.oldest_day.clone()),
            Box::new(self.disk_bytes.clone()),
            Box::new(self.cold_days.clone()),
            Box::new(self.cold_bytes.clone()),
            Box::new(self.cold_cache_bytes.clone()),
        ]
    }
}

impl Drop for EngineMetrics {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.take() {
            for c in self.boxed() {
                let _ = registry.unregister(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_unregisters_and_refuses_a_second_copy() {
        let registry = Registry::new();
        let first = EngineMetrics::register(&registry).unwrap();
        first.samples_appended.inc_by(3);
        assert!(EngineMetrics::register(&registry).is_err());
        // The failed attempt left the first set intact.
        let names: Vec<String> = registry.gather().iter().map(|f| f.name().into()).collect();
        assert!(names.contains(&"telltale_storage_samples_appended_total".to_string()));
        drop(first);
        assert!(registry.gather().is_empty());
        assert!(EngineMetrics::register(&registry).is_ok());
    }
}
