//! Evaluation over rollup points (see `crate::plan` for when and the semantics): the
//! functions computed from bucket aggregates (`quantile_over_time` from their merged
//! sketches), instant reads of `last`, and rollup points read as downsampled samples.
//! A native histogram series' points carry histograms (last, increase, sum per bucket:
//! `telltale_storage_api::histogram::rollup`), read by the `histogram_*` functions here.

use std::sync::Arc;

use telltale_storage_api::histogram::rollup::Point;
use telltale_storage_api::sketch::Sketch;
use telltale_storage_api::{Aggregate, FloatHistogram};

use super::aggregate::KahanSum;
use super::quantile::quantile as exact_quantile;
use crate::labels::Labels;

/// One series as read from a rollup tier, points in bucket order.
#[derive(Debug, Clone)]
pub(crate) struct RollupSeries {
    pub labels: Labels,
    pub points: Vec<Aggregate>,
}

/// The buckets of width `width` that end in `(t - range, t]`.
pub(crate) fn window(points: &[Aggregate], t: i64, range: i64, width: i64) -> &[Aggregate] {
    let lo = points.partition_point(|p| p.timestamp_ms + width <= t - range);
    let hi = points.partition_point(|p| p.timestamp_ms + width <= t);
    &points[lo..hi.max(lo)]
}

/// The value of range function `func` over `buckets` covering `range_ms`; None when
/// there is no bucket (no output, as with no samples).
pub(crate) fn call(func: &str, buckets: &[Aggregate], range_ms: i64) -> Option<f64> {
    let last = buckets.last()?;
    let count: u64 = buckets.iter().map(|b| b.count).sum();
    if count == 0 {
        return None;
    }
    let sum = || buckets.iter().map(|b| b.sum).collect::<KahanSum>().value();
    Some(match func {
        "increase" => buckets
            .iter()
            .map(|b| b.increase)
            .collect::<KahanSum>()
            .value(),
        "rate" => {
            buckets
                .iter()
                .map(|b| b.increase)
                .collect::<KahanSum>()
                .value()
                / (range_ms as f64 / 1000.0)
        }
        "avg_over_time" => sum() / count as f64,
        "sum_over_time" => sum(),
        "count_over_time" => count as f64,
        "min_over_time" => buckets
            .iter()
            .map(|b| b.min)
            .fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
        "max_over_time" => buckets
            .iter()
            .map(|b| b.max)
            .fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
        "last_over_time" => last.last,
        "present_over_time" => 1.0,
        _ => return None,
    })
}

/// Whether the points are a native histogram series' (any of them carries histograms).
pub(crate) fn has_histograms(points: &[Aggregate]) -> bool {
    points.iter().any(|p| p.histogram.is_some())
}

/// What a range function answers over histogram points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum HistogramValue {
    Float(f64),
    Histogram(FloatHistogram),
}

/// The value of range function `func` over histogram `buckets` covering `range_ms`, as
/// Prometheus answers it over the raw histograms: `rate`/`increase` from the buckets'
/// increases, `sum_over_time`/`avg_over_time` from their sums, `last_over_time` the last
/// sample, `count_over_time`/`present_over_time` as floats; None for a function that
/// ignores histograms (min/max/quantile/stddev…), for a window that mixes float and
/// histogram points, or for histograms that cannot be added.
pub(crate) fn call_histograms(
    func: &str,
    buckets: &[Aggregate],
    range_ms: i64,
) -> Option<HistogramValue> {
    let count: u64 = buckets.iter().map(|b| b.count).sum();
    if count == 0 {
        return None;
    }
    let points: Vec<Point> = buckets.iter().map(Point::of).collect::<Option<_>>()?;
    let total = |pick: fn(&Point) -> &FloatHistogram| -> Option<FloatHistogram> {
        let mut it = points.iter();
        let mut acc = pick(it.next()?).clone();
        for p in it {
            acc.add(pick(p)).ok()?;
        }
        acc.compact();
        Some(acc)
    };
    Some(match func {
        "increase" => HistogramValue::Histogram(total(|p| &p.increase)?),
        "rate" => {
            let mut h = total(|p| &p.increase)?;
            h.div(range_ms as f64 / 1000.0);
            HistogramValue::Histogram(h)
        }
        "sum_over_time" => HistogramValue::Histogram(total(|p| &p.sum)?),
        "avg_over_time" => {
            let mut h = total(|p| &p.sum)?;
            h.div(count as f64);
            HistogramValue::Histogram(h)
        }
        "last_over_time" => HistogramValue::Histogram(points.last()?.last.clone()),
        "count_over_time" => HistogramValue::Float(count as f64),
        "present_over_time" => HistogramValue::Float(1.0),
        _ => return None,
    })
}

