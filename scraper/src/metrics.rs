//! [`Metrics`]: the scraper's self-metrics, registered on the caller's registry.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use tracing::warn;

/// Counters and gauges about scraping and push ingestion. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// `telltale_scrapes_total{result}`: `success`, `scrape_error`, `limit_error` or
    /// `write_error`.
    pub scrapes_total: IntCounterVec,
    /// `telltale_scraped_samples_total`: samples parsed from successful scrapes.
    pub scraped_samples_total: IntCounter,
    /// `telltale_scrape_targets`: targets with a running scrape loop.
    pub scrape_targets: IntGauge,
    /// `telltale_scrape_targets_discovered`: targets wanted over all replicas (after
    /// relabeling, before assignment).
    pub scrape_targets_discovered: IntGauge,
    /// `telltale_scraper_members`: live scraper replicas in the membership.
    pub scraper_members: IntGauge,
    /// `telltale_remote_write_samples_total`: pushed samples acknowledged by storage.
    pub remote_write_samples_total: IntCounter,
    /// `telltale_remote_write_requests_total{code}`: push requests by HTTP status code.
    pub remote_write_requests_total: IntCounterVec,
    /// `telltale_push_requests_total{protocol,code}`: push requests of every protocol
    /// (`remote_write`, `influx`, `otlp`) by HTTP status code.
    pub push_requests_total: IntCounterVec,
    /// `telltale_push_samples_total{protocol}`: pushed samples written.
    pub push_samples_total: IntCounterVec,
    /// `telltale_push_rejected_samples_total{protocol,reason}`: pushed samples refused.
    pub push_rejected_samples_total: IntCounterVec,
    /// `telltale_push_skipped_values_total{protocol,reason}`: pushed values not stored on
    /// purpose (Influx string fields).
    pub push_skipped_values_total: IntCounterVec,
}

impl Metrics {
    /// Creates the metrics and registers them on `registry`. A metric that cannot be
    /// registered (say, a second scraper on the same registry) is logged and still counts.
    pub fn new(registry: &Registry) -> Self {
        let m = Metrics {
            scrapes_total: IntCounterVec::new(
                Opts::new("telltale_scrapes_total", "Scrapes performed, by result."),
                &["result"],
            )
            .expect("valid metric definition"),
            scraped_samples_total: IntCounter::new(
                "telltale_scraped_samples_total",
                "Samples parsed from successful scrapes.",
            )
            .expect("valid metric definition"),
            scrape_targets: IntGauge::new(
                "telltale_scrape_targets",
                "Targets with a running scrape loop.",
            )
            .expect("valid metric definition"),
            scrape_targets_discovered: IntGauge::new(
                "telltale_scrape_targets_discovered",
                "Targets wanted over all scraper replicas, after relabeling.",
            )
            .expect("valid metric definition"),
            scraper_members: IntGauge::new(
                "telltale_scraper_members",
                "Live scraper replicas sharing the targets.",
            )
            .expect("valid metric definition"),
            remote_write_samples_total: IntCounter::new(
                "telltale_remote_write_samples_total",
                "Samples received through remote_write and acknowledged by storage.",
            )
            .expect("valid metric definition"),
            remote_write_requests_total: IntCounterVec::new(
                Opts::new(
                    "telltale_remote_write_requests_total",
                    "remote_write requests, by HTTP status code of the answer.",
                ),
                &["code"],
            )
            .expect("valid metric definition"),
            push_requests_total: IntCounterVec::new(
                Opts::new(
                    "telltale_push_requests_total",
                    "Push requests, by protocol and HTTP status code of the answer.",
                ),
                &["protocol", "code"],
            )
            .expect("valid metric definition"),
            push_samples_total: IntCounterVec::new(
                Opts::new(
                    "telltale_push_samples_total",
                    "Pushed samples written, by protocol.",
                ),
                &["protocol"],
            )
            .expect("valid metric definition"),
            push_rejected_samples_total: IntCounterVec::new(
                Opts::new(
                    "telltale_push_rejected_samples_total",
                    "Pushed samples refused, by protocol and reason.",
                ),
                &["protocol", "reason"],
            )
            .expect("valid metric definition"),
            push_skipped_values_total: IntCounterVec::new(
                Opts::new(
                    "telltale_push_skipped_values_total",
                    "Pushed values not stored on purpose (say, Influx strings), by protocol and reason.",
                ),
                &["protocol", "reason"],
            )
            .expect("valid metric definition"),
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 11] = [
            Box::new(m.scrapes_total.clone()),
            Box::new(m.scraped_samples_total.clone()),
            Box::new(m.scrape_targets.clone()),
            Box::new(m.scrape_targets_discovered.clone()),
            Box::new(m.scraper_members.clone()),
            Box::new(m.remote_write_samples_total.clone()),
            Box::new(m.remote_write_requests_total.clone()),
            Box::new(m.push_requests_total.clone()),
            Box::new(m.push_samples_total.clone()),
            Box::new(m.push_rejected_samples_total.clone()),
            Box::new(m.push_skipped_values_total.clone()),
        ];
        for c in collectors {
            if let Err(e) = registry.register(c) {
                warn!(error = %e, "cannot register scraper metric");
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_under_telltale_prefix() {
        let registry = Registry::new();
        let m = Metrics::new(&registry);
        m.scrapes_total.with_label_values(&["success"]).inc();
        m.remote_write_requests_total
            .with_label_values(&["204"])
            .inc();
        let names: Vec<String> = registry
            .gather()
            .iter()
            .map(|f| f.name().to_string())
            .collect();
        assert!(names.contains(&"telltale_scrapes_total".to_string()));
        assert!(names.contains(&"telltale_remote_write_requests_total".to_string()));
        assert!(names.iter().all(|n| n.starts_with("telltale_")));
        // A second registration on the same registry does not panic.
        let _again = Metrics::new(&registry);
    }
}
