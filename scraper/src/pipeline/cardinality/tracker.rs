//! [`SeriesTracker`]: the series written recently, and the decision which new series a
//! batch may create under the per-target and global limits on new series per interval.
//! Pure: the clock is passed in.
//!
//! A series is "new" when it was not seen within the tracker's TTL. A target is the
//! series' `job` and `instance` labels (scraped and pushed series alike). Series that
//! only carry staleness markers are never refused (they end series, they do not create
//! them) and remove the series from the tracker; the report series of a scrape (`up`,
//! `scrape_*`) are never refused either, so a limited target still reports `up`.
//!
//! A scraped series shares its label set from scrape to scrape, and the tracker notes on
//! it when it last recorded it ([`SeriesLabels::writer_note`]): a series noted less than a
//! refresh period ago is known, with no lookup in the tracker's map. The map's time of a
//! series therefore lags by up to that period, and a series is forgotten between the TTL
//! and the TTL plus the period after its last write. A note is only ever on the label set
//! the map holds for the series, and goes when the map forgets it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rustc_hash::FxHashMap;
use telltale_model::is_stale_nan;
use telltale_storage_api::shared::canonical_hash;
use telltale_storage_api::{METRIC_NAME, SeriesLabels, SharedSample, TimeSeries};

use crate::pull::scrape_batch::REPORT_SERIES;

/// Limits on series creation; 0 means unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardinalityLimits {
    /// New series one target (`job`, `instance`) may create per interval.
    pub per_target_new_series: u64,
    /// New series all targets together may create per interval.
    pub global_new_series: u64,
    /// The interval the limits count over (fixed windows aligned to the epoch).
    pub interval: Duration,
    /// A series not written for this long is forgotten (counted as removed).
    pub series_ttl: Duration,
}

impl Default for CardinalityLimits {
    fn default() -> Self {
        CardinalityLimits {
            per_target_new_series: 0,
            global_new_series: 0,
            interval: Duration::from_secs(60),
            series_ttl: Duration::from_secs(15 * 60),
        }
    }
}

/// A series the tracker knows.
#[derive(Clone, Debug, PartialEq)]
pub struct Tracked {
    /// Shared with the scrape's series cache for scraped series.
    pub labels: Arc<SeriesLabels>,
    pub last_seen_ms: i64,
}

/// A series of a batch as the tracker sees it: a message of the push path, or a sample
/// of a scrape whose label set is shared (and hashed once).
pub trait BatchSeries {
    /// The value of label `name`, if the series has it.
    fn label(&self, name: &str) -> Option<&str>;
    /// The label set as `{a="b", ...}`, for messages.
    fn describe(&self) -> String;
    /// The label set to keep for a new series (shared where the writer shares it).
    fn to_shared(&self) -> Arc<SeriesLabels>;
    /// The tracker's key: the canonical label hash ([`canonical_hash`]).
    fn key(&self) -> u64;
    fn samples(&self) -> usize;
    /// True when every sample is a staleness marker.
    fn only_stale(&self) -> bool;
    /// The label set, when the writer shares it from write to write.
    fn shared(&self) -> Option<&Arc<SeriesLabels>>;
}

impl BatchSeries for TimeSeries {
    fn label(&self, name: &str) -> Option<&str> {
        TimeSeries::label(self, name)
    }

    fn describe(&self) -> String {
        crate::pull::labels::format_storage_labels(&self.labels)
    }

    fn to_shared(&self) -> Arc<SeriesLabels> {
        Arc::new(SeriesLabels::new(self.labels.clone()))
    }

    fn key(&self) -> u64 {
        canonical_hash(&self.labels)
    }

    /// Float and native histogram samples.
    fn samples(&self) -> usize {
        self.samples.len() + self.histograms.len()
    }

    /// Only staleness markers: float ones, or histogram ones (a sum of the staleness NaN).
    fn only_stale(&self) -> bool {
        (!self.samples.is_empty() || !self.histograms.is_empty())
            && self.samples.iter().all(|s| is_stale_nan(s.value))
            && self.histograms.iter().all(|h| is_stale_nan(h.sum))
    }

    fn shared(&self) -> Option<&Arc<SeriesLabels>> {
        None
    }
}

impl BatchSeries for SharedSample {
    fn label(&self, name: &str) -> Option<&str> {
        self.series.get(name)
    }

    fn describe(&self) -> String {
        crate::pull::labels::format_shared_labels(&self.series)
    }

    fn to_shared(&self) -> Arc<SeriesLabels> {
        self.series.clone()
    }

