//! Range functions over series holding native histograms (Prometheus 3.5's
//! `functions.go`): `rate`, `increase` and `delta` of histograms (`histogramRate`),
//! `irate` and `idelta` (`instantValue`), `sum_over_time` and `avg_over_time` of
//! histograms, `changes` and `resets` across floats and histograms, and the rules for
//! ranges mixing floats and histograms. Float-only ranges keep the float code paths
//! (`super::rate`), so their results do not change.
//!
//! Every function reports its annotations as [`SeriesNote`]s; the caller places them.

use std::borrow::Cow;
use std::sync::Arc;

use telltale_storage_api::histogram::{ResetHint, detect_reset};

use super::annotations::SeriesNote;
use super::rate::{Window, count_changes, extrapolated_rate, instant_delta, over_time};
use super::selector::RangeView;
use crate::labels::Labels;
use crate::value::{FloatHistogram, HistogramPoint, Sample};

/// A range function's value for one series: a float or a histogram.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RangeValue {
    Float(f64),
    Histogram(FloatHistogram),
}

impl RangeValue {
    /// The sample of this value.
    pub(crate) fn sample(self, metric: Labels, t: i64) -> Sample {
        match self {
            RangeValue::Float(v) => Sample::float(metric, t, v),
            RangeValue::Histogram(h) => Sample::histogram(metric, t, Arc::new(h)),
        }
    }
}

/// `rate` / `increase` (`is_counter`) and `delta` of one series over
/// `(range_start, range_end]`, as Prometheus's `extrapolatedRate`: at least two floats
/// and no histograms, or at least two histograms and no floats.
pub(crate) fn extrapolated(
    s: &RangeView<'_>,
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
    notes: &mut Vec<SeriesNote>,
) -> Option<RangeValue> {
    let (floats, histograms) = (&s.points, &s.histograms);
    if !floats.is_empty() && !histograms.is_empty() {
        notes.push(SeriesNote::MixedFloatsHistograms);
        return None;
    }
    if histograms.len() < 2 {
        return extrapolated_rate(floats, range_start, range_end, is_counter, is_rate)
            .map(RangeValue::Float);
    }
    let mut h = histogram_increase(histograms, is_counter, notes)?;
    let window = Window {
        first_t: histograms[0].0,
        last_t: histograms[histograms.len() - 1].0,
        intervals: histograms.len() - 1,
        range_start,
        range_end,
    };
    // Prometheus 3.5 limits the extrapolation at the counter's zero point for floats
    // only.
    h.mul(window.factor(0.0, 0.0, is_counter, is_rate));
    Some(RangeValue::Histogram(h))
}

/// Prometheus's `histogramRate`: the last histogram minus the first (at the lowest
/// schema of the range), plus every histogram before a counter reset when
/// `is_counter`; None (with a note) when the histograms cannot be combined.
fn histogram_increase(
    points: &[HistogramPoint],
    is_counter: bool,
    notes: &mut Vec<SeriesNote>,
) -> Option<FloatHistogram> {
    let first = &points[0].1;
    let last = &points[points.len() - 1].1;
    let fail = |notes: &mut Vec<SeriesNote>, note| {
        // Prometheus returns only this annotation, dropping those found before.
        notes.clear();
        notes.push(note);
        None
    };
    if is_counter && (first.reset_hint == ResetHint::Gauge || last.reset_hint == ResetHint::Gauge) {
        notes.push(SeriesNote::NotCounter);
    }
    let mut prev: Cow<'_, FloatHistogram> = Cow::Borrowed(first);
    // A counter reset between the first two samples: the first one does not count, and
    // neither does its bucket layout.
    if is_counter && detect_reset(first, &points[1].1) {
        let second = &points[1].1;
        prev = Cow::Owned(FloatHistogram {
            schema: second.schema,
            custom_values: second.custom_values.clone(),
            ..FloatHistogram::default()
        });
    }
    let custom = prev.uses_custom_buckets();
    if last.uses_custom_buckets() != custom {
        notes.push(SeriesNote::MixedExponentialCustom);
        return None;
    }
    let mut min_schema = last.schema.min(prev.schema);
    if is_counter {
        for (_, h) in &points[1..points.len() - 1] {
            if h.reset_hint == ResetHint::Gauge {
                notes.push(SeriesNote::NotCounter);
            }
            min_schema = min_schema.min(h.schema);
            if h.uses_custom_buckets() != custom {
                return fail(notes, SeriesNote::MixedExponentialCustom);
            }
        }
    }
    let mut out = FloatHistogram::clone(last);
    out.reduce_resolution(min_schema);
    if let Err(e) = out.sub(&prev) {
        return fail(notes, SeriesNote::of_error(&e));
    }
    if is_counter {
        for (_, curr) in &points[1..] {
            if detect_reset(&prev, curr)
                && let Err(e) = out.add(&prev)
            {
                return fail(notes, SeriesNote::of_error(&e));
            }
            prev = Cow::Borrowed(curr);
        }
    } else if first.reset_hint != ResetHint::Gauge || last.reset_hint != ResetHint::Gauge {
        notes.push(SeriesNote::NotGauge);
    }
    out.reset_hint = ResetHint::Gauge;
    out.compact();
    Some(out)
}

