//! Delta-temporality OTLP histograms made cumulative, as Prometheus series must be: the
//! receiver keeps a running total per series (its final label set) and adds each delta
//! point to it, writing the total.
//!
//! The rule: a point continues its series' total when its `start_time_unix_nano` is the
//! previous point's `time_unix_nano` (delta windows abut) or is unset (0). Otherwise —
//! the first point of a series, a series evicted from the totals, a start time that does
//! not continue (the sender restarted, or points were lost) — it starts a new total from
//! zero, and for native histograms the sample carries the reset hint `CounterReset`. An
//! explicit-bucket histogram whose bounds change starts a new total too. A point flagged
//! "no recorded value" becomes a staleness marker and ends its total. The totals are
//! bounded: at most [`MAX_SERIES`] series, the least recently updated evicted first.
//! They live in memory: a restarted receiver starts every series again.

use std::num::NonZeroUsize;
use std::sync::Mutex;

use lru::LruCache;
use telltale_storage_api::histogram::ResetHint;
use telltale_storage_api::{FloatHistogram, Label};

/// The most series whose running totals are kept.
pub const MAX_SERIES: usize = 100_000;

/// An explicit-bucket histogram point: per-bucket (not cumulative) counts, one more
/// than `bounds`.
#[derive(Clone, Debug, PartialEq)]
pub struct Classic {
    pub bounds: Vec<f64>,
    pub bucket_counts: Vec<u64>,
    pub count: u64,
    pub sum: Option<f64>,
}

#[derive(Debug)]
enum Value {
    Native(FloatHistogram),
    Classic(Classic),
}

#[derive(Debug)]
struct Total {
    /// `time_unix_nano` of the last point added.
    last_time: u64,
    value: Value,
}

/// The running totals of delta series (see the module documentation).
#[derive(Debug)]
pub struct DeltaTotals {
    totals: Mutex<LruCache<Vec<Label>, Total>>,
}

impl Default for DeltaTotals {
    fn default() -> Self {
        DeltaTotals::new(MAX_SERIES)
    }
}

impl DeltaTotals {
    /// Totals for at most `max_series` series.
    pub fn new(max_series: usize) -> Self {
        let cap = NonZeroUsize::new(max_series.max(1)).expect("at least 1");
        DeltaTotals {
            totals: Mutex::new(LruCache::new(cap)),
        }
    }

    /// Series whose totals are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<Vec<Label>, Total>> {
        self.totals.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cumulative native histogram of `series` after the delta `delta`, covering
    /// `(start, time]`. A staleness marker is returned as is and ends the total.
    pub fn add_native(
        &self,
        series: &[Label],
        start: u64,
        time: u64,
        delta: &FloatHistogram,
    ) -> FloatHistogram {
        let mut totals = self.lock();
        if delta.is_stale() {
            totals.pop(series);
            return delta.clone();
        }
        if let Some(total) = totals.get_mut(series)
            && continues(total, start, time)
            && let Value::Native(sum) = &mut total.value
            && sum.add(delta).is_ok()
        {
            total.last_time = time;
            sum.reset_hint = ResetHint::Unknown;
            return sum.clone();
        }
        let mut first = delta.clone();
        first.reset_hint = ResetHint::CounterReset;
        totals.put(
            series.to_vec(),
            Total {
                last_time: time,
                value: Value::Native(first.clone()),
            },
        );
        first
    }

    /// The cumulative explicit-bucket histogram of `series` after the delta `delta`
    /// (a point without a recorded value is not passed here: it ends the total,
    /// [`DeltaTotals::forget`]).
    pub fn add_classic(&self, series: &[Label], start: u64, time: u64, delta: &Classic) -> Classic {
        let mut totals = self.lock();
        if let Some(total) = totals.get_mut(series)
            && continues(total, start, time)
            && let Value::Classic(sum) = &mut total.value
            && sum.bounds == delta.bounds
            && sum.bucket_counts.len() == delta.bucket_counts.len()
        {
            total.last_time = time;
            for (s, d) in sum.bucket_counts.iter_mut().zip(&delta.bucket_counts) {
                *s = s.saturating_add(*d);
            }
            sum.count = sum.count.saturating_add(delta.count);
            sum.sum = match (sum.sum, delta.sum) {
                (Some(a), Some(b)) => Some(a + b),
                _ => None,
            };
            return sum.clone();
        }
        totals.put(
            series.to_vec(),
            Total {
                last_time: time,
                value: Value::Classic(delta.clone()),
            },
        );
        delta.clone()
    }

