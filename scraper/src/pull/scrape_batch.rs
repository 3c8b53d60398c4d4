//! [`BatchBuilder`]: turns one scrape's outcome into the batch written to storage — target
//! labels (`honor_labels`), exposition timestamps (`honor_timestamps`), metric relabeling,
//! limits, the report series (`up`, `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling`, `scrape_series_added`) and staleness markers
//! for series that disappeared, and the exemplars of the samples kept (under their final
//! series, an exemplar without a timestamp taking its sample's). Native histogram samples
//! (the protobuf format) go through the same rules and bookkeeping as float samples —
//! each counts as one sample for the limits, a vanished histogram series gets a float
//! staleness marker as in Prometheus — and are written as messages of their own
//! ([`Batch::histograms`]). Pure: no I/O, no clock.

use std::sync::Arc;
use std::time::Duration;

use rustc_hash::{FxHashMap, FxHashSet};
use telltale_model::STALE_NAN;
use telltale_storage_api::{Exemplar, Label, METRIC_NAME, SeriesLabels, SharedSample, TimeSeries};
use tracing::debug;

use crate::pull::labels::{
    LabelPairs, format_shared_labels, honor_scraped_labels, merge_target_labels, to_storage_labels,
    with_metric_name,
};
use crate::pull::limits::Limits;
use crate::pull::series_cache::{Series, SeriesCache, SeriesKey};
use crate::pull::text::{Exposition, ParsedExemplar, ParsedSample};
use crate::relabel::Relabeler;

/// The names of the series every scrape reports about itself.
pub const REPORT_SERIES: [&str; 5] = [
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
];

/// How the samples of one target become series: its settings, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct SampleRules<'a> {
    /// The target's labels (after target relabeling), sorted.
    pub target_labels: &'a [(String, String)],
    /// Scraped labels win over target labels instead of becoming `exported_*`.
    pub honor_labels: bool,
    /// Exposition timestamps are used instead of the scrape's time.
    pub honor_timestamps: bool,
    pub metric_relabelings: &'a Relabeler,
    pub limits: Limits,
}

impl<'a> SampleRules<'a> {
    /// Prometheus's defaults for a target with these labels: no honoring of labels,
    /// exposition timestamps honored, no relabeling, no limits.
    pub fn new(target_labels: &'a [(String, String)], metric_relabelings: &'a Relabeler) -> Self {
        SampleRules {
            target_labels,
            honor_labels: false,
            honor_timestamps: true,
            metric_relabelings,
            limits: Limits::default(),
        }
    }
}

/// One batch for storage and what it contains.
#[derive(Debug, Default)]
pub struct Batch {
    /// One sample per series, its label set shared with the series cache.
    pub series: Vec<SharedSample>,
    /// Samples in the exposition (0 for a failed scrape).
    pub scraped: usize,
    /// Samples left after metric relabeling.
    pub post_relabeling: usize,
    /// Series in this scrape that were not in the previous one.
    pub series_added: usize,
    /// Staleness markers in the batch.
    pub stale_markers: usize,
    /// Samples dropped because their label set already appeared in this scrape.
    pub duplicates: usize,
    /// Why the scrape failed although the body was fetched and parsed (a limit).
    pub error: Option<String>,
    /// The exemplars of the samples written, one series (no samples) per exemplar;
    /// empty for a scrape without any, which is most.
    pub exemplars: Vec<TimeSeries>,
    /// The native histogram samples written, one series per sample (empty unless the
    /// target serves the protobuf format with native histograms).
    pub histograms: Vec<TimeSeries>,
}

/// Remembers the series of a target's previous scrape to mark vanished ones stale, and
/// what each exposed series became ([`SeriesCache`]).
///
/// Which scrape last wrote a series is marked on the series itself
/// ([`Series::mark_written`]): the duplicate check, "added since the previous scrape" and
/// the staleness check cost no map lookup. The cache keeps one object per final series,
/// so the marks hold, except in the scrape after the cache was dropped (the target's
/// rules changed), which compares label sets instead.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    /// This builder's scrapes so far; the number of the one in progress.
    scrape: u64,
    /// The number of the previous scrape, unless it failed (then nothing was in it).
    previous_scrape: Option<u64>,
    /// The series the previous scrape wrote, and whether at the scrape's time (tracked).
    previous: Vec<(SeriesKey, bool)>,
    cache: SeriesCache,
    reported: bool,
    /// The report series under the target labels they were built for.
    report: Option<(LabelPairs, Vec<Arc<SeriesLabels>>)>,
}

