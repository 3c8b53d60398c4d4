//! [`Metrics`]: the alertmanager's own metrics.

use prometheus::{
    HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Counters, gauges and histograms registered once per manager.
#[derive(Clone)]
pub struct Metrics {
    pub rule_evaluations: IntCounter,
    pub rule_evaluation_failures: IntCounter,
    /// Alerts by `state` (`pending`, `firing`).
    pub alerts: IntGaugeVec,
    /// Notifications by `integration` and `result` (`success`, `failure`).
    pub notifications: IntCounterVec,
    /// Delivery time by `integration`, retries included.
    pub notification_latency: HistogramVec,
    /// Recorded and `ALERTS` samples written, and failed writes.
    pub samples_written: IntCounter,
    pub write_failures: IntCounter,
    /// AlertRules and alerting sections refused as invalid, by `kind`.
    pub config_rejected: IntCounterVec,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`; a metric that cannot be
    /// registered (say, a second manager on the same registry) is still counted, just not
    /// exported, and a warning is logged.
    pub fn new(registry: &Registry) -> Self {
        let m = Metrics {
            rule_evaluations: IntCounter::new(
                "telltale_rule_evaluations_total",
                "Alerting rule evaluations.",
            )
            .expect("valid metric"),
            rule_evaluation_failures: IntCounter::new(
                "telltale_rule_evaluation_failures_total",
                "Alerting rule evaluations that failed.",
            )
            .expect("valid metric"),
            alerts: IntGaugeVec::new(
                Opts::new("telltale_alerts", "Active alerts by state."),
                &["state"],
            )
            .expect("valid metric"),
            notifications: IntCounterVec::new(
                Opts::new(
                    "telltale_notifications_total",
                    "Notifications by integration and result.",
                ),
                &["integration", "result"],
            )
            .expect("valid metric"),
            notification_latency: HistogramVec::new(
                HistogramOpts::new(
                    "telltale_notification_latency_seconds",
                    "Time to deliver one notification, retries included.",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                ]),
                &["integration"],
            )
            .expect("valid metric"),
            samples_written: IntCounter::new(
                "telltale_rule_samples_written_total",
                "Samples of recording rules and ALERTS series written.",
            )
            .expect("valid metric"),
            write_failures: IntCounter::new(
                "telltale_rule_write_failures_total",
                "Failed writes of rule results.",
            )
            .expect("valid metric"),
            config_rejected: IntCounterVec::new(
                Opts::new(
                    "telltale_alertmanager_config_rejected_total",
                    "Invalid AlertRules and alerting sections refused (the last good one stays), by kind.",
                ),
                &["kind"],
            )
            .expect("valid metric"),
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 8] = [
            Box::new(m.rule_evaluations.clone()),
            Box::new(m.rule_evaluation_failures.clone()),
            Box::new(m.alerts.clone()),
            Box::new(m.notifications.clone()),
            Box::new(m.notification_latency.clone()),
            Box::new(m.samples_written.clone()),
            Box::new(m.write_failures.clone()),
            Box::new(m.config_rejected.clone()),
        ];
        for c in collectors {
            if let Err(e) = registry.register(c) {
                tracing::warn!(error = %e, "cannot register alertmanager metric");
            }
        }
        for state in ["pending", "firing"] {
            m.alerts.with_label_values(&[state]).set(0);
        }
        for kind in ["AlertRule", "MetricCluster"] {
            m.config_rejected.with_label_values(&[kind]).reset();
        }
        m
    }
}
