//! The native-histogram functions of PromQL that look into the buckets:
//! `histogram_quantile`, `histogram_fraction`, `histogram_stddev` and `histogram_stdvar`
//! of one [`FloatHistogram`], as Prometheus 3.5 computes them (`HistogramQuantile` and
//! `HistogramFraction` in `promql/quantile.go`, `histogramVariance` in
//! `promql/functions.go`).
//!
//! Interpolation within a bucket:
//! - exponential buckets: log-linear ("exponential"): the observations are assumed to
//!   fill the bucket the way they would fill the buckets of a finer schema evenly, so the
//!   middle of bucket (1, 2] is sqrt(2);
//! - the zero bucket and custom (NHCB) buckets: linear.
//!
//! The zero bucket spans `[-threshold, threshold]`, but when the histogram has positive
//! buckets only its lower bound is taken as 0 (and its upper bound as 0 with negative
//! buckets only). Observations of NaN raise the count but land in no bucket; a histogram
//! holding them has a NaN sum, and then the quantile ranks them above every bucket and
//! fractions leave them out (Prometheus's fix of issue 16578, the behaviour its native
//! histogram specification states).

use telltale_storage_api::FloatHistogram;
use telltale_storage_api::histogram::Bucket;

use super::aggregate::KahanSum;

/// `histogram_quantile(q, h)`: the estimated `q`-quantile of the observations.
///
/// `-Inf` for `q < 0`, `+Inf` for `q > 1`, NaN for a NaN `q` or an empty histogram.
/// Ranks are counted from the low end for `q < 0.5` (and whenever the sum is NaN), from
/// the high end otherwise; buckets of count 0 are passed over, so a quantile falling
/// between populated buckets is the nearer bound of the next populated one. With
/// custom buckets, a quantile in the `+Inf` bucket is its lower bound, one in the
/// `-Inf` bucket is its upper bound when that is not above 0, else it interpolates
/// from 0.
pub(crate) fn histogram_quantile(q: f64, h: &FloatHistogram) -> f64 {
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    if h.count == 0.0 || q.is_nan() {
        return f64::NAN;
    }
    let forward = h.sum.is_nan() || q < 0.5;
    let buckets = all_buckets(h);
    let mut rank = if forward {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let ordered: Box<dyn Iterator<Item = &Bucket>> = if forward {
        Box::new(buckets.iter())
    } else {
        Box::new(buckets.iter().rev())
    };
    let mut bucket = Bucket {
        lower: 0.0,
        upper: 0.0,
        count: 0.0,
        index: 0,
        lower_inclusive: false,
        upper_inclusive: false,
    };
    let mut count = 0.0;
    for b in ordered {
        bucket = *b;
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        if count >= rank {
            break;
        }
    }

    let custom = h.uses_custom_buckets();
    if !custom && bucket.lower < 0.0 && bucket.upper > 0.0 {
        narrow_zero_bucket(h, &mut bucket);
    } else if custom {
        if bucket.lower == f64::NEG_INFINITY {
            if bucket.upper <= 0.0 {
                return bucket.upper;
            }
            bucket.lower = 0.0;
        } else if bucket.upper == f64::INFINITY {
            return bucket.lower;
        }
    }
    // Float error may leave the running count above the histogram's.
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        // Past every bucket: only NaN observations (counted, in no bucket) get here.
        if h.sum.is_nan() {
            return f64::NAN;
        }
        return bucket.upper;
    }
    if forward {
        rank -= count - bucket.count;
    } else {
        rank = count - rank;
    }
    let fraction = rank / bucket.count;
    if custom || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
        return bucket.lower + (bucket.upper - bucket.lower) * fraction;
    }
    // On a log scale the exponential bounds are evenly spaced: interpolate there.
    let log_lower = bucket.lower.abs().log2();
    let log_upper = bucket.upper.abs().log2();
    if bucket.lower > 0.0 {
        (log_lower + (log_upper - log_lower) * fraction).exp2()
    } else {
        -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2()
    }
}