impl BatchBuilder {
    /// The batch of one scrape started at `timestamp_ms`. `samples` is `None` for a failed
    /// scrape (unreachable target, bad status, unparsable body): then `up` is 0 and every
    /// series of the previous scrape gets a staleness marker. A scrape that breaks a limit
    /// is failed the same way, its samples discarded and the reason in [`Batch::error`].
    ///
    /// Series written with their own exposition timestamp (`honor_timestamps`) are not
    /// tracked for staleness, as in Prometheus.
    pub fn scrape(
        &mut self,
        rules: &SampleRules<'_>,
        samples: Option<Vec<ParsedSample<'_>>>,
        timestamp_ms: i64,
        duration: Duration,
    ) -> Batch {
        self.scrape_with_exemplars(rules, samples, Vec::new(), timestamp_ms, duration)
    }

    /// [`BatchBuilder::scrape`] with the exposition's exemplars (in sample order): each
    /// goes with its sample, under the sample's final series and, when it has no
    /// timestamp, at the sample's time; the exemplar of a sample that is dropped
    /// (relabeling, a duplicate, a broken limit) is dropped with it.
    pub fn scrape_with_exemplars(
        &mut self,
        rules: &SampleRules<'_>,
        samples: Option<Vec<ParsedSample<'_>>>,
        exemplars: Vec<ParsedExemplar>,
        timestamp_ms: i64,
        duration: Duration,
    ) -> Batch {
        let exposition = samples.map(|samples| Exposition {
            samples,
            exemplars,
            ..Exposition::default()
        });
        self.scrape_exposition(rules, exposition, timestamp_ms, duration)
    }

