//! Quantiles: `histogram_quantile` over classic buckets, and the `quantile` used by the
//! `quantile` aggregation and `quantile_over_time`.

use std::collections::HashMap;

use crate::labels::Labels;
use crate::value::Sample;

/// The `le` label of classic histogram buckets.
pub(crate) const BUCKET_LABEL: &str = "le";

/// Prometheus' `quantile`: linear interpolation between the closest ranks.
pub(crate) fn quantile(q: f64, mut values: Vec<f64>) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaN first, as Prometheus sorts them.
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.total_cmp(b),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// `histogram_quantile(q, buckets)`: groups samples by their labels without `le`, and
/// interpolates the quantile in each group's cumulative buckets; the output loses
/// `__name__` (marked for removal with `delayed` name removal), so two histograms of
/// different names and the same other labels collide as in Prometheus. `forced` gets
/// the metric name of each group whose counts had to be made monotonic (the name only
/// with delayed name removal, as Prometheus reports it).
pub(crate) fn histogram_quantile(
    q: f64,
    samples: Vec<Sample>,
    t: i64,
    delayed: bool,
    forced: &mut Vec<String>,
) -> Vec<Sample> {
    classic_histograms(samples)
        .into_iter()
        .map(|(metric, buckets)| {
            let (value, fixed) = bucket_quantile_checked(q, buckets);
            if fixed {
                let name = if delayed {
                    metric.get(telltale_storage_api::METRIC_NAME).unwrap_or("")
                } else {
                    ""
                };
                forced.push(name.to_string());
            }
            Sample::float(super::drop_name(&metric, delayed), t, value)
        })
        .collect()
}

/// `histogram_fraction(lower, upper, buckets)` over classic histograms: the estimated
/// fraction of observations between `lower` and `upper` in each group.
pub(crate) fn histogram_fraction(
    lower: f64,
    upper: f64,
    samples: Vec<Sample>,
    t: i64,
    delayed: bool,
) -> Vec<Sample> {
    classic_histograms(samples)
        .into_iter()
        .map(|(metric, buckets)| {
            Sample::float(
                super::drop_name(&metric, delayed),
                t,
                bucket_fraction(lower, upper, buckets),
            )
        })
        .collect()
}

/// The classic histograms in `samples`: `(upper bound, cumulative count)` buckets
/// grouped by the labels without `le` (the name kept), in order of first appearance.
/// Samples without a parsable `le` are ignored.
fn classic_histograms(samples: Vec<Sample>) -> Vec<(Labels, Vec<(f64, f64)>)> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for s in samples {
        let Some(upper) = s.metric.get(BUCKET_LABEL).and_then(parse_le) else {
            continue;
        };
        let key = s.metric.without(&[BUCKET_LABEL]);
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((upper, s.value));
    }
    groups
}

/// Sorts buckets by upper bound and adds up those with the same bound.
fn sorted_coalesced(mut buckets: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (upper, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == upper => last.1 += count,
            _ => merged.push((upper, count)),
        }
    }
    merged
}