/// The newest `(last_timestamp_ms, last histogram)` at or before `t`, as [`instant`].
pub(crate) fn instant_histogram(
    points: &[Aggregate],
    t: i64,
    lookback: i64,
    width: i64,
) -> Option<(i64, Arc<FloatHistogram>)> {
    let idx = points.partition_point(|p| p.last_timestamp_ms <= t);
    let p = points.get(idx.checked_sub(1)?)?;
    if p.last_timestamp_ms <= t - lookback - width {
        return None;
    }
    Some((p.last_timestamp_ms, Arc::new(Point::of(p)?.last)))
}

/// The points' last histograms within `(t - range, t]`, as [`samples`].
pub(crate) fn histogram_samples(
    points: &[Aggregate],
    t: i64,
    range: i64,
) -> Vec<(i64, Arc<FloatHistogram>)> {
    points
        .iter()
        .filter(|p| p.last_timestamp_ms > t - range && p.last_timestamp_ms <= t)
        .filter_map(|p| Some((p.last_timestamp_ms, Arc::new(Point::of(p)?.last))))
        .collect()
}

/// `quantile_over_time(q, ...)` over `buckets` from their merged sketches, with the
/// window's exact min and max; None when there is no bucket. A bucket without a sketch
/// that holds all its values (rolled up before sketches existed) makes the window fall
/// back to Prometheus's quantile over `downsampled()`, the points read as samples.
pub(crate) fn quantile(
    q: f64,
    buckets: &[Aggregate],
    downsampled: impl FnOnce() -> Vec<(i64, f64)>,
) -> Option<f64> {
    if buckets.iter().map(|b| b.count).sum::<u64>() == 0 {
        return None;
    }
    let mut merged = Sketch::default();
    for b in buckets {
        let Some(s) = Sketch::decode(&b.sketch)
            .ok()
            .filter(|s| s.count() == b.count)
        else {
            let values: Vec<f64> = downsampled().into_iter().map(|s| s.1).collect();
            return (!values.is_empty()).then(|| exact_quantile(q, values));
        };
        merged.union(&s);
    }
    // Exact, NaN left out (f64::min and max skip a NaN operand).
    let min = buckets.iter().map(|b| b.min).fold(f64::NAN, f64::min);
    let max = buckets.iter().map(|b| b.max).fold(f64::NAN, f64::max);
    merged.quantile(q, min, max)
}

/// The newest `(last_timestamp_ms, last)` at or before `t`, if within `lookback` plus
/// one bucket `width`.
pub(crate) fn instant(
    points: &[Aggregate],
    t: i64,
    lookback: i64,
    width: i64,
) -> Option<(i64, f64)> {
    let idx = points.partition_point(|p| p.last_timestamp_ms <= t);
    let p = points.get(idx.checked_sub(1)?)?;
    (p.last_timestamp_ms > t - lookback - width).then_some((p.last_timestamp_ms, p.last))
}