    fn key(&self) -> u64 {
        self.series.hash()
    }

    fn samples(&self) -> usize {
        1
    }

    fn only_stale(&self) -> bool {
        is_stale_nan(self.value)
    }

    fn shared(&self) -> Option<&Arc<SeriesLabels>> {
        Some(&self.series)
    }
}

/// What [`SeriesTracker::admit`] decided for one batch.
#[derive(Debug, Default, PartialEq)]
pub struct Admission {
    /// The positions in the batch of the series refused, in order: empty (the usual
    /// case) when the whole batch is written as it is.
    pub refused: Vec<usize>,
    /// New series refused because of `per_target_new_series`.
    pub rejected_per_target: u64,
    /// New series refused because of `global_new_series`.
    pub rejected_global: u64,
    /// Samples of the refused series.
    pub rejected_samples: u64,
    /// Series seen for the first time (within the TTL).
    pub created: u64,
    /// Series ended by staleness markers.
    pub removed: u64,
    /// The first refused series and the limit it broke.
    pub first_rejection: Option<String>,
}

impl Admission {
    /// The series of `batch` (the batch this admission was made for) to write.
    pub fn admitted<T: Clone>(&self, batch: &[T]) -> Vec<T> {
        let mut refused = self.refused.iter().copied().peekable();
        batch
            .iter()
            .enumerate()
            .filter(|(i, _)| refused.next_if_eq(i).is_none())
            .map(|(_, t)| t.clone())
            .collect()
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct SeriesTracker {
    limits: CardinalityLimits,
    /// This tracker's identity on the label sets it notes (0: it notes none).
    identity: u64,
    /// Keyed by the label set's xxh3 hash (Fx-hashed: the key already is a hash).
    series: FxHashMap<u64, Tracked>,
    window_start_ms: i64,
    new_global: u64,
    new_per_target: FxHashMap<(String, String), u64>,
}

impl SeriesTracker {
    pub fn new(limits: CardinalityLimits) -> Self {
        static NEXT_IDENTITY: AtomicU64 = AtomicU64::new(1);
        let identity = NEXT_IDENTITY.fetch_add(1, Ordering::Relaxed);
        SeriesTracker {
            limits,
            // Notes hold 16 bits of identity: later trackers look every series up.
            identity: if identity < 1 << 16 { identity } else { 0 },
            series: FxHashMap::default(),
            window_start_ms: i64::MIN,
            new_global: 0,
            new_per_target: FxHashMap::default(),
        }
    }

    pub fn limits(&self) -> CardinalityLimits {
        self.limits
    }

    /// Series currently tracked.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Every tracked series.
    pub fn iter(&self) -> impl Iterator<Item = &Tracked> {
        self.series.values()
    }

    /// Decides which series of `batch` are written at `now_ms` and records them. Nothing
    /// of the batch is copied: a batch with nothing refused is written as it is.
    pub fn admit<T: BatchSeries>(&mut self, batch: &[T], now_ms: i64) -> Admission {
        self.roll_window(now_ms);
        let ttl = self.limits.series_ttl.as_millis() as i64;
        let refresh = self.refresh_ms();
        let me = self.identity;
        // A note of a time before the epoch is not kept: such a clock notes nothing.
        let note = u64::try_from(now_ms).ok().filter(|_| me != 0);
        let mut out = Admission::default();
        for (i, ts) in batch.iter().enumerate() {
            let shared = ts.shared();
            if !ts.only_stale()
                && let (Some(labels), Some(now)) = (shared, note)
                && labels
                    .writer_note(me)
                    .is_some_and(|noted| now.saturating_sub(noted) < refresh)
            {
                continue;
            }
            let key = ts.key();
            if ts.only_stale() {
                if let Some(t) = self.series.remove(&key) {
                    t.labels.clear_writer_note(me);
                    out.removed += 1;
                }
                continue;
            }
            if let Some(t) = self.series.get_mut(&key)
                && now_ms.saturating_sub(t.last_seen_ms) <= ttl
            {
                t.last_seen_ms = t.last_seen_ms.max(now_ms);
                if let (Some(labels), Some(now)) = (shared, note) {
                    if !Arc::ptr_eq(&t.labels, labels) {
                        // Another set of the same labels (a new scrape cache): the note
                        // moves to the set the map holds from now on.
                        t.labels.clear_writer_note(me);
                        t.labels = labels.clone();
                    }
                    labels.set_writer_note(me, now);
                }
                continue;
            }
            let label = |name: &str| ts.label(name);
            let exempt = label(METRIC_NAME).is_some_and(|n| REPORT_SERIES.contains(&n));
            let target = (
                label("job").unwrap_or("").to_string(),
                label("instance").unwrap_or("").to_string(),
            );
            if !exempt {
                let per_target = self.new_per_target.get(&target).copied().unwrap_or(0);
                let limit = if self.limits.global_new_series > 0
                    && self.new_global >= self.limits.global_new_series
                {
                    out.rejected_global += 1;
                    Some(("global", self.limits.global_new_series))
                } else if self.limits.per_target_new_series > 0
                    && per_target >= self.limits.per_target_new_series
                {
                    out.rejected_per_target += 1;
                    Some(("per-target", self.limits.per_target_new_series))
                } else {
                    None
                };
                if let Some((which, n)) = limit {
                    out.rejected_samples += ts.samples() as u64;
                    out.refused.push(i);
                    out.first_rejection.get_or_insert_with(|| {
                        format!(
                            "{which} limit of {n} new series per {}s reached (job {:?}, instance {:?}), first refused series {}",
                            self.limits.interval.as_secs(),
                            target.0,
                            target.1,
                            ts.describe()
                        )
                    });
                    continue;
                }
            }
            self.new_global += 1;
            *self.new_per_target.entry(target).or_default() += 1;
            out.created += 1;
            let labels = ts.to_shared();
            if let Some(now) = note.filter(|_| shared.is_some()) {
                labels.set_writer_note(me, now);
            }
            if let Some(old) = self.series.insert(
                key,
                Tracked {
                    labels,
                    last_seen_ms: now_ms,
                },
            ) {
                // An expired series written again: its old set loses its note.
                old.labels.clear_writer_note(me);
            }
        }
        out
    }

    /// How long a noted series goes without a lookup: a quarter of the TTL, at most a
    /// minute.
    fn refresh_ms(&self) -> u64 {
        (self.limits.series_ttl.as_millis() as u64 / 4).min(60_000)
    }

    /// Forgets series not written within the TTL; returns how many.
    pub fn expire(&mut self, now_ms: i64) -> u64 {
        let ttl = self.limits.series_ttl.as_millis() as i64;
        let me = self.identity;
        let before = self.series.len();
        self.series.retain(|_, t| {
            let keep = now_ms.saturating_sub(t.last_seen_ms) <= ttl;
            if !keep {
                t.labels.clear_writer_note(me);
            }
            keep
        });
        (before - self.series.len()) as u64
    }

    fn roll_window(&mut self, now_ms: i64) {
        let interval = (self.limits.interval.as_millis() as i64).max(1);
        let start = now_ms - now_ms.rem_euclid(interval);
        if start != self.window_start_ms {
            self.window_start_ms = start;
            self.new_global = 0;
            self.new_per_target.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use telltale_storage_api::Sample;

    use super::*;
    use telltale_model::STALE_NAN;
    use telltale_storage_api::Label;

    fn series(name: &str, instance: &str, id: &str, v: f64) -> TimeSeries {
        TimeSeries {
            labels: vec![
                Label::new("__name__", name),
                Label::new("id", id),
                Label::new("instance", instance),
                Label::new("job", "j"),
            ],
            samples: vec![Sample {
                timestamp_ms: 0,
                value: v,
            }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }

    fn limits(per_target: u64, global: u64) -> CardinalityLimits {
        CardinalityLimits {
            per_target_new_series: per_target,
            global_new_series: global,
            interval: Duration::from_secs(60),
            series_ttl: Duration::from_secs(300),
        }
    }

    #[test]
    fn per_target_limit_refuses_only_new_series_of_that_target() {
        let mut t = SeriesTracker::new(limits(2, 0));
        let batch = |inst: &str, ids: &[&str]| {
            ids.iter()
                .map(|id| series("m", inst, id, 1.0))
                .collect::<Vec<_>>()
        };
        let first = batch("a", &["1", "2", "3"]);
        let a = t.admit(&first, 1_000);
        assert_eq!(
            (a.admitted(&first), a.created, a.rejected_per_target),
            (first[..2].to_vec(), 2, 1)
        );
        assert_eq!(a.refused, vec![2]);
        assert!(a.first_rejection.unwrap().contains("per-target limit of 2"));
        // Known series keep flowing; another target has its own budget.
        let b = t.admit(&batch("a", &["1", "2"]), 2_000);
        assert!(b.refused.is_empty());
        let c = t.admit(&batch("b", &["1", "2"]), 3_000);
        assert!(c.refused.is_empty());
        // Report series are never refused.
        let up = t.admit(&[series("up", "a", "", 1.0)], 4_000);
        assert!(up.refused.is_empty());
        // The next interval has a fresh budget.
        let d = t.admit(&batch("a", &["3"]), 61_000);
        assert_eq!((d.refused.len(), d.created), (0, 1));
    }

    #[test]
    fn global_limit_counts_every_target() {
        let mut t = SeriesTracker::new(limits(0, 3));
        let batch: Vec<_> = (0..5)
            .map(|i| series("m", &format!("i{i}"), "x", 1.0))
            .collect();
        let a = t.admit(&batch, 0);
        assert_eq!(
            (
                a.admitted(&batch).len(),
                a.rejected_global,
                a.rejected_samples
            ),
            (3, 2, 2)
        );
        assert_eq!(a.refused, vec![3, 4]);
        assert!(a.first_rejection.unwrap().starts_with("global limit of 3"));
    }

    #[test]
    fn staleness_markers_remove_and_ttl_expires() {
        let mut t = SeriesTracker::new(limits(0, 0));
        t.admit(&[series("m", "a", "1", 1.0), series("m", "a", "2", 1.0)], 0);
        assert_eq!(t.len(), 2);
        let s = t.admit(&[series("m", "a", "1", STALE_NAN)], 1_000);
        assert_eq!((s.removed, s.refused.len()), (1, 0));
        assert_eq!(t.len(), 1);
        assert_eq!(t.expire(300_000), 0);
        assert_eq!(t.expire(300_001), 1);
        assert!(t.is_empty());
        // A series seen again after its TTL is new again.
        let again = t.admit(&[series("m", "a", "2", 1.0)], 400_000);
        assert_eq!(again.created, 1);
    }

    fn shared(labels: &Arc<SeriesLabels>, t: i64, v: f64) -> SharedSample {
        SharedSample {
            series: labels.clone(),
            timestamp_ms: t,
            value: v,
        }
    }

    fn last_seen(t: &SeriesTracker) -> Vec<i64> {
        t.iter().map(|s| s.last_seen_ms).collect()
    }

    /// A shared series is looked up once per refresh period (a quarter of the 300 s TTL,
    /// 60 s at most), yet expires by the TTL, ends with a staleness marker, and counts as
    /// new again after either; a second set of the same labels takes the note over.
    #[test]
    fn shared_series_are_noted_between_lookups() {
        let mut t = SeriesTracker::new(limits(0, 0));
        let a = Arc::new(SeriesLabels::new(series("m", "a", "1", 0.0).labels));
        assert_eq!(t.admit(&[shared(&a, 0, 1.0)], 0).created, 1);
        assert_eq!(t.admit(&[shared(&a, 0, 1.0)], 59_999).created, 0);
        assert_eq!(last_seen(&t), vec![0], "noted: not looked up");
        t.admit(&[shared(&a, 0, 1.0)], 60_000);
        assert_eq!(last_seen(&t), vec![60_000], "the refresh looks it up");
        // Written until 100 s, forgotten after 60 s + 300 s, not before.
        t.admit(&[shared(&a, 0, 1.0)], 100_000);
        assert_eq!(t.expire(360_000), 0);
        assert_eq!(t.expire(360_001), 1);
        assert_eq!(t.admit(&[shared(&a, 0, 1.0)], 360_002).created, 1);
        // A staleness marker ends it even while noted; the next write creates it.
        assert_eq!(t.admit(&[shared(&a, 0, STALE_NAN)], 360_003).removed, 1);
        assert!(t.is_empty());
        assert_eq!(t.admit(&[shared(&a, 0, 1.0)], 360_004).created, 1);
        // The same labels in another set: known, and that set is the noted one now.
        let b = Arc::new(SeriesLabels::new(series("m", "a", "1", 0.0).labels));
        assert_eq!(t.admit(&[shared(&b, 0, 1.0)], 360_005).created, 0);
        assert_eq!(a.writer_note(t.identity), None);
        assert_eq!(b.writer_note(t.identity), Some(360_005));
        assert!(Arc::ptr_eq(&t.iter().next().unwrap().labels, &b));
        // Another tracker's note does not make a series known to this one.
        let mut other = SeriesTracker::new(limits(0, 0));
        assert_eq!(other.admit(&[shared(&b, 0, 1.0)], 360_006).created, 1);
        assert_eq!(t.admit(&[shared(&b, 0, 1.0)], 360_007).created, 0);
        assert_eq!(last_seen(&t), vec![360_007]);
    }
}