    /// The batch of one scrape of `exposition` (`None`: the scrape failed): its samples
    /// and exemplars as [`BatchBuilder::scrape_with_exemplars`] takes them, and its
    /// native histograms (after the samples, each one sample for the limits).
    pub fn scrape_exposition(
        &mut self,
        rules: &SampleRules<'_>,
        exposition: Option<Exposition<'_>>,
        timestamp_ms: i64,
        duration: Duration,
    ) -> Batch {
        let mut up = exposition.is_some();
        let Exposition {
            samples,
            exemplars,
            histograms,
            ..
        } = exposition.unwrap_or_default();
        let mut exemplars = exemplars.into_iter().peekable();
        let mut batch = Batch {
            scraped: samples.len() + histograms.len(),
            series: Vec::with_capacity(samples.len() + REPORT_SERIES.len()),
            ..Batch::default()
        };
        self.scrape += 1;
        let recomputed = self
            .cache
            .begin(rules.target_labels, rules.honor_labels, rules.limits);
        let mut current: Vec<(SeriesKey, bool)> =
            Vec::with_capacity(samples.len() + histograms.len());
        for (i, s) in samples.into_iter().enumerate() {
            // Off the per-sample path unless the exposition had exemplars.
            let exemplar = match exemplars.peek() {
                Some(e) if e.sample == i => exemplars.next(),
                _ => None,
            };
            let exposed = Exposed {
                series: s.series,
                labels: || s.name_and_labels().ok(),
                timestamp_ms: s.timestamp_ms,
            };
            let Some((key, ts)) =
                self.admit(rules, exposed, timestamp_ms, &mut batch, &mut current)
            else {
                continue;
            };
            batch.series.push(sample(&key.0.labels, ts, s.value));
            if let Some(e) = exemplar {
                batch.exemplars.push(exemplar_series(&key.0.labels, e, ts));
            }
        }
        for h in histograms {
            let exposed = Exposed {
                series: h.series,
                labels: || h.name_and_labels().ok(),
                timestamp_ms: h.timestamp_ms,
            };
            let Some((key, ts)) =
                self.admit(rules, exposed, timestamp_ms, &mut batch, &mut current)
            else {
                continue;
            };
            batch.histograms.push(TimeSeries {
                labels: key.0.labels.to_labels(),
                samples: Vec::new(),
                exemplars: Vec::new(),
                histograms: vec![h.histogram.to_proto(ts)],
            });
        }
        if up {
            self.cache.end();
        }
        if batch.error.is_none()
            && let Err(e) = rules.limits.check_samples(batch.post_relabeling)
        {
            batch.error = Some(e);
        }
        if batch.error.is_some() {
            up = false;
            batch.series.clear();
            batch.exemplars.clear();
            batch.histograms.clear();
            batch.series_added = 0;
            current.clear();
        }
        let scrape = self.scrape;
        let previous = std::mem::take(&mut self.previous);
        let gone: Vec<&SeriesKey> = if recomputed && self.previous_scrape.is_some() {
            // New objects for the same series: compare label sets.
            let now: FxHashMap<&SeriesKey, bool> = current.iter().map(|(k, t)| (k, *t)).collect();
            if batch.error.is_none() {
                let before: FxHashSet<&SeriesKey> = previous.iter().map(|(k, _)| k).collect();
                batch.series_added = current.iter().filter(|(k, _)| !before.contains(k)).count();
            }
            previous
                .iter()
                .filter(|(key, tracked)| *tracked && !now.get(key).copied().unwrap_or(false))
                .map(|(key, _)| key)
                .collect()
        } else {
            previous
                .iter()
                .filter(|(key, tracked)| {
                    *tracked && !(batch.error.is_none() && key.0.tracked_in(scrape))
                })
                .map(|(key, _)| key)
                .collect()
        };
        for key in gone {
            batch
                .series
                .push(sample(&key.0.labels, timestamp_ms, STALE_NAN));
            batch.stale_markers += 1;
        }
        self.previous_scrape = batch.error.is_none().then_some(scrape);
        self.previous = current;
        let report = [
            if up { 1.0 } else { 0.0 },
            duration.as_secs_f64(),
            batch.scraped as f64,
            batch.post_relabeling as f64,
            batch.series_added as f64,
        ];
        for (labels, value) in self.report_series(rules.target_labels).iter().zip(report) {
            batch.series.push(sample(labels, timestamp_ms, value));
        }
        self.reported = true;
        batch
    }

    /// One exposed sample or histogram of the series `series` (its labels read by
    /// `labels` when not cached) through the rules: its final series and timestamp when
    /// it is written, counted in `batch` and noted in `current`; `None` when relabeling
    /// drops it, it repeats a series of this scrape, or a limit is broken.
    fn admit(
        &mut self,
        rules: &SampleRules<'_>,
        exposed: Exposed<'_, impl FnOnce() -> Option<(String, LabelPairs)>>,
        timestamp_ms: i64,
        batch: &mut Batch,
        current: &mut Vec<(SeriesKey, bool)>,
    ) -> Option<(SeriesKey, i64)> {
        let Exposed {
            series,
            labels,
            timestamp_ms: own_timestamp_ms,
        } = exposed;
        let key = self.cache.resolve(series, || {
            // The parser checked the text: its labels read back.
            let (name, labels) = labels()?;
            final_series(rules, name, labels)
        })?;
        batch.post_relabeling += 1;
        if let Some(e) = &key.0.label_error {
            batch.error.get_or_insert_with(|| e.clone());
        }
        if batch.error.is_some() {
            return None;
        }
        let (ts, tracked) = match own_timestamp_ms {
            Some(ts) if rules.honor_timestamps => (ts, false),
            _ => (timestamp_ms, true),
        };
        let before = key.0.mark_written(self.scrape, tracked);
        if before == self.scrape {
            debug!(series = %format_shared_labels(&key.0.labels), "duplicate series in one scrape dropped");
            batch.duplicates += 1;
            return None;
        }
        if Some(before) != self.previous_scrape {
            batch.series_added += 1;
        }
        current.push((key.clone(), tracked));
        Some((key, ts))
    }

