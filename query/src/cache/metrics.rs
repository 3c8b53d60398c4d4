//! `telltale_query_result_cache_*`: hits, misses, bytes, entries, evictions and
//! invalidations of the range-query result cache.

use prometheus::{IntCounter, IntGauge, Registry};

#[derive(Clone)]
pub(crate) struct CacheMetrics {
    pub hits: IntCounter,
    pub misses: IntCounter,
    pub bytes: IntGauge,
    pub entries: IntGauge,
    pub evictions: IntCounter,
    pub invalidations: IntCounter,
}

impl CacheMetrics {
    /// Creates the metrics and registers them in `registry` (a registration failure is
    /// logged and the metrics stay private).
    pub(crate) fn new(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| {
            IntCounter::new(name, help).expect("static counter options are valid")
        };
        let gauge = |name: &str, help: &str| {
            IntGauge::new(name, help).expect("static gauge options are valid")
        };
        let m = CacheMetrics {
            hits: counter(
                "telltale_query_result_cache_hits_total",
                "Range-query intervals answered from the result cache.",
            ),
            misses: counter(
                "telltale_query_result_cache_misses_total",
                "Cacheable range-query intervals not found in the result cache.",
            ),
            bytes: gauge(
                "telltale_query_result_cache_bytes",
                "Approximate memory held by cached intervals.",
            ),
            entries: gauge(
                "telltale_query_result_cache_entries",
                "Intervals held by the result cache.",
            ),
            evictions: counter(
                "telltale_query_result_cache_evictions_total",
                "Cached intervals evicted to stay within the byte budget.",
            ),
            invalidations: counter(
                "telltale_query_result_cache_invalidations_total",
                "Cached intervals dropped because late writes changed their data.",
            ),
        };
        for c in [
            Box::new(m.hits.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.misses.clone()),
            Box::new(m.bytes.clone()),
            Box::new(m.entries.clone()),
            Box::new(m.evictions.clone()),
            Box::new(m.invalidations.clone()),
        ] {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "result cache metrics not registered");
            }
        }
        m
    }
}