/// The last sample of a range at or before the other candidate: a float or a histogram.
#[derive(Clone, Copy)]
enum Point<'a> {
    Float(i64, f64),
    Histogram(i64, &'a FloatHistogram),
}

impl Point<'_> {
    fn t(&self) -> i64 {
        match self {
            Point::Float(t, _) | Point::Histogram(t, _) => *t,
        }
    }
}

/// `irate` (`is_rate`) and `idelta` of one series, as Prometheus's `instantValue`: from
/// the last two samples of the range, floats or histograms.
pub(crate) fn instant_value(
    s: &RangeView<'_>,
    is_rate: bool,
    notes: &mut Vec<SeriesNote>,
) -> Option<RangeValue> {
    let (floats, histograms) = (&s.points, &s.histograms);
    if histograms.is_empty() {
        return instant_delta(floats, is_rate).map(RangeValue::Float);
    }
    if floats.len() + histograms.len() < 2 {
        return None;
    }
    // The last two samples, floats first, histograms put in their places.
    let mut ss: Vec<Point<'_>> = floats[floats.len().saturating_sub(2)..]
        .iter()
        .map(|&(t, v)| Point::Float(t, v))
        .collect();
    for (t, h) in &histograms[histograms.len().saturating_sub(2)..] {
        let p = Point::Histogram(*t, h);
        match ss.len() {
            0 => ss.push(p),
            1 if *t < ss[0].t() => ss.insert(0, p),
            1 => ss.push(p),
            _ if *t < ss[0].t() => {}
            _ if *t > ss[1].t() => {
                ss[0] = ss[1];
                ss[1] = p;
            }
            _ => ss[0] = p,
        }
    }
    let interval = ss[1].t() - ss[0].t();
    if interval == 0 {
        return None;
    }
    let per_second = interval as f64 / 1000.0;
    match (ss[0], ss[1]) {
        (Point::Float(_, prev), Point::Float(_, last)) => {
            let mut v = last;
            // A counter reset (the last lower) leaves the last value.
            if !is_rate || last.partial_cmp(&prev) != Some(std::cmp::Ordering::Less) {
                v = last - prev;
            }
            if is_rate {
                v /= per_second;
            }
            Some(RangeValue::Float(v))
        }
        (Point::Histogram(_, prev), Point::Histogram(_, last)) => {
            let gauge = |h: &FloatHistogram| h.reset_hint == ResetHint::Gauge;
            if is_rate && (gauge(last) || gauge(prev)) {
                notes.push(SeriesNote::NotCounter);
            }
            if !is_rate && (!gauge(last) || !gauge(prev)) {
                notes.push(SeriesNote::NotGauge);
            }
            let mut out = last.clone();
            if (!is_rate || !detect_reset(prev, last))
                && let Err(e) = out.sub(prev)
            {
                notes.push(SeriesNote::of_error(&e));
                return None;
            }
            out.reset_hint = ResetHint::Gauge;
            out.compact();
            if is_rate {
                out.div(per_second);
            }
            Some(RangeValue::Histogram(out))
        }
        _ => {
            notes.push(SeriesNote::MixedFloatsHistograms);
            None
        }
    }
}

/// `changes` (or `resets` when `resets`) over a range of floats and histograms in time
/// order: a switch between a float and a histogram counts as both.
pub(crate) fn changes(s: &RangeView<'_>, resets: bool) -> f64 {
    let (floats, histograms) = (&s.points, &s.histograms);
    if histograms.is_empty() {
        return count_changes(floats, resets);
    }
    let (mut i, mut j) = (0, 0);
    let mut prev: Option<Point<'_>> = None;
    let mut n = 0usize;
    while i < floats.len() || j < histograms.len() {
        let cur = if j >= histograms.len() || (i < floats.len() && floats[i].0 < histograms[j].0) {
            i += 1;
            Point::Float(floats[i - 1].0, floats[i - 1].1)
        } else {
            j += 1;
            Point::Histogram(histograms[j - 1].0, &histograms[j - 1].1)
        };
        if let Some(p) = prev {
            let changed = match (p, cur) {
                (Point::Float(_, a), Point::Float(_, b)) if resets => b < a,
                (Point::Float(_, a), Point::Float(_, b)) => a != b && !(a.is_nan() && b.is_nan()),
                (Point::Histogram(_, a), Point::Histogram(_, b)) if resets => detect_reset(a, b),
                (Point::Histogram(_, a), Point::Histogram(_, b)) => !b.equals(a),
                _ => true,
            };
            n += usize::from(changed);
        }
        prev = Some(cur);
    }
    n as f64
}

