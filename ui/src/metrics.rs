//! [`UiMetrics`]: the UI server's self-metrics (`telltale_ui_*`).

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::error::Result;

/// Counters and gauges of the UI's HTTP handlers and live connections.
#[derive(Clone)]
pub struct UiMetrics {
    /// `telltale_ui_http_requests_total{handler,code}`.
    pub requests: IntCounterVec,
    /// `telltale_ui_live_connections`: open live WebSockets.
    pub live_connections: IntGauge,
    /// `telltale_ui_live_evaluations_total{outcome}` (`ok` or an error label).
    pub live_evaluations: IntCounterVec,
    /// `telltale_ui_live_points_pushed_total`.
    pub live_points: IntCounter,
    /// `telltale_ui_live_evaluation_duration_seconds`.
    pub live_duration: Histogram,
}

impl UiMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> Result<Self> {
        let m = UiMetrics {
            requests: IntCounterVec::new(
                Opts::new(
                    "telltale_ui_http_requests_total",
                    "UI HTTP requests by handler (page, asset, live) and status code.",
                ),
                &["handler", "code"],
            )?,
            live_connections: IntGauge::new(
                "telltale_ui_live_connections",
                "Open live-mode WebSocket connections.",
            )?,
            live_evaluations: IntCounterVec::new(
                Opts::new(
                    "telltale_ui_live_evaluations_total",
                    "Live-mode query evaluations by outcome.",
                ),
                &["outcome"],
            )?,
            live_points: IntCounter::new(
                "telltale_ui_live_points_pushed_total",
                "Points pushed to live-mode graphs.",
            )?,
            live_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "telltale_ui_live_evaluation_duration_seconds",
                    "Duration of live-mode query evaluations.",
                )
                .buckets(prometheus::exponential_buckets(0.001, 4.0, 8)?),
            )?,
        };
        registry.register(Box::new(m.requests.clone()))?;
        registry.register(Box::new(m.live_connections.clone()))?;
        registry.register(Box::new(m.live_evaluations.clone()))?;
        registry.register(Box::new(m.live_points.clone()))?;
        registry.register(Box::new(m.live_duration.clone()))?;
        Ok(m)
    }

    /// Counts one request.
    pub fn request(&self, handler: &str, code: u16) {
        self.requests
            .with_label_values(&[handler, &code.to_string()])
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_once_per_registry() {
        let r = Registry::new();
        let m = UiMetrics::new(&r).unwrap();
        m.request("page", 200);
        let names: Vec<String> = r.gather().iter().map(|f| f.name().to_string()).collect();
        assert!(names.contains(&"telltale_ui_http_requests_total".to_string()));
        assert!(names.iter().all(|n| n.starts_with("telltale_ui_")));
        assert!(
            UiMetrics::new(&r).is_err(),
            "a second registration must fail"
        );
    }
}