    /// The report series ([`REPORT_SERIES`]) under `target_labels`, built once per
    /// set of target labels.
    fn report_series(&mut self, target_labels: &[(String, String)]) -> &[Arc<SeriesLabels>] {
        if self
            .report
            .as_ref()
            .is_none_or(|(labels, _)| labels != target_labels)
        {
            let series = REPORT_SERIES
                .iter()
                .map(|name| {
                    Arc::new(SeriesLabels::new(to_storage_labels(&report_labels(
                        name,
                        target_labels,
                    ))))
                })
                .collect();
            self.report = Some((target_labels.to_vec(), series));
        }
        self.report.as_ref().map_or(&[], |(_, s)| s.as_slice())
    }

    /// Forgets what the exposed series became: the target's settings changed, its metric
    /// relabeling perhaps (the other rules are compared at every scrape).
    pub fn settings_changed(&mut self) {
        self.cache.clear();
    }

    /// Staleness markers for everything this target last wrote, its report series
    /// included: the batch written when the target goes away.
    pub fn end_of_run(&mut self, target_labels: &[(String, String)], timestamp_ms: i64) -> Batch {
        let mut batch = Batch::default();
        self.cache.clear();
        self.previous_scrape = None;
        for (gone, tracked) in self.previous.drain(..) {
            if tracked {
                batch
                    .series
                    .push(sample(&gone.0.labels, timestamp_ms, STALE_NAN));
            }
        }
        if std::mem::take(&mut self.reported) {
            for labels in self.report_series(target_labels) {
                batch.series.push(sample(labels, timestamp_ms, STALE_NAN));
            }
        }
        batch.stale_markers = batch.series.len();
        batch
    }
}

/// One exposed sample or histogram, as [`BatchBuilder::admit`] takes it: its series as
/// written, how to read its labels, its own timestamp.
struct Exposed<'s, F> {
    series: &'s str,
    labels: F,
    timestamp_ms: Option<i64>,
}

/// The series an exposed sample becomes under `rules`: `__name__` and target labels
/// added, metric relabeling applied; `None` when relabeling drops it or its name.
fn final_series(
    rules: &SampleRules<'_>,
    name: String,
    labels: Vec<(String, String)>,
) -> Option<SeriesKey> {
    let scraped = with_metric_name(name, labels);
    let labels = if rules.honor_labels {
        honor_scraped_labels(scraped, rules.target_labels)
    } else {
        merge_target_labels(scraped, rules.target_labels)
    };
    let labels = rules.metric_relabelings.process_pairs(labels)?;
    if !labels.iter().any(|(n, _)| n == METRIC_NAME) {
        return None;
    }
    Some(SeriesKey(Arc::new(Series::new(labels, &rules.limits))))
}

fn report_labels(name: &str, target_labels: &[(String, String)]) -> LabelPairs {
    merge_target_labels(
        vec![(METRIC_NAME.to_string(), name.to_string())],
        target_labels,
    )
}

/// An exemplar as a series of its own (no samples) for storage's exemplar ring.
fn exemplar_series(labels: &SeriesLabels, e: ParsedExemplar, sample_ms: i64) -> TimeSeries {
    TimeSeries {
        labels: labels.to_labels(),
        samples: Vec::new(),
        exemplars: vec![Exemplar {
            labels: e
                .labels
                .into_iter()
                .map(|(n, v)| Label::new(n, v))
                .collect(),
            value: e.value,
            timestamp_ms: e.timestamp_ms.unwrap_or(sample_ms),
        }],
        histograms: Vec::new(),
    }
}

fn sample(labels: &Arc<SeriesLabels>, timestamp_ms: i64, value: f64) -> SharedSample {
    SharedSample {
        series: labels.clone(),
        timestamp_ms,
        value,
    }
}

#[cfg(test)]
mod tests {
    use telltale_storage_api::{Sample, TimeSeries};

    use telltale_model::is_stale_nan;

    use super::*;

    fn target() -> LabelPairs {
        vec![
            ("instance".into(), "h:1".into()),
            ("job".into(), "j".into()),
        ]
    }