/// An `*_over_time` function `name` of one series, as Prometheus 3.5: `sum` and `avg`
/// of histograms (not of a range mixing both), `count`, `last` and `present` of both,
/// and the functions of floats over the floats only (histograms ignored with an info;
/// none at all when the range holds no float).
pub(crate) fn over_time_of(
    name: &str,
    s: &RangeView<'_>,
    notes: &mut Vec<SeriesNote>,
) -> Option<RangeValue> {
    let (floats, histograms) = (&s.points, &s.histograms);
    match name {
        "count_over_time" => Some(RangeValue::Float((floats.len() + histograms.len()) as f64)),
        "present_over_time" => Some(RangeValue::Float(1.0)),
        "last_over_time" => {
            let last_h = histograms.last();
            match (floats.last(), last_h) {
                (Some(&(tf, v)), h) if h.is_none_or(|(th, _)| *th < tf) => {
                    Some(RangeValue::Float(v))
                }
                (_, Some((_, h))) => Some(RangeValue::Histogram(FloatHistogram::clone(h))),
                _ => None,
            }
        }
        "ts_of_last_over_time" => {
            let tf = floats.last().map_or(0, |p| p.0);
            let th = histograms.last().map_or(0, |p| p.0);
            Some(RangeValue::Float(tf.max(th) as f64 / 1000.0))
        }
        "sum_over_time" | "avg_over_time" if !histograms.is_empty() => {
            if !floats.is_empty() {
                notes.push(SeriesNote::MixedFloatsHistograms);
                return None;
            }
            let mut acc = FloatHistogram::clone(&histograms[0].1);
            for (i, (_, h)) in histograms.iter().enumerate().skip(1) {
                let combined = if name == "sum_over_time" {
                    acc.add(h)
                } else {
                    // Incremental mean: mean += h / n - mean / n.
                    let n = (i + 1) as f64;
                    let mut step = FloatHistogram::clone(h);
                    step.div(n);
                    let mut part = acc.clone();
                    part.div(n);
                    step.sub(&part).and_then(|()| acc.add(&step))
                };
                if let Err(e) = combined {
                    notes.push(SeriesNote::of_error(&e));
                    return None;
                }
            }
            Some(RangeValue::Histogram(acc))
        }
        _ => {
            if floats.is_empty() {
                return None;
            }
            if !histograms.is_empty() {
                notes.push(SeriesNote::IgnoredInMixedRange);
            }
            Some(RangeValue::Float(over_time(name, floats)))
        }
    }
}

