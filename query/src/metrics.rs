//! The query service's own metrics.

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// `telltale_query_duration_seconds{endpoint}`, `telltale_queries_total{result}`,
/// `telltale_query_selections_total{tier}`, `telltale_query_samples_loaded_total` and
/// `telltale_query_queued` (queries waiting for an evaluation slot).
#[derive(Clone)]
pub struct QueryMetrics {
    duration: HistogramVec,
    queries: IntCounterVec,
    selections: IntCounterVec,
    samples_loaded: IntCounter,
    queued: IntGauge,
}

impl QueryMetrics {
    /// Creates the metrics and registers them in `registry` (a registration failure, such
    /// as a second engine on the same registry, is logged and the metrics stay private).
    pub fn new(registry: &Registry) -> Self {
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "telltale_query_duration_seconds",
                "Time to answer a query API request, by endpoint.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["endpoint"],
        )
        .expect("static histogram options are valid");
        let queries = IntCounterVec::new(
            Opts::new(
                "telltale_queries_total",
                "PromQL queries evaluated, by result (success or error type).",
            ),
            &["result"],
        )
        .expect("static counter options are valid");
        let selections = IntCounterVec::new(
            Opts::new(
                "telltale_query_selections_total",
                "Selector reads planned, by storage tier (raw, 1m, 1h).",
            ),
            &["tier"],
        )
        .expect("static counter options are valid");
        let samples_loaded = IntCounter::new(
            "telltale_query_samples_loaded_total",
            "Samples and rollup points loaded from storage by queries.",
        )
        .expect("static counter options are valid");
        let queued = IntGauge::new(
            "telltale_query_queued",
            "Queries waiting for an evaluation slot.",
        )
        .expect("static gauge options are valid");
        for c in [
            Box::new(duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(queries.clone()),
            Box::new(selections.clone()),
            Box::new(samples_loaded.clone()),
            Box::new(queued.clone()),
        ] {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "query metrics not registered");
            }
        }
        QueryMetrics {
            duration,
            queries,
            selections,
            samples_loaded,
            queued,
        }
    }

    /// Records the duration of one API request.
    pub fn observe_request(&self, endpoint: &str, seconds: f64) {
        self.duration
            .with_label_values(&[endpoint])
            .observe(seconds);
    }

    /// Counts one evaluated query.
    pub fn count_query(&self, result: &str) {
        self.queries.with_label_values(&[result]).inc();
    }

    /// Counts one selector read from `tier` (`raw`, `1m`, `1h`).
    pub fn count_selection(&self, tier: &str) {
        self.selections.with_label_values(&[tier]).inc();
    }

    /// Adds samples loaded by one query.
    pub fn add_samples_loaded(&self, n: usize) {
        self.samples_loaded.inc_by(n as u64);
    }

    /// Sets the number of queries waiting for a slot.
    pub fn set_queued(&self, n: usize) {
        self.queued.set(n as i64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_with_telltale_names() {
        let r = Registry::new();
        let m = QueryMetrics::new(&r);
        m.count_query("success");
        m.count_selection("1h");
        m.add_samples_loaded(3);
        m.set_queued(2);
        m.observe_request("query", 0.1);
        let names: Vec<String> = r.gather().iter().map(|f| f.name().to_string()).collect();
        for n in [
            "telltale_query_duration_seconds",
            "telltale_queries_total",
            "telltale_query_selections_total",
            "telltale_query_samples_loaded_total",
            "telltale_query_queued",
        ] {
            assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
        }
    }
}