/// `histogram_fraction(lower, upper, h)`: the estimated fraction of the observations
/// between `lower` and `upper`, interpolated as [`histogram_quantile`] does (it is its
/// inverse: `histogram_fraction(-Inf, histogram_quantile(q, h), h)` is `q`).
///
/// NaN for an empty histogram or a NaN bound, 0 when `lower >= upper`. A bound on a
/// bucket boundary counts that bucket wholly on one side: `lower` is exclusive and
/// `upper` inclusive for positive values, the other way round for negative ones.
/// NaN observations are in no fraction: with a NaN sum, `(-Inf, +Inf)` is the share
/// of the observations that landed in buckets.
pub(crate) fn histogram_fraction(lower: f64, upper: f64, h: &FloatHistogram) -> f64 {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let custom = h.uses_custom_buckets();
    let buckets = all_buckets(h);
    let mut rank = 0.0;
    let mut lower_rank: Option<f64> = None;
    let mut upper_rank: Option<f64> = None;
    for b in &buckets {
        let mut b = *b;
        let zero_bucket = b.lower <= 0.0 && b.upper >= 0.0;
        if zero_bucket {
            narrow_zero_bucket(h, &mut b);
        }
        // Linear for custom buckets (as classic histograms) and the zero bucket,
        // exponential (as the quantile) otherwise.
        let rank_at = |v: f64| {
            if custom || zero_bucket {
                rank + b.count * (v - b.lower) / (b.upper - b.lower)
            } else {
                rank + b.count * exponential_position(v, &b)
            }
        };
        if lower_rank.is_none() && b.lower >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && b.lower >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        if lower_rank.is_none() && b.lower < lower && b.upper > lower {
            lower_rank = Some(rank_at(lower));
        }
        if upper_rank.is_none() && b.lower < upper && b.upper > upper {
            upper_rank = Some(rank_at(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank += b.count;
    }
    // The observations in buckets: with NaN observations (a NaN sum) fewer than the
    // count, which stays the denominator.
    let in_buckets = if h.sum.is_nan() {
        buckets.iter().map(|b| b.count).sum()
    } else {
        h.count
    };
    // A rank above the observations in buckets (float error) is clamped; NaN stays.
    let clamp = |r: Option<f64>| match r {
        Some(r) if r <= in_buckets || r.is_nan() => r,
        _ => in_buckets,
    };
    (clamp(upper_rank) - clamp(lower_rank)) / h.count
}

/// `histogram_stdvar(h)`: the estimated variance of the observations around their mean
/// `sum / count`, each bucket's observations taken at one representative value: the
/// geometric mean of its bounds for exponential buckets (negated for negative ones),
/// 0 in the zero bucket, the arithmetic mean of its bounds for custom buckets (an
/// infinite bound makes the result infinite, as in Prometheus).
pub(crate) fn histogram_stdvar(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let custom = h.uses_custom_buckets();
    let mut variance = KahanSum::default();
    for b in all_buckets(h) {
        if b.count == 0.0 {
            continue;
        }
        let value = if custom {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let geometric = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 { -geometric } else { geometric }
        };
        let delta = value - mean;
        variance.add(b.count * delta * delta);
    }
    variance.value() / h.count
}

/// `histogram_stddev(h)`: the square root of [`histogram_stdvar`].
pub(crate) fn histogram_stddev(h: &FloatHistogram) -> f64 {
    histogram_stdvar(h).sqrt()
}

/// Every bucket from the lowest, as Prometheus's `AllBucketIterator` yields them: the
/// zero bucket only when it holds observations (a positive count).
fn all_buckets(h: &FloatHistogram) -> Vec<Bucket> {
    let mut buckets = h.buckets();
    buckets.retain(|b| !is_zero_bucket(b) || b.count > 0.0);
    buckets
}

/// Whether `b` is the zero bucket of [`FloatHistogram::buckets`], the one closed on
/// both sides.
fn is_zero_bucket(b: &Bucket) -> bool {
    b.lower_inclusive && b.upper_inclusive
}

/// A zero bucket next to positive buckets only starts at 0; next to negative buckets
/// only it ends at 0.
fn narrow_zero_bucket(h: &FloatHistogram, b: &mut Bucket) {
    if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
        b.lower = 0.0;
    } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
        b.upper = 0.0;
    }
}

/// Where `v` lies in exponential bucket `b`: from 0 at its lower bound to 1 at its
/// upper bound, on the log scale of the distance from zero.
fn exponential_position(v: f64, b: &Bucket) -> f64 {
    let log_lower = b.lower.abs().log2();
    let log_upper = b.upper.abs().log2();
    let log_v = v.abs().log2();
    if v > 0.0 {
        (log_v - log_lower) / (log_upper - log_lower)
    } else {
        1.0 - (log_v - log_upper) / (log_lower - log_upper)
    }
}

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