/// The float points of a range for a function of floats needing `min` of them (`deriv`,
/// `predict_linear`, `double_exponential_smoothing`): None without enough; histograms
/// beside them are ignored with an info (also when exactly one float is there).
pub(crate) fn floats_for<'v>(
    s: &'v RangeView<'_>,
    min: usize,
    notes: &mut Vec<SeriesNote>,
) -> Option<&'v [(i64, f64)]> {
    let floats: &[(i64, f64)] = &s.points;
    if floats.len() < min {
        if floats.len() == 1 && !s.histograms.is_empty() {
            notes.push(SeriesNote::IgnoredInMixedRange);
        }
        return None;
    }
    if !s.histograms.is_empty() {
        notes.push(SeriesNote::IgnoredInMixedRange);
    }
    Some(floats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(count: f64, buckets: &[(i32, f64)], hint: ResetHint) -> Arc<FloatHistogram> {
        let mut h = FloatHistogram {
            reset_hint: hint,
            count,
            sum: count * 2.0,
            ..FloatHistogram::default()
        };
        h.set_positive(buckets.iter().copied());
        Arc::new(h)
    }

    fn view(points: Vec<(i64, f64)>, histograms: Vec<HistogramPoint>) -> RangeView<'static> {
        RangeView {
            metric: Labels::empty(),
            points: Cow::Owned(points),
            histograms: Cow::Owned(histograms),
        }
    }

    #[test]
    fn increase_adds_the_histogram_before_a_reset() {
        let u = ResetHint::Unknown;
        let pts = vec![
            (10_000, h(4.0, &[(1, 4.0)], u)),
            (20_000, h(10.0, &[(1, 10.0)], u)),
            (30_000, h(3.0, &[(1, 3.0)], u)),
        ];
        let mut notes = Vec::new();
        let inc = histogram_increase(&pts, true, &mut notes).unwrap();
        // 3 - 4 + 10 (before the reset).
        assert_eq!(inc.count, 9.0);
        assert_eq!(inc.positive().collect::<Vec<_>>(), vec![(1, 9.0)]);
        assert_eq!(inc.reset_hint, ResetHint::Gauge);
        assert!(notes.is_empty());
        // Over (0, 30s]: 20 s sampled, 10 s to the start (< 11 s): all the way, no
        // zero-point limit for histograms; 0 to the end.
        let v = extrapolated(&view(vec![], pts), 0, 30_000, true, false, &mut notes);
        let Some(RangeValue::Histogram(inc)) = v else {
            panic!("{v:?}")
        };
        assert_eq!(inc.count, 9.0 * 30.0 / 20.0);
    }

    #[test]
    fn gauge_and_counter_notes() {
        let g = ResetHint::Gauge;
        let pts = vec![
            (0, h(4.0, &[(1, 4.0)], g)),
            (10_000, h(2.0, &[(1, 2.0)], g)),
        ];
        let mut notes = Vec::new();
        let d = histogram_increase(&pts, false, &mut notes).unwrap();
        assert_eq!(d.count, -2.0);
        assert!(notes.is_empty());
        histogram_increase(&pts, true, &mut notes);
        assert_eq!(notes, vec![SeriesNote::NotCounter]);
        let mixed = view(vec![(0, 1.0)], pts);
        notes.clear();
        assert_eq!(
            extrapolated(&mixed, 0, 10_000, true, true, &mut notes),
            None
        );
        assert_eq!(notes, vec![SeriesNote::MixedFloatsHistograms]);
    }

    #[test]
    fn instant_values_take_the_last_two_samples() {
        let u = ResetHint::Unknown;
        let s = view(
            vec![(0, 1.0)],
            vec![
                (10_000, h(4.0, &[(1, 4.0)], u)),
                (20_000, h(6.0, &[(1, 6.0)], u)),
            ],
        );
        let mut notes = Vec::new();
        let Some(RangeValue::Histogram(r)) = instant_value(&s, true, &mut notes) else {
            panic!()
        };
        assert_eq!(r.count, 0.2);
        // The last two are a histogram and a float.
        let s = view(vec![(30_000, 1.0)], vec![(20_000, h(6.0, &[(1, 6.0)], u))]);
        assert_eq!(instant_value(&s, false, &mut notes), None);
        assert!(notes.contains(&SeriesNote::MixedFloatsHistograms));
    }

    #[test]
    fn changes_and_resets_across_kinds() {
        let u = ResetHint::Unknown;
        let s = view(
            vec![(0, 1.0), (40_000, 1.0)],
            vec![
                (10_000, h(4.0, &[(1, 4.0)], u)),
                (20_000, h(4.0, &[(1, 4.0)], u)),
                (30_000, h(2.0, &[(1, 2.0)], u)),
            ],
        );
        // float->hist, (same), hist reset, hist->float.
        assert_eq!(changes(&s, false), 3.0);
        assert_eq!(changes(&s, true), 3.0);
    }

    #[test]
    fn over_time_of_histograms() {
        let u = ResetHint::Unknown;
        let s = view(
            vec![],
            vec![(1, h(2.0, &[(1, 2.0)], u)), (2, h(4.0, &[(1, 4.0)], u))],
        );
        let mut notes = Vec::new();
        let sum = over_time_of("sum_over_time", &s, &mut notes);
        assert!(matches!(sum, Some(RangeValue::Histogram(ref h)) if h.count == 6.0));
        let avg = over_time_of("avg_over_time", &s, &mut notes);
        assert!(matches!(avg, Some(RangeValue::Histogram(ref h)) if h.count == 3.0));
        assert_eq!(
            over_time_of("count_over_time", &s, &mut notes),
            Some(RangeValue::Float(2.0))
        );
        assert_eq!(over_time_of("max_over_time", &s, &mut notes), None);
        assert!(notes.is_empty());
        let mixed = view(vec![(3, 7.0)], s.histograms.to_vec());
        assert_eq!(
            over_time_of("max_over_time", &mixed, &mut notes),
            Some(RangeValue::Float(7.0))
        );
        assert_eq!(notes, vec![SeriesNote::IgnoredInMixedRange]);
        assert_eq!(
            over_time_of("last_over_time", &mixed, &mut notes),
            Some(RangeValue::Float(7.0))
        );
    }
}
