//! [`BatchBuilder`]: turns one scrape's outcome into the batch written to storage — target
//! labels, the report series (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`)
//! and staleness markers for series that disappeared. Pure: no I/O, no clock.

use std::collections::HashSet;
use std::time::Duration;

use telltale_storage_api::{METRIC_NAME, Sample, TimeSeries};
use tracing::debug;

use crate::labels::{
    LabelPairs, format_labels, merge_target_labels, to_storage_labels, with_metric_name,
};
use crate::text::ParsedSample;

/// The bit pattern of Prometheus's staleness marker, a NaN no arithmetic produces.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;
/// The staleness marker value: written for a series that stopped being exposed.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// True when `v` is the staleness marker (not any NaN: only this bit pattern).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// The names of the series every scrape reports about itself.
pub const REPORT_SERIES: [&str; 3] = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];

/// One batch for storage and what it contains.
#[derive(Debug, Default)]
pub struct Batch {
    pub series: Vec<TimeSeries>,
    /// Samples in the exposition (0 for a failed scrape).
    pub scraped: usize,
    /// Staleness markers in the batch.
    pub stale_markers: usize,
    /// Samples dropped because their label set already appeared in this scrape.
    pub duplicates: usize,
}

/// Remembers the series of a target's previous scrape to mark vanished ones stale.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    previous: HashSet<LabelPairs>,
    reported: bool,
}

impl BatchBuilder {
    /// The batch of one scrape started at `timestamp_ms`. `samples` is `None` for a failed
    /// scrape (unreachable target, bad status, unparsable body): then `up` is 0 and every
    /// series of the previous scrape gets a staleness marker.
    ///
    /// Every sample gets the scrape's timestamp; timestamps in the exposition are ignored
    /// (Prometheus's `honor_timestamps: false`).
    pub fn scrape(
        &mut self,
        target_labels: &[(String, String)],
        samples: Option<Vec<ParsedSample>>,
        timestamp_ms: i64,
        duration: Duration,
    ) -> Batch {
        let up = samples.is_some();
        let samples = samples.unwrap_or_default();
        let mut batch = Batch {
            scraped: samples.len(),
            series: Vec::with_capacity(samples.len() + REPORT_SERIES.len()),
            ..Batch::default()
        };
        let mut current: HashSet<LabelPairs> = HashSet::with_capacity(samples.len());
        for s in samples {
            let labels = merge_target_labels(with_metric_name(s.name, s.labels), target_labels);
            if current.contains(&labels) {
                debug!(series = %format_labels(&labels), "duplicate series in one scrape dropped");
                batch.duplicates += 1;
                continue;
            }
            batch.series.push(series(&labels, timestamp_ms, s.value));
            current.insert(labels);
        }
        for gone in self.previous.difference(&current) {
            batch.series.push(series(gone, timestamp_ms, STALE_NAN));
            batch.stale_markers += 1;
        }
        self.previous = current;
        let report = [
            if up { 1.0 } else { 0.0 },
            duration.as_secs_f64(),
            batch.scraped as f64,
        ];
        for (name, value) in REPORT_SERIES.iter().zip(report) {
            batch.series.push(series(
                &report_labels(name, target_labels),
                timestamp_ms,
                value,
            ));
        }
        self.reported = true;
        batch
    }

    /// Staleness markers for everything this target last wrote, its report series
    /// included: the batch written when the target goes away.
    pub fn end_of_run(&mut self, target_labels: &[(String, String)], timestamp_ms: i64) -> Batch {
        let mut batch = Batch::default();
        for gone in self.previous.drain() {
            batch.series.push(series(&gone, timestamp_ms, STALE_NAN));
        }
        if std::mem::take(&mut self.reported) {
            for name in REPORT_SERIES {
                batch.series.push(series(
                    &report_labels(name, target_labels),
                    timestamp_ms,
                    STALE_NAN,
                ));
            }
        }
        batch.stale_markers = batch.series.len();
        batch
    }
}

fn report_labels(name: &str, target_labels: &[(String, String)]) -> LabelPairs {
    merge_target_labels(
        vec![(METRIC_NAME.to_string(), name.to_string())],
        target_labels,
    )
}

