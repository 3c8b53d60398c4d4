//! [`Metrics`]: the alertmanager's own metrics — Prometheus's rule metrics and
//! Alertmanager's notification metrics under Telltale's names:
//!
//! | Telltale | Prometheus / Alertmanager |
//! |---|---|
//! | `telltale_rule_evaluations_total{rule_group}` | `prometheus_rule_evaluations_total` |
//! | `telltale_rule_evaluation_failures_total{rule_group}` | `prometheus_rule_evaluation_failures_total` |
//! | `telltale_rule_evaluation_duration_seconds` | `prometheus_rule_evaluation_duration_seconds` |
//! | `telltale_rule_group_duration_seconds` | `prometheus_rule_group_duration_seconds` |
//! | `telltale_rule_group_interval_seconds{rule_group}` | `prometheus_rule_group_interval_seconds` |
//! | `telltale_rule_group_last_duration_seconds{rule_group}` | `prometheus_rule_group_last_duration_seconds` |
//! | `telltale_rule_group_last_evaluation_timestamp_seconds{rule_group}` | `prometheus_rule_group_last_evaluation_timestamp_seconds` |
//! | `telltale_rule_group_last_evaluation_samples{rule_group}` | `prometheus_rule_group_last_evaluation_samples` |
//! | `telltale_rule_group_iterations_total{rule_group}` | `prometheus_rule_group_iterations_total` |
//! | `telltale_rule_group_iterations_missed_total{rule_group}` | `prometheus_rule_group_iterations_missed_total` |
//! | `telltale_rule_group_rules{rule_group}` | `prometheus_rule_group_rules` |
//! | `telltale_notifications_total{integration,result}` | `alertmanager_notifications_total`, `..._failed_total` |
//! | `telltale_notification_requests_total{integration}` | `alertmanager_notification_requests_total` |
//! | `telltale_notification_requests_failed_total{integration}` | `alertmanager_notification_requests_failed_total` |
//! | `telltale_notification_latency_seconds{integration}` | `alertmanager_notification_latency_seconds` |
//! | `telltale_alerts_received_total{status}` | `alertmanager_alerts_received_total` |
//! | `telltale_alerts_invalid_total` | `alertmanager_alerts_invalid_total` |
//! | `telltale_dispatcher_aggregation_groups` | `alertmanager_dispatcher_aggregation_groups` |
//! | `telltale_dispatcher_flush_duration_seconds` | (per group flush) |
//! | `telltale_silences{state}` | `alertmanager_silences` |

