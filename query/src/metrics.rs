//! The query service's own metrics.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// `telltale_query_duration_seconds{endpoint}` and `telltale_queries_total{result}`.
#[derive(Clone)]
pub struct QueryMetrics {
    duration: HistogramVec,
    queries: IntCounterVec,
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
        for c in [
            Box::new(duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(queries.clone()),
        ] {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "query metrics not registered");
            }
        }
        QueryMetrics { duration, queries }
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
}