fn series(labels: &[(String, String)], timestamp_ms: i64, value: f64) -> TimeSeries {
    TimeSeries {
        labels: to_storage_labels(labels),
        samples: vec![Sample {
            timestamp_ms,
            value,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> LabelPairs {
        vec![
            ("instance".into(), "h:1".into()),
            ("job".into(), "j".into()),
        ]
    }

    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> ParsedSample {
        ParsedSample {
            name: name.into(),
            labels: labels
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            value,
            timestamp_ms: Some(5),
        }
    }

    fn find<'a>(b: &'a Batch, name: &str) -> Vec<&'a TimeSeries> {
        b.series
            .iter()
            .filter(|s| s.label(METRIC_NAME) == Some(name))
            .collect()
    }

    #[test]
    fn successful_scrape_adds_target_labels_and_report() {
        let mut bb = BatchBuilder::default();
        let b = bb.scrape(
            &target(),
            Some(vec![sample("a", &[("x", "1")], 2.0), sample("b", &[], 3.0)]),
            1000,
            Duration::from_millis(250),
        );
        assert_eq!(b.series.len(), 5);
        assert_eq!(b.scraped, 2);
        let a = find(&b, "a")[0];
        assert_eq!(a.label("job"), Some("j"));
        assert_eq!(a.label("instance"), Some("h:1"));
        assert_eq!(a.label("x"), Some("1"));
        assert_eq!(
            a.samples,
            vec![Sample {
                timestamp_ms: 1000,
                value: 2.0
            }]
        );
        let names: Vec<_> = a.labels.iter().map(|l| l.name.as_str()).collect();
        assert!(
            names.windows(2).all(|w| w[0] < w[1]),
            "labels sorted: {names:?}"
        );
        assert_eq!(find(&b, "up")[0].samples[0].value, 1.0);
        assert_eq!(
            find(&b, "scrape_duration_seconds")[0].samples[0].value,
            0.25
        );
        assert_eq!(find(&b, "scrape_samples_scraped")[0].samples[0].value, 2.0);
        assert_eq!(find(&b, "up")[0].label("job"), Some("j"));
    }

    #[test]
    fn vanished_series_get_a_staleness_marker_once() {
        let mut bb = BatchBuilder::default();
        let t = target();
        bb.scrape(
            &t,
            Some(vec![sample("a", &[], 1.0), sample("b", &[], 1.0)]),
            1,
            Duration::ZERO,
        );
        let b = bb.scrape(&t, Some(vec![sample("a", &[], 1.0)]), 2, Duration::ZERO);
        assert_eq!(b.stale_markers, 1);
        let gone = find(&b, "b");
        assert!(is_stale_nan(gone[0].samples[0].value));
        assert_eq!(gone[0].samples[0].timestamp_ms, 2);
        let b = bb.scrape(&t, Some(vec![sample("a", &[], 1.0)]), 3, Duration::ZERO);
        assert_eq!(b.stale_markers, 0);
    }

    #[test]
    fn failed_scrape_is_down_and_stales_everything() {
        let mut bb = BatchBuilder::default();
        let t = target();
        bb.scrape(&t, Some(vec![sample("a", &[], 1.0)]), 1, Duration::ZERO);
        let b = bb.scrape(&t, None, 2, Duration::from_secs(1));
        assert_eq!(find(&b, "up")[0].samples[0].value, 0.0);
        assert_eq!(find(&b, "scrape_samples_scraped")[0].samples[0].value, 0.0);
        assert!(is_stale_nan(find(&b, "a")[0].samples[0].value));
        assert_eq!(b.series.len(), 4);
    }

    #[test]
    fn end_of_run_stales_series_and_report() {
        let mut bb = BatchBuilder::default();
        let t = target();
        assert!(
            bb.end_of_run(&t, 1).series.is_empty(),
            "nothing written yet"
        );
        bb.scrape(&t, Some(vec![sample("a", &[], 1.0)]), 1, Duration::ZERO);
        let b = bb.end_of_run(&t, 9);
        assert_eq!(b.series.len(), 4);
        assert!(b.series.iter().all(|s| is_stale_nan(s.samples[0].value)));
        assert!(bb.end_of_run(&t, 10).series.is_empty());
    }

    #[test]
    fn duplicates_are_dropped_and_conflicts_exported() {
        let mut bb = BatchBuilder::default();
        let b = bb.scrape(
            &target(),
            Some(vec![
                sample("a", &[("job", "inner")], 1.0),
                sample("a", &[("job", "inner")], 2.0),
            ]),
            1,
            Duration::ZERO,
        );
        assert_eq!(b.duplicates, 1);
        assert_eq!(b.scraped, 2);
        let a = find(&b, "a");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].label("exported_job"), Some("inner"));
        assert_eq!(a[0].label("job"), Some("j"));
    }

    #[test]
    fn stale_nan_is_not_any_nan() {
        assert!(STALE_NAN.is_nan());
        assert!(is_stale_nan(STALE_NAN));
        assert!(!is_stale_nan(f64::NAN));
    }
}
