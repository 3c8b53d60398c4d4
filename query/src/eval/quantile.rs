//! Quantiles: `histogram_quantile` over classic buckets, and the `quantile` used by the
//! `quantile` aggregation and `quantile_over_time`.

use std::collections::HashMap;

use telltale_storage_api::METRIC_NAME;

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
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// `histogram_quantile(q, buckets)`: groups samples by their labels without `le` and
/// `__name__`, and interpolates the quantile in each group's cumulative buckets.
pub(crate) fn histogram_quantile(q: f64, samples: Vec<Sample>, t: i64) -> Vec<Sample> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<(f64, f64)>)> = Vec::new();
    for s in samples {
        let Some(upper) = s.metric.get(BUCKET_LABEL).and_then(parse_le) else {
            continue;
        };
        let key = s.metric.without(&[METRIC_NAME, BUCKET_LABEL]);
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push((upper, s.value));
    }
    groups
        .into_iter()
        .map(|(metric, buckets)| Sample {
            metric,
            t_ms: t,
            value: bucket_quantile(q, buckets),
        })
        .collect()
}

fn parse_le(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Prometheus' `bucketQuantile` over `(upper bound, cumulative count)` buckets.
pub(crate) fn bucket_quantile(q: f64, mut buckets: Vec<(f64, f64)>) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    if buckets.last().is_none_or(|b| b.0 != f64::INFINITY) {
        return f64::NAN;
    }
    // Coalesce buckets with the same bound, then force the counts to be monotonic.
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(buckets.len());
    for (upper, count) in buckets {
        match merged.last_mut() {
            Some(last) if last.0 == upper => last.1 += count,
            _ => merged.push((upper, count)),
        }
    }
    let mut max = f64::NEG_INFINITY;
    for b in &mut merged {
        if b.1 < max {
            b.1 = max;
        }
        max = b.1;
    }
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
    fn quantile_interpolates_ranks() {
        assert_eq!(quantile(0.5, vec![1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(0.0, vec![3.0, 1.0]), 1.0);
        assert_eq!(quantile(1.0, vec![3.0, 1.0]), 3.0);
        assert_eq!(quantile(2.0, vec![1.0]), f64::INFINITY);
        assert!(quantile(0.5, vec![]).is_nan());
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
        // Without a +Inf bucket there is no answer.
        assert!(bucket_quantile(0.5, vec![(1.0, 1.0)]).is_nan());
    }
}