use prometheus::{
    GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

/// Counters, gauges and histograms registered once per manager.
#[derive(Clone)]
pub struct Metrics {
    pub rule_evaluations: IntCounterVec,
    pub rule_evaluation_failures: IntCounterVec,
    pub rule_evaluation_seconds: Histogram,
    pub group_duration: Histogram,
    pub group_interval: GaugeVec,
    pub group_last_duration: GaugeVec,
    pub group_last_evaluation: GaugeVec,
    pub group_last_samples: IntGaugeVec,
    pub group_iterations: IntCounterVec,
    pub group_iterations_missed: IntCounterVec,
    pub group_rules: IntGaugeVec,
    /// Alerts by `state` (`pending`, `firing`).
    pub alerts: IntGaugeVec,
    /// Notifications by `integration` and `result` (`success`, `failure`).
    pub notifications: IntCounterVec,
    /// Attempts (requests) by `integration`, and the failed ones.
    pub notification_requests: IntCounterVec,
    pub notification_requests_failed: IntCounterVec,
    /// Delivery time by `integration`, retries included.
    pub notification_latency: HistogramVec,
    /// Alerts taken by the dispatcher by `status` (`firing`, `resolved`), and refused.
    pub alerts_received: IntCounterVec,
    pub alerts_invalid: IntCounter,
    pub aggregation_groups: IntGauge,
    /// Time to mute one group's alerts at a flush (inhibition and silences; the wait for
    /// a blocking thread and delivery not included).
    pub flush_seconds: Histogram,
    /// Silences by `state` (`active`, `pending`, `expired`).
    pub silences: IntGaugeVec,
    /// Recorded and `ALERTS` samples written, and failed writes.
    pub samples_written: IntCounter,
    pub write_failures: IntCounter,
    /// AlertRules and alerting sections refused as invalid, by `kind`.
    pub config_rejected: IntCounterVec,
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn gauge_vec(name: &str, help: &str, labels: &[&str]) -> GaugeVec {
    GaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn int_gauge_vec(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets)).expect("valid metric")
}

const SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    /// Creates the metrics and registers them in `registry`; a metric that cannot be
    /// registered (say, a second manager on the same registry) is still counted, just not
    /// exported, and a warning is logged.
    pub fn new(registry: &Registry) -> Self {
        let group = &["rule_group"];
        let m = Metrics {
            rule_evaluations: counter_vec(
                "telltale_rule_evaluations_total",
                "Rule evaluations.",
                group,
            ),
            rule_evaluation_failures: counter_vec(
                "telltale_rule_evaluation_failures_total",
                "Rule evaluations that failed.",
                group,
            ),
            rule_evaluation_seconds: histogram(
                "telltale_rule_evaluation_duration_seconds",
                "Time of one rule's evaluation (query and state).",
                SECONDS.to_vec(),
            ),
            group_duration: histogram(
                "telltale_rule_group_duration_seconds",
                "Time of one rule group's evaluation.",
                SECONDS.to_vec(),
            ),
            group_interval: gauge_vec(
                "telltale_rule_group_interval_seconds",
                "The interval of a rule group.",
                group,
            ),
            group_last_duration: gauge_vec(
                "telltale_rule_group_last_duration_seconds",
                "Time of the rule group's last evaluation.",
                group,
            ),
            group_last_evaluation: gauge_vec(
                "telltale_rule_group_last_evaluation_timestamp_seconds",
                "Evaluation time of the rule group's last evaluation.",
                group,
            ),
            group_last_samples: int_gauge_vec(
                "telltale_rule_group_last_evaluation_samples",
                "Samples the rule group's last evaluation wrote.",
                group,
            ),
            group_iterations: counter_vec(
                "telltale_rule_group_iterations_total",
                "Scheduled evaluations of the rule group, run or missed.",
                group,
            ),
            group_iterations_missed: counter_vec(
                "telltale_rule_group_iterations_missed_total",
                "Evaluations of the rule group skipped because the previous ones ran late.",
                group,
            ),
            group_rules: int_gauge_vec(
                "telltale_rule_group_rules",
                "Rules of the rule group.",
                group,
            ),
            alerts: int_gauge_vec("telltale_alerts", "Active alerts by state.", &["state"]),
            notifications: counter_vec(
                "telltale_notifications_total",
                "Notifications by integration and result.",
                &["integration", "result"],
            ),
            notification_requests: counter_vec(
                "telltale_notification_requests_total",
                "Delivery attempts by integration.",
                &["integration"],
            ),
            notification_requests_failed: counter_vec(
                "telltale_notification_requests_failed_total",
                "Failed delivery attempts by integration.",
                &["integration"],
            ),
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
            alerts_received: counter_vec(
                "telltale_alerts_received_total",
                "Alerts taken by the dispatcher (new or changed), by status.",
                &["status"],
            ),
            alerts_invalid: IntCounter::new(
                "telltale_alerts_invalid_total",
                "Alerts refused by the v2 API.",
            )
            .expect("valid metric"),
            aggregation_groups: IntGauge::new(
                "telltale_dispatcher_aggregation_groups",
                "Aggregation groups in the dispatcher.",
            )
            .expect("valid metric"),
            flush_seconds: histogram(
                "telltale_dispatcher_flush_duration_seconds",
                "Time to mute one aggregation group's alerts at a flush (inhibition, silences).",
                SECONDS.to_vec(),
            ),
            silences: int_gauge_vec("telltale_silences", "Silences by state.", &["state"]),
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
            config_rejected: counter_vec(
                "telltale_alertmanager_config_rejected_total",
                "Invalid AlertRules and alerting sections refused (the last good one stays), by kind.",
                &["kind"],
            ),
        };
        let collectors: Vec<Box<dyn prometheus::core::Collector>> = vec![
            Box::new(m.rule_evaluations.clone()),
            Box::new(m.rule_evaluation_failures.clone()),
            Box::new(m.rule_evaluation_seconds.clone()),
            Box::new(m.group_duration.clone()),
            Box::new(m.group_interval.clone()),
            Box::new(m.group_last_duration.clone()),
            Box::new(m.group_last_evaluation.clone()),
            Box::new(m.group_last_samples.clone()),
            Box::new(m.group_iterations.clone()),
            Box::new(m.group_iterations_missed.clone()),
            Box::new(m.group_rules.clone()),
            Box::new(m.alerts.clone()),
            Box::new(m.notifications.clone()),
            Box::new(m.notification_requests.clone()),
            Box::new(m.notification_requests_failed.clone()),
            Box::new(m.notification_latency.clone()),
            Box::new(m.alerts_received.clone()),
            Box::new(m.alerts_invalid.clone()),
            Box::new(m.aggregation_groups.clone()),
            Box::new(m.flush_seconds.clone()),
            Box::new(m.silences.clone()),
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
        for state in ["active", "pending", "expired"] {
            m.silences.with_label_values(&[state]).set(0);
        }
        for status in ["firing", "resolved"] {
            m.alerts_received.with_label_values(&[status]).reset();
        }
        for kind in ["AlertRule", "MetricCluster"] {
            m.config_rejected.with_label_values(&[kind]).reset();
        }
        m
    }
}