    /// Ends the total of `series` (it went stale).
    pub fn forget(&self, series: &[Label]) {
        self.lock().pop(series);
    }
}

/// Whether a point of `(start, time]` continues `total`.
fn continues(total: &Total, start: u64, time: u64) -> bool {
    time > total.last_time && (start == 0 || start == total.last_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str) -> Vec<Label> {
        vec![Label::new("__name__", name)]
    }

    fn delta(buckets: &[(i32, f64)]) -> FloatHistogram {
        let mut h = FloatHistogram {
            count: buckets.iter().map(|b| b.1).sum(),
            sum: 1.0,
            ..FloatHistogram::default()
        };
        h.set_positive(buckets.iter().copied());
        h
    }

    #[test]
    fn deltas_add_up_and_a_break_starts_again() {
        let t = DeltaTotals::default();
        let s = series("h");
        let first = t.add_native(&s, 0, 10, &delta(&[(1, 2.0)]));
        assert_eq!(first.reset_hint, ResetHint::CounterReset);
        assert_eq!(first.count, 2.0);
        let second = t.add_native(&s, 10, 20, &delta(&[(1, 1.0), (3, 4.0)]));
        assert_eq!(second.reset_hint, ResetHint::Unknown);
        assert_eq!(second.positive().collect::<Vec<_>>(), [(1, 3.0), (3, 4.0)]);
        assert_eq!((second.count, second.sum), (7.0, 2.0));
        // Unset start times continue too.
        assert_eq!(t.add_native(&s, 0, 30, &delta(&[(1, 1.0)])).count, 8.0);
        // A start time that does not continue: a new total.
        let again = t.add_native(&s, 100, 110, &delta(&[(2, 1.0)]));
        assert_eq!(again.reset_hint, ResetHint::CounterReset);
        assert_eq!(again.count, 1.0);
        // A point not after the last one starts again too.
        assert_eq!(t.add_native(&s, 0, 110, &delta(&[(2, 1.0)])).count, 1.0);
        // Staleness ends the total.
        assert!(
            t.add_native(&s, 110, 120, &FloatHistogram::stale_marker())
                .is_stale()
        );
        assert!(t.is_empty());
    }

    #[test]
    fn totals_are_bounded_and_per_series() {
        let t = DeltaTotals::new(2);
        for name in ["a", "b", "c"] {
            t.add_native(&series(name), 0, 10, &delta(&[(0, 1.0)]));
        }
        assert_eq!(t.len(), 2);
        // "a" was evicted: it starts again.
        let a = t.add_native(&series("a"), 10, 20, &delta(&[(0, 1.0)]));
        assert_eq!((a.count, a.reset_hint), (1.0, ResetHint::CounterReset));
        let c = t.add_native(&series("c"), 10, 20, &delta(&[(0, 1.0)]));
        assert_eq!((c.count, c.reset_hint), (2.0, ResetHint::Unknown));
    }

    #[test]
    fn classic_histograms_add_per_bucket_and_restart_on_new_bounds() {
        let t = DeltaTotals::default();
        let s = series("c");
        let p = |bounds: &[f64], counts: &[u64]| Classic {
            bounds: bounds.to_vec(),
            bucket_counts: counts.to_vec(),
            count: counts.iter().sum(),
            sum: Some(1.5),
        };
        t.add_classic(&s, 0, 10, &p(&[1.0], &[1, 2]));
        let got = t.add_classic(&s, 10, 20, &p(&[1.0], &[3, 0]));
        assert_eq!(got.bucket_counts, [4, 2]);
        assert_eq!((got.count, got.sum), (6, Some(3.0)));
        let got = t.add_classic(&s, 20, 30, &p(&[1.0, 2.0], &[1, 1, 1]));
        assert_eq!(got.bucket_counts, [1, 1, 1]);
        t.forget(&s);
        assert!(t.is_empty());
    }
}
