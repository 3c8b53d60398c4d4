//! [`EngineMetrics`]: the engine's self-metrics, registered on the caller's registry and
//! unregistered when the engine is dropped (so a reopened engine can register again).

use prometheus::core::Collector;
use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
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
    /// `telltale_storage_write_duration_seconds`: validate + commit (incl. fsync).
    pub write_duration: Histogram,
    /// `telltale_storage_select_duration_seconds`: one select, index and samples.
    pub select_duration: Histogram,
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
                .buckets(buckets),
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

    fn boxed(&self) -> [Box<dyn Collector>; 5] {
        [
            Box::new(self.series.clone()),
            Box::new(self.samples_appended.clone()),
            Box::new(self.write_requests.clone()),
            Box::new(self.write_duration.clone()),
            Box::new(self.select_duration.clone()),
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