/// Prometheus' `BucketFraction`: linear interpolation within the buckets holding
/// `lower` and `upper` (the first bucket starts at 0 when its bound is positive, else at
/// -Inf, where all of its observations count as at its bound).
pub(crate) fn bucket_fraction(lower: f64, upper: f64, buckets: Vec<(f64, f64)>) -> f64 {
    if buckets.last().is_none() {
        return f64::NAN;
    }
    let buckets = sorted_coalesced(buckets);
    let Some(&(top, count)) = buckets.last() else {
        return f64::NAN;
    };
    if top != f64::INFINITY || count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, None, None);
    let mut lower_bound = if buckets[0].0 <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, &(upper_bound, cumulative)) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].0;
        }
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                cumulative
            } else {
                rank + (cumulative - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if lower_rank.is_none() && lower_bound >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && lower_bound >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_none() && lower_bound < lower && upper_bound > lower {
            lower_rank = Some(interpolate(lower));
        }
        if upper_rank.is_none() && lower_bound < upper && upper_bound > upper {
            upper_rank = Some(interpolate(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank = cumulative;
    }
    let lower_rank = lower_rank.filter(|r| *r <= count).unwrap_or(count);
    let upper_rank = upper_rank.filter(|r| *r <= count).unwrap_or(count);
    (upper_rank - lower_rank) / count
}

/// Relative difference below which two bucket counts are taken as equal (float noise).
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Prometheus 3's `ensureMonotonicAndIgnoreSmallDeltas`: a count lower than the one
/// before it, or insignificantly different from it, is replaced by it. True when a
/// count was lower (its `forcedMonotonic`).
fn ensure_monotonic(buckets: &mut [(f64, f64)]) -> bool {
    let Some(&(_, mut prev)) = buckets.first() else {
        return false;
    };
    let mut forced = false;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.1;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.1 = prev;
            continue;
        }
        if curr < prev {
            b.1 = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

/// Prometheus' `almost.Equal`.
fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

pub(crate) fn parse_le(s: &str) -> Option<f64> {
    // Go's ParseFloat: case-insensitive "inf"/"infinity" with an optional sign.
    let (sign, body) = match s.as_bytes().first() {
        Some(b'+') => (1.0, &s[1..]),
        Some(b'-') => (-1.0, &s[1..]),
        _ => (1.0, s),
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(sign * f64::INFINITY);
    }
    s.parse().ok()
}

/// Prometheus' `bucketQuantile` over `(upper bound, cumulative count)` buckets.
#[cfg(test)]
pub(crate) fn bucket_quantile(q: f64, buckets: Vec<(f64, f64)>) -> f64 {
    bucket_quantile_checked(q, buckets).0
}

/// [`bucket_quantile`], and whether the counts had to be made monotonic.
pub(crate) fn bucket_quantile_checked(q: f64, buckets: Vec<(f64, f64)>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    if buckets.is_empty() {
        return (f64::NAN, false);
    }
    let mut merged = sorted_coalesced(buckets);
    if merged.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return (f64::NAN, false);
    }
    let forced = ensure_monotonic(&mut merged);
    (quantile_of_monotonic(q, merged), forced)
}

/// The quantile of sorted, coalesced, monotonic buckets ending at +Inf.
fn quantile_of_monotonic(q: f64, merged: Vec<(f64, f64)>) -> f64 {
    if merged.len() < 2 {
        return f64::NAN;
    }
    let observations = merged[merged.len() - 1].1;
    if observations == 0.0 || observations.is_nan() {
        return f64::NAN;
    }
    let mut rank = q * observations;
    let b = merged[..merged.len() - 1].partition_point(|b| b.1 < rank);
    if b == merged.len() - 1 {
        return merged[merged.len() - 2].0;
    }
    if b == 0 && merged[0].0 <= 0.0 {
        return merged[0].0;
    }
    let (mut start, end, mut count) = (0.0, merged[b].0, merged[b].1);
    if b > 0 {
        start = merged[b - 1].0;
        count -= merged[b - 1].1;
        rank -= merged[b - 1].1;
    }
    start + (end - start) * (rank / count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_monotonic_buckets_are_fixed_and_reported() {
        let b = vec![(0.1, 2.0), (1.0, 1.0), (f64::INFINITY, 4.0)];
        assert_eq!(bucket_quantile_checked(0.5, b), (0.1, true));
        // A difference within float noise is evened out without a report.
        let b = vec![(1.0, 2.0), (2.0, 2.0 - 1e-15), (f64::INFINITY, 4.0)];
        assert!(!bucket_quantile_checked(0.5, b).1);
    }

    #[test]
    fn quantile_interpolates_ranks() {
        assert_eq!(quantile(0.5, vec![1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(0.0, vec![3.0, 1.0]), 1.0);
        assert_eq!(quantile(1.0, vec![3.0, 1.0]), 3.0);
        assert_eq!(quantile(2.0, vec![1.0]), f64::INFINITY);
        assert!(quantile(0.5, vec![]).is_nan());
    }

    #[test]
    fn bucket_fraction_interpolates_and_handles_edges() {
        let b = vec![
            (0.0, 0.0),
            (2.0, 10.0),
            (4.0, 20.0),
            (6.0, 30.0),
            (f64::INFINITY, 30.0),
        ];
        assert!((bucket_fraction(0.0, 4.0, b.clone()) - 2.0 / 3.0).abs() < 1e-12);
        assert!((bucket_fraction(0.0, 3.5, b.clone()) - 17.5 / 30.0).abs() < 1e-12);
        assert_eq!(bucket_fraction(0.0, 6.0, b.clone()), 1.0);
        assert_eq!(bucket_fraction(5.0, 1.0, b.clone()), 0.0);
        assert_eq!(
            bucket_fraction(f64::NEG_INFINITY, f64::INFINITY, b.clone()),
            1.0
        );
        assert!(bucket_fraction(f64::NAN, 1.0, b).is_nan());
        assert!(bucket_fraction(0.0, 1.0, vec![(1.0, 1.0)]).is_nan());
        assert!(bucket_fraction(0.0, 1.0, vec![(f64::INFINITY, 0.0)]).is_nan());
    }

    #[test]
    fn quantile_sorts_nan_first() {
        assert!(quantile(0.0, vec![1.0, f64::NAN, 2.0]).is_nan());
        assert_eq!(quantile(1.0, vec![1.0, f64::NAN, 2.0]), 2.0);
    }

    #[test]
    fn bucket_quantile_interpolates_within_a_bucket() {
        // 10 observations <= 0.1, 20 <= 0.5, 30 total.
        let b = vec![(0.1, 10.0), (0.5, 20.0), (f64::INFINITY, 30.0)];
        // rank 15 lies in (0.1, 0.5]: 0.1 + 0.4 * (5 / 10) = 0.3
        assert!((bucket_quantile(0.5, b.clone()) - 0.3).abs() < 1e-12);
        // rank 27 is in the +Inf bucket: the highest finite bound.
        assert_eq!(bucket_quantile(0.9, b.clone()), 0.5);
        // rank 3 in the first bucket: interpolate from 0.
        assert!((bucket_quantile(0.1, b) - 0.03).abs() < 1e-12);
        // Counts that decrease are raised to the count before them.
        let b = vec![(1.0, 10.0), (2.0, 8.0), (4.0, 20.0), (f64::INFINITY, 20.0)];
        // rank 10 is reached at bound 1 (count 10); bucket (1,2] is empty after the fix.
        assert_eq!(bucket_quantile(0.5, b.clone()), 1.0);
        // rank 15 lies in (2, 4]: 2 + 2 * (5 / 10) = 3
        assert!((bucket_quantile(0.75, b) - 3.0).abs() < 1e-12);
        // Without a +Inf bucket there is no answer.
        assert!(bucket_quantile(0.5, vec![(1.0, 1.0)]).is_nan());
    }
}