/// The points as samples `(last_timestamp_ms, last)` within `(t - range, t]`.
pub(crate) fn samples(points: &[Aggregate], t: i64, range: i64) -> Vec<(i64, f64)> {
    points
        .iter()
        .filter(|p| p.last_timestamp_ms > t - range && p.last_timestamp_ms <= t)
        .map(|p| (p.last_timestamp_ms, p.last))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_storage_api::rollup::summarise;

    const MIN: i64 = 60_000;

    fn points() -> Vec<Aggregate> {
        // A counter +1 every 15s from 7s: 4 samples per minute bucket.
        let raw: Vec<(i64, f64)> = (0..40).map(|i| (7_000 + i * 15_000, i as f64)).collect();
        summarise(&raw, None, MIN)
    }

    #[test]
    fn window_takes_buckets_ending_in_the_range() {
        let p = points();
        let w = window(&p, 5 * MIN, 2 * MIN, MIN);
        assert_eq!(
            w.iter().map(|b| b.timestamp_ms).collect::<Vec<_>>(),
            vec![3 * MIN, 4 * MIN]
        );
        // Not aligned: the bucket [5m, 6m) has not ended at 5m30s.
        assert_eq!(window(&p, 5 * MIN + 30_000, 2 * MIN, MIN).len(), 2);
        assert!(window(&p, 0, MIN, MIN).is_empty());
    }

    #[test]
    fn functions_from_aggregates() {
        let p = points();
        let w = window(&p, 5 * MIN, 2 * MIN, MIN);
        // Samples 12..=19 lie in [3m, 5m); the increase includes the step 11 -> 12.
        assert_eq!(call("increase", w, 2 * MIN), Some(8.0));
        assert_eq!(call("rate", w, 2 * MIN), Some(8.0 / 120.0));
        assert_eq!(call("count_over_time", w, 2 * MIN), Some(8.0));
        assert_eq!(
            call("sum_over_time", w, 2 * MIN),
            Some((12..20).sum::<i32>() as f64)
        );
        assert_eq!(call("avg_over_time", w, 2 * MIN), Some(15.5));
        assert_eq!(call("min_over_time", w, 2 * MIN), Some(12.0));
        assert_eq!(call("max_over_time", w, 2 * MIN), Some(19.0));
        assert_eq!(call("last_over_time", w, 2 * MIN), Some(19.0));
        assert_eq!(call("present_over_time", w, 2 * MIN), Some(1.0));
        assert_eq!(call("rate", &[], 2 * MIN), None);
        assert_eq!(call("irate", w, 2 * MIN), None);
    }

    /// A latency-like gauge, 4 samples a minute.
    fn latencies() -> Vec<(i64, f64)> {
        (0..240)
            .map(|i| (7_000 + i * 15_000, 0.05 + ((i * 37) % 101) as f64 / 250.0))
            .collect()
    }

    #[test]
    fn quantile_from_sketches_is_within_the_relative_accuracy() {
        let raw = latencies();
        let p = summarise(&raw, None, MIN);
        let (t, range) = (60 * MIN, 30 * MIN);
        let w = window(&p, t, range, MIN);
        let values: Vec<f64> = raw
            .iter()
            .filter(|s| s.0 >= 30 * MIN && s.0 < 60 * MIN)
            .map(|s| s.1)
            .collect();
        for q in [0.0, 0.5, 0.9, 0.95, 0.99, 1.0] {
            let want = exact_quantile(q, values.clone());
            let got = quantile(q, w, Vec::new).unwrap();
            let alpha = telltale_storage_api::sketch::RELATIVE_ACCURACY;
            assert!(
                (got - want).abs() <= alpha * want.abs(),
                "{q}: {got} vs {want}"
            );
        }
        // The extremes are exact, and φ out of range answers as Prometheus.
        let min = values.iter().copied().fold(f64::NAN, f64::min);
        assert_eq!(quantile(0.0, w, Vec::new), Some(min));
        assert_eq!(quantile(-1.0, w, Vec::new), Some(f64::NEG_INFINITY));
        assert_eq!(quantile(2.0, w, Vec::new), Some(f64::INFINITY));
        assert!(quantile(f64::NAN, w, Vec::new).unwrap().is_nan());
        assert_eq!(quantile(0.5, &[], Vec::new), None);
    }

    /// A window holding a point rolled up before sketches existed is answered from the
    /// points read as samples, as without sketches.
    #[test]
    fn quantile_falls_back_to_downsampled_samples_without_a_sketch() {
        let mut p = summarise(&latencies(), None, MIN);
        p[40].sketch.clear();
        let (t, range) = (60 * MIN, 30 * MIN);
        let samples_of = |p: &[Aggregate]| samples(p, t, range);
        let want = exact_quantile(0.9, samples_of(&p).iter().map(|s| s.1).collect());
        let w = window(&p, t, range, MIN);
        assert_eq!(quantile(0.9, w, || samples_of(&p)), Some(want));
        // A window without that point still uses the sketches.
        let w = window(&p, 30 * MIN, 10 * MIN, MIN);
        assert_ne!(quantile(0.9, w, Vec::new), None);
    }

    #[test]
    fn instant_reads_last_within_lookback_and_a_bucket() {
        let p = points();
        // At 5m the newest last at or before is 4m52s (sample 19).
        assert_eq!(instant(&p, 5 * MIN, 5 * MIN, MIN), Some((292_000, 19.0)));
        // Long after the last sample (9m52s): out of lookback + width.
        assert_eq!(instant(&p, 17 * MIN, 5 * MIN, MIN), None);
        assert_eq!(instant(&p, 0, 5 * MIN, MIN), None);
        assert_eq!(
            samples(&p, 5 * MIN, 2 * MIN),
            vec![(232_000, 15.0), (292_000, 19.0)]
        );
    }
}