    /// Rules that ignore exposition timestamps, as the older tests expect.
    fn plain<'a>(t: &'a [(String, String)], r: &'a Relabeler) -> SampleRules<'a> {
        SampleRules {
            honor_timestamps: false,
            ..SampleRules::new(t, r)
        }
    }

    /// A parsed sample of the series `name{labels}` at ts 5: its text leaked, for tests.
    fn sample(name: &str, labels: &[(&str, &str)], value: f64) -> ParsedSample<'static> {
        let labels: Vec<String> = labels.iter().map(|(a, b)| format!("{a}={b:?}")).collect();
        let series = format!("{name}{{{}}}", labels.join(","));
        ParsedSample {
            series: Box::leak(series.into_boxed_str()),
            value,
            timestamp_ms: Some(5),
        }
    }

    /// The batch's samples of metric `name`, as messages.
    fn find(b: &Batch, name: &str) -> Vec<TimeSeries> {
        telltale_storage_api::shared::to_time_series(&b.series)
            .into_iter()
            .filter(|s| s.label(METRIC_NAME) == Some(name))
            .collect()
    }

    #[test]
    fn exemplars_follow_their_samples() {
        let t = target();
        let r = Relabeler::default();
        let rules = plain(&t, &r);
        let mut bb = BatchBuilder::default();
        let ex = |sample, ts| ParsedExemplar {
            sample,
            labels: vec![("trace_id".into(), "abc".into())],
            value: 0.5,
            timestamp_ms: ts,
        };
        let samples = vec![
            sample("a_total", &[], 1.0),
            sample("b_total", &[], 2.0),
            // A duplicate of a_total: dropped, with its exemplar.
            sample("a_total", &[], 3.0),
        ];
        let b = bb.scrape_with_exemplars(
            &rules,
            Some(samples),
            vec![ex(0, None), ex(1, Some(7)), ex(2, Some(9))],
            1000,
            Duration::ZERO,
        );
        assert_eq!(b.exemplars.len(), 2);
        let a = &b.exemplars[0];
        assert!(a.samples.is_empty());
        assert!(a.labels.contains(&Label::new("__name__", "a_total")));
        assert!(a.labels.contains(&Label::new("job", "j")), "{:?}", a.labels);
        assert_eq!(a.exemplars[0].timestamp_ms, 1000, "the sample's time");
        assert_eq!(a.exemplars[0].labels, vec![Label::new("trace_id", "abc")]);
        assert_eq!(b.exemplars[1].exemplars[0].timestamp_ms, 7);
        // No exemplars: none in the batch.
        let b = bb.scrape(
            &rules,
            Some(vec![sample("a_total", &[], 1.0)]),
            2000,
            Duration::ZERO,
        );
        assert!(b.exemplars.is_empty());
    }

    #[test]
    fn successful_scrape_adds_target_labels_and_report() {
        let none = Relabeler::default();
        let mut bb = BatchBuilder::default();
        let b = bb.scrape(
            &plain(&target(), &none),
            Some(vec![sample("a", &[("x", "1")], 2.0), sample("b", &[], 3.0)]),
            1000,
            Duration::from_millis(250),
        );
        assert_eq!(b.series.len(), 7);
        assert_eq!(b.scraped, 2);
        let a = &find(&b, "a")[0];
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
        let none = Relabeler::default();
        let mut bb = BatchBuilder::default();
        let t = target();
        bb.scrape(
            &plain(&t, &none),
            Some(vec![sample("a", &[], 1.0), sample("b", &[], 1.0)]),
            1,
            Duration::ZERO,
        );
        let b = bb.scrape(
            &plain(&t, &none),
            Some(vec![sample("a", &[], 1.0)]),
            2,
            Duration::ZERO,
        );
        assert_eq!(b.stale_markers, 1);
        let gone = &find(&b, "b");
        assert!(is_stale_nan(gone[0].samples[0].value));
        assert_eq!(gone[0].samples[0].timestamp_ms, 2);
        let b = bb.scrape(
            &plain(&t, &none),
            Some(vec![sample("a", &[], 1.0)]),
            3,
            Duration::ZERO,
        );
        assert_eq!(b.stale_markers, 0);
    }

    #[test]
    fn failed_scrape_is_down_and_stales_everything() {
        let none = Relabeler::default();
        let mut bb = BatchBuilder::default();
        let t = target();
        bb.scrape(
            &plain(&t, &none),
            Some(vec![sample("a", &[], 1.0)]),
            1,
            Duration::ZERO,
        );
        let b = bb.scrape(&plain(&t, &none), None, 2, Duration::from_secs(1));
        assert_eq!(find(&b, "up")[0].samples[0].value, 0.0);
        assert_eq!(find(&b, "scrape_samples_scraped")[0].samples[0].value, 0.0);
        assert!(is_stale_nan(find(&b, "a")[0].samples[0].value));
        assert_eq!(b.series.len(), 6);
    }

    #[test]
    fn end_of_run_stales_series_and_report() {
        let none = Relabeler::default();
        let mut bb = BatchBuilder::default();
        let t = target();
        assert!(
            bb.end_of_run(&t, 1).series.is_empty(),
            "nothing written yet"
        );
        bb.scrape(
            &plain(&t, &none),
            Some(vec![sample("a", &[], 1.0)]),
            1,
            Duration::ZERO,
        );
        let b = bb.end_of_run(&t, 9);
        assert_eq!(b.series.len(), 6);
        assert!(b.series.iter().all(|s| is_stale_nan(s.value)));
        assert!(bb.end_of_run(&t, 10).series.is_empty());
    }

    #[test]
    fn duplicates_are_dropped_and_conflicts_exported() {
        let none = Relabeler::default();
        let mut bb = BatchBuilder::default();
        let b = bb.scrape(
            &plain(&target(), &none),
            Some(vec![
                sample("a", &[("job", "inner")], 1.0),
                sample("a", &[("job", "inner")], 2.0),
            ]),
            1,
            Duration::ZERO,
        );
        assert_eq!(b.duplicates, 1);
        assert_eq!(b.scraped, 2);
        let a = &find(&b, "a");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].label("exported_job"), Some("inner"));
        assert_eq!(a[0].label("job"), Some("j"));
    }

    /// Two exposed texts of one label set (labels in another order) are one series: the
    /// second is a duplicate, in this scrape and the next, and neither is stale.
    #[test]
    fn one_label_set_exposed_twice_is_one_series() {
        let none = Relabeler::default();
        let mut bb = BatchBuilder::default();
        let t = target();
        let page = || {
            Some(vec![
                sample("a", &[("x", "1"), ("y", "2")], 1.0),
                sample("a", &[("y", "2"), ("x", "1")], 2.0),
                sample("b", &[], 3.0),
            ])
        };
        for round in 1..=3 {
            let b = bb.scrape(&plain(&t, &none), page(), round, Duration::ZERO);
            assert_eq!(b.duplicates, 1, "round {round}");
            assert_eq!(b.stale_markers, 0, "round {round}");
            assert_eq!(
                b.series_added,
                if round == 1 { 2 } else { 0 },
                "round {round}"
            );
            let a = find(&b, "a");
            assert_eq!(a.len(), 1, "round {round}");
            assert_eq!(a[0].samples[0].value, 1.0, "the first one wins");
        }
        // The first text goes: the series goes on under the second.
        let b = bb.scrape(
            &plain(&t, &none),
            Some(vec![sample("a", &[("y", "2"), ("x", "1")], 2.0)]),
            4,
            Duration::ZERO,
        );
        assert_eq!((b.duplicates, b.series_added, b.stale_markers), (0, 0, 1));
        assert!(
            find(&b, "b")
                .iter()
                .all(|s| is_stale_nan(s.samples[0].value))
        );
        assert_eq!(find(&b, "a")[0].samples[0].value, 2.0);
    }

    /// New settings recompute every series: those that stay the same are not stale and
    /// not added; a failed scrape in between makes every one added again.
    #[test]
    fn changed_settings_keep_unchanged_series() {
        let none = Relabeler::default();
        let mut bb = BatchBuilder::default();
        let t = target();
        let page = || Some(vec![sample("a", &[], 1.0), sample("b", &[], 1.0)]);
        bb.scrape(&plain(&t, &none), page(), 1, Duration::ZERO);
        bb.settings_changed();
        let b = bb.scrape(&plain(&t, &none), page(), 2, Duration::ZERO);
        assert_eq!((b.series_added, b.stale_markers), (0, 0));
        let b = bb.scrape(&plain(&t, &none), page(), 3, Duration::ZERO);
        assert_eq!((b.series_added, b.stale_markers), (0, 0));
        let b = bb.scrape(&plain(&t, &none), None, 4, Duration::ZERO);
        assert_eq!(b.stale_markers, 2);
        bb.settings_changed();
        let b = bb.scrape(&plain(&t, &none), page(), 5, Duration::ZERO);
        assert_eq!((b.series_added, b.stale_markers), (2, 0));
        let b = bb.scrape(&plain(&t, &none), page(), 6, Duration::ZERO);
        assert_eq!((b.series_added, b.stale_markers), (0, 0));
    }

    #[test]
    fn honor_timestamps_and_labels() {
        let none = Relabeler::default();
        let t = target();
        let mut bb = BatchBuilder::default();
        let honored = SampleRules {
            honor_labels: true,
            ..SampleRules::new(&t, &none)
        };
        let b = bb.scrape(
            &honored,
            Some(vec![
                sample("a", &[("job", "inner")], 1.0),
                ParsedSample {
                    timestamp_ms: None,
                    ..sample("b", &[], 2.0)
                },
            ]),
            1000,
            Duration::ZERO,
        );
        let a = &find(&b, "a")[0];
        assert_eq!(a.label("job"), Some("inner"));
        assert_eq!(a.label("exported_job"), None);
        assert_eq!(a.label("instance"), Some("h:1"));
        assert_eq!(a.samples[0].timestamp_ms, 5, "exposition timestamp kept");
        assert_eq!(find(&b, "b")[0].samples[0].timestamp_ms, 1000);
        // Series with their own timestamps get no staleness marker when they vanish.
        let b = bb.scrape(&honored, Some(vec![]), 2000, Duration::ZERO);
        assert_eq!(b.stale_markers, 1);
        assert!(find(&b, "a").is_empty());
        assert!(is_stale_nan(find(&b, "b")[0].samples[0].value));
    }

    #[test]
    fn series_with_own_timestamps_count_as_added_once() {
        let none = Relabeler::default();
        let t = target();
        let rules = SampleRules::new(&t, &none);
        let mut bb = BatchBuilder::default();
        let own = || vec![sample("a", &[], 1.0)];
        assert_eq!(
            bb.scrape(&rules, Some(own()), 1, Duration::ZERO)
                .series_added,
            1
        );
        let again = bb.scrape(&rules, Some(own()), 2, Duration::ZERO);
        assert_eq!((again.series_added, again.stale_markers), (0, 0));
        // A series that was tracked and now brings its own timestamp is ended once.
        let mut bb = BatchBuilder::default();
        let tracked = ParsedSample {
            timestamp_ms: None,
            ..sample("a", &[], 1.0)
        };
        bb.scrape(&rules, Some(vec![tracked]), 1, Duration::ZERO);
        let b = bb.scrape(&rules, Some(own()), 2, Duration::ZERO);
        assert_eq!((b.series_added, b.stale_markers), (0, 1));
        assert!(
            bb.end_of_run(&t, 3)
                .series
                .iter()
                .all(|s| s.series.get(METRIC_NAME) != Some("a"))
        );
    }

    #[test]
    fn metric_relabeling_and_report_counts() {
        let t = target();
        let configs: Vec<telltale_crds::scrape_target::RelabelConfig> = serde_yaml::from_str(
            "[{action: drop, sourceLabels: [__name__], regex: 'go_.*'}, {sourceLabels: [x], targetLabel: y}]",
        )
        .unwrap();
        let r = Relabeler::new(&configs, "m").unwrap();
        let rules = plain(&t, &r);
        let mut bb = BatchBuilder::default();
        let scrape = |bb: &mut BatchBuilder, names: &[&str]| {
            let samples = names
                .iter()
                .map(|n| sample(n, &[("x", "1")], 1.0))
                .collect();
            bb.scrape(&rules, Some(samples), 1, Duration::ZERO)
        };
        let b = scrape(&mut bb, &["go_gc", "a", "b"]);
        assert_eq!((b.scraped, b.post_relabeling, b.series_added), (3, 2, 2));
        assert_eq!(find(&b, "a")[0].label("y"), Some("1"));
        assert!(find(&b, "go_gc").is_empty());
        let value = |b: &Batch, n: &str| find(b, n)[0].samples[0].value;
        assert_eq!(value(&b, "scrape_samples_post_metric_relabeling"), 2.0);
        assert_eq!(value(&b, "scrape_series_added"), 2.0);
        let b = scrape(&mut bb, &["a", "c"]);
        assert_eq!(value(&b, "scrape_series_added"), 1.0);
        assert_eq!(b.stale_markers, 1);
    }

    #[test]
    fn changed_rules_apply_to_cached_series() {
        let none = Relabeler::default();
        let configs: Vec<telltale_crds::scrape_target::RelabelConfig> =
            serde_yaml::from_str("[{action: drop, sourceLabels: [__name__], regex: 'a'}]").unwrap();
        let drop_a = Relabeler::new(&configs, "m").unwrap();
        let t = target();
        let mut bb = BatchBuilder::default();
        let scrape = |bb: &mut BatchBuilder, rules: &SampleRules<'_>| {
            bb.scrape(rules, Some(vec![sample("a", &[], 1.0)]), 1, Duration::ZERO)
        };
        assert_eq!(find(&scrape(&mut bb, &plain(&t, &none)), "a").len(), 1);
        bb.settings_changed();
        let dropped = scrape(&mut bb, &plain(&t, &drop_a));
        assert!(
            find(&dropped, "a")
                .iter()
                .all(|s| is_stale_nan(s.samples[0].value))
        );
        assert_eq!(dropped.post_relabeling, 0);
        bb.settings_changed();
        assert_eq!(find(&scrape(&mut bb, &plain(&t, &none)), "a").len(), 1);
        // New target labels are seen without being told.
        let moved = vec![
            ("instance".to_string(), "h:2".to_string()),
            ("job".to_string(), "j".to_string()),
        ];
        let b = scrape(&mut bb, &plain(&moved, &none));
        assert_eq!(find(&b, "a")[0].label("instance"), Some("h:2"));
        assert_eq!(b.stale_markers, 1, "the series under the old instance ends");
        assert_eq!(b.series_added, 1);
    }

    #[test]
    fn a_broken_limit_fails_the_scrape() {
        let none = Relabeler::default();
        let t = target();
        let limited = SampleRules {
            limits: Limits {
                sample_limit: 2,
                ..Limits::default()
            },
            ..plain(&t, &none)
        };
        let mut bb = BatchBuilder::default();
        let ok = bb.scrape(
            &limited,
            Some(vec![sample("a", &[], 1.0)]),
            1,
            Duration::ZERO,
        );
        assert!(ok.error.is_none());
        let three = vec![
            sample("a", &[], 1.0),
            sample("b", &[], 1.0),
            sample("c", &[], 1.0),
        ];
        let b = bb.scrape(&limited, Some(three), 2, Duration::ZERO);
        assert_eq!(
            b.error.as_deref(),
            Some("sample limit exceeded (number of samples: 3, limit: 2)")
        );
        assert_eq!(find(&b, "up")[0].samples[0].value, 0.0);
        assert_eq!(find(&b, "scrape_samples_scraped")[0].samples[0].value, 3.0);
        assert!(
            find(&b, "b").is_empty(),
            "no sample of a failed scrape is written"
        );
        assert!(is_stale_nan(find(&b, "a")[0].samples[0].value));

        let labels = SampleRules {
            limits: Limits {
                label_limit: 3,
                ..Limits::default()
            },
            ..SampleRules::new(&t, &none)
        };
        let b = bb.scrape(
            &labels,
            Some(vec![sample("a", &[("x", "1")], 1.0)]),
            3,
            Duration::ZERO,
        );
        assert!(
            b.error
                .unwrap()
                .starts_with("label_limit exceeded (metric: a, number of labels: 4")
        );
    }
}
