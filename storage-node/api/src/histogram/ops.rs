//! Arithmetic on [`FloatHistogram`]s as Prometheus defines it: sums and differences
//! reconcile schemas (to the lower resolution) and zero buckets (to the wider one);
//! histograms with custom bounds combine only with the same bounds.

use super::{FloatHistogram, ResetHint};

/// Why two histograms cannot be combined, or a histogram is not well formed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HistogramError {
    /// One has exponential buckets, the other custom bounds (Prometheus's
    /// `ErrHistogramsIncompatibleSchema`).
    #[error(
        "cannot apply this operation on histograms with a mix of exponential and custom bucket schemas"
    )]
    IncompatibleSchema,
    /// Both have custom bounds, not the same (`ErrHistogramsIncompatibleBounds`).
    #[error(
        "cannot apply this operation on custom buckets histograms with different custom bounds"
    )]
    IncompatibleBounds,
    #[error("invalid native histogram: {0}")]
    Invalid(String),
}

impl FloatHistogram {
    /// `self += other`. The result has the lower of the two schemas and the wider zero
    /// bucket; the reset hint is reconciled as Prometheus does (a gauge stays a gauge).
    pub fn add(&mut self, other: &FloatHistogram) -> Result<(), HistogramError> {
        self.combine(other, 1.0)
    }

    /// `self -= other`, as [`FloatHistogram::add`].
    pub fn sub(&mut self, other: &FloatHistogram) -> Result<(), HistogramError> {
        self.combine(other, -1.0)
    }

    /// Scales every count and the sum by `factor`.
    pub fn mul(&mut self, factor: f64) {
        self.count *= factor;
        self.sum *= factor;
        self.zero_count *= factor;
        self.positive_buckets.iter_mut().for_each(|b| *b *= factor);
        self.negative_buckets.iter_mut().for_each(|b| *b *= factor);
    }

    /// Divides every count and the sum by `divisor` (by 0: infinities and NaN, as Go).
    pub fn div(&mut self, divisor: f64) {
        self.count /= divisor;
        self.sum /= divisor;
        self.zero_count /= divisor;
        self.positive_buckets.iter_mut().for_each(|b| *b /= divisor);
        self.negative_buckets.iter_mut().for_each(|b| *b /= divisor);
    }

    /// Whether the two can be added or subtracted.
    pub fn compatible(&self, other: &FloatHistogram) -> Result<(), HistogramError> {
        match (self.uses_custom_buckets(), other.uses_custom_buckets()) {
            (true, true) if self.custom_values != other.custom_values => {
                Err(HistogramError::IncompatibleBounds)
            }
            (a, b) if a != b => Err(HistogramError::IncompatibleSchema),
            _ => Ok(()),
        }
    }

    fn combine(&mut self, other: &FloatHistogram, sign: f64) -> Result<(), HistogramError> {
        self.compatible(other)?;
        if sign > 0.0 {
            self.reset_hint = add_hints(self.reset_hint, other.reset_hint);
        }
        let mut other = std::borrow::Cow::Borrowed(other);
        if !self.uses_custom_buckets() {
            if other.schema < self.schema {
                self.reduce_resolution(other.schema);
            } else if other.schema > self.schema {
                other.to_mut().reduce_resolution(self.schema);
            }
            // Both zero buckets widened to the same threshold (widening one may move
            // its threshold to a bucket bound above the other's).
            while self.zero_threshold != other.zero_threshold {
                if self.zero_threshold < other.zero_threshold {
                    self.widen_zero_bucket(other.zero_threshold);
                } else {
                    other.to_mut().widen_zero_bucket(self.zero_threshold);
                }
            }
        }
        self.count += sign * other.count;
        self.sum += sign * other.sum;
        self.zero_count += sign * other.zero_count;
        let positive = merge(self.positive(), other.positive(), sign);
        self.set_positive(positive);
        let negative = merge(self.negative(), other.negative(), sign);
        self.set_negative(negative);
        Ok(())
    }

    /// Merges buckets to the lower resolution `schema` (below the current one): bucket
    /// `i` of schema `s` falls in bucket `((i - 1) >> (s - schema)) + 1`.
    pub fn reduce_resolution(&mut self, schema: i32) {
        if self.uses_custom_buckets() || schema >= self.schema {
            return;
        }
        let shift = self.schema - schema;
        let map = |(i, c): (i32, f64)| (((i - 1) >> shift) + 1, c);
        let positive = merge(self.positive().map(map), std::iter::empty(), 1.0);
        let negative = merge(self.negative().map(map), std::iter::empty(), 1.0);
        self.set_positive(positive);
        self.set_negative(negative);
        self.schema = schema;
    }

    /// Widens the zero bucket to at least `threshold`: buckets whose lower bound lies
    /// below it move into the zero bucket, and the threshold becomes the upper bound of
    /// the last bucket moved when that is higher (Prometheus's widenZeroBucket).
    pub fn widen_zero_bucket(&mut self, threshold: f64) {
        if threshold <= self.zero_threshold || self.uses_custom_buckets() {
            return;
        }
        let mut threshold = threshold;
        loop {
            let before = threshold;
            for (index, _) in self.positive().chain(self.negative()) {
                let (lower, upper) = self.bucket_bounds(index);
                if lower < threshold && upper > threshold {
                    threshold = upper;
                }
            }
            if threshold == before {
                break;
            }
        }
        self.zero_threshold = threshold;
        let mut moved = 0.0;
        let keep = |h: &FloatHistogram, index: i32| h.bucket_bounds(index).1 > threshold;
        let positive: Vec<(i32, f64)> = self.positive().collect();
        let negative: Vec<(i32, f64)> = self.negative().collect();
        let mut kept = |buckets: Vec<(i32, f64)>, h: &FloatHistogram| {
            buckets
                .into_iter()
                .filter(|&(i, c)| {
                    let k = keep(h, i);
                    if !k {
                        moved += c;
                    }
                    k
                })
                .collect::<Vec<_>>()
        };
        let positive = kept(positive, self);
        let negative = kept(negative, self);
        self.zero_count += moved;
        self.set_positive(positive);
        self.set_negative(negative);
    }

    /// Drops buckets of count zero (Prometheus's `Compact(0)`): the layout holds only
    /// populated buckets.
    pub fn compact(&mut self) {
        let positive: Vec<(i32, f64)> = self.positive().filter(|b| b.1 != 0.0).collect();
        let negative: Vec<(i32, f64)> = self.negative().filter(|b| b.1 != 0.0).collect();
        self.set_positive(positive);
        self.set_negative(negative);
    }
}

/// Whether `current` follows a counter reset after `previous` (Prometheus's
/// `DetectReset`): its hint when it says so; else any count going down, a finer schema,
/// a narrower zero bucket or other custom bounds. Gauge histograms never reset.
pub fn detect_reset(previous: &FloatHistogram, current: &FloatHistogram) -> bool {
    match current.reset_hint {
        ResetHint::CounterReset => return true,
        ResetHint::NotCounterReset | ResetHint::Gauge => return false,
        ResetHint::Unknown => {}
    }
    if current.count < previous.count {
        return true;
    }
    if previous.uses_custom_buckets() != current.uses_custom_buckets() {
        return true;
    }
    if current.uses_custom_buckets() {
        if current.custom_values != previous.custom_values {
            return true;
        }
    } else {
        if current.schema > previous.schema {
            return true;
        }
        if current.zero_threshold < previous.zero_threshold {
            return true;
        }
    }
    // Compare at the current (lower or equal) schema and zero threshold.
    let mut prev = previous.clone();
    if !current.uses_custom_buckets() {
        prev.reduce_resolution(current.schema);
        if prev.zero_threshold < current.zero_threshold {
            prev.widen_zero_bucket(current.zero_threshold);
        }
        if prev.zero_threshold != current.zero_threshold {
            // The previous zero bucket had to grow past this one's: counts moved in.
            return true;
        }
    }
    if current.zero_count < prev.zero_count {
        return true;
    }
    decreased(prev.positive(), current.positive()) || decreased(prev.negative(), current.negative())
}

/// Whether any bucket of `previous` holds more than the same bucket of `current`.
fn decreased(
    previous: impl Iterator<Item = (i32, f64)>,
    current: impl Iterator<Item = (i32, f64)>,
) -> bool {
    let mut current = current.peekable();
    for (index, count) in previous {
        while current.next_if(|&(i, _)| i < index).is_some() {}
        let now = match current.peek() {
            Some(&(i, c)) if i == index => c,
            _ => 0.0,
        };
        if now < count {
            return true;
        }
    }
    false
}

/// Prometheus's reconciliation of reset hints on addition.
fn add_hints(a: ResetHint, b: ResetHint) -> ResetHint {
    match (a, b) {
        (a, b) if a == b => a,
        (ResetHint::Gauge, _) | (_, ResetHint::Gauge) => ResetHint::Gauge,
        _ => ResetHint::Unknown,
    }
}

/// `a + sign * b` bucket by bucket, both in increasing index order; a bucket index may
/// repeat within `a` (after a schema reduction), and its counts add up.
fn merge(
    a: impl Iterator<Item = (i32, f64)>,
    b: impl Iterator<Item = (i32, f64)>,
    sign: f64,
) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = Vec::new();
    let mut push = |index: i32, count: f64| match out.last_mut() {
        Some(last) if last.0 == index => last.1 += count,
        _ => out.push((index, count)),
    };
    let mut a = a.peekable();
    let mut b = b.peekable();
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (Some(x), Some(y)) if x.0 <= y.0 => {
                push(x.0, x.1);
                a.next();
            }
            (_, Some(y)) => {
                push(y.0, sign * y.1);
                b.next();
            }
            (Some(x), None) => {
                push(x.0, x.1);
                a.next();
            }
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::histogram::CUSTOM_BUCKETS_SCHEMA;

    fn h(schema: i32, zero: (f64, f64), positive: &[(i32, f64)]) -> FloatHistogram {
        let mut out = FloatHistogram {
            schema,
            zero_threshold: zero.0,
            zero_count: zero.1,
            count: zero.1 + positive.iter().map(|b| b.1).sum::<f64>(),
            sum: 10.0,
            ..FloatHistogram::default()
        };
        out.set_positive(positive.iter().copied());
        out
    }

    #[test]
    fn sums_reduce_to_the_lower_schema() {
        let mut a = h(1, (0.0, 0.0), &[(1, 1.0), (2, 2.0), (3, 3.0)]);
        let b = h(0, (0.0, 0.0), &[(1, 5.0)]);
        a.add(&b).unwrap();
        assert_eq!(a.schema, 0);
        // Schema 1 buckets 1, 2 fall in schema 0 bucket 1; bucket 3 in bucket 2.
        assert_eq!(a.positive().collect::<Vec<_>>(), vec![(1, 8.0), (2, 3.0)]);
        assert_eq!(a.count, 11.0);
        assert_eq!(a.sum, 20.0);
    }

    #[test]
    fn zero_buckets_widen_to_the_wider_one() {
        // Threshold 0.6 lies inside schema-0 bucket 0 (0.5, 1]: it widens to 1.
        let mut a = h(0, (0.1, 1.0), &[(0, 2.0), (1, 3.0)]);
        let b = h(0, (0.6, 4.0), &[(2, 1.0)]);
        a.add(&b).unwrap();
        assert_eq!(a.zero_threshold, 1.0);
        assert_eq!(a.zero_count, 7.0);
        assert_eq!(a.positive().collect::<Vec<_>>(), vec![(1, 3.0), (2, 1.0)]);
    }

    #[test]
    fn custom_bounds_must_match() {
        let mut a = h(CUSTOM_BUCKETS_SCHEMA, (0.0, 0.0), &[(0, 1.0)]);
        a.custom_values = vec![1.0, 2.0];
        let mut b = a.clone();
        b.custom_values = vec![1.0, 3.0];
        assert_eq!(a.clone().add(&b), Err(HistogramError::IncompatibleBounds));
        let c = h(0, (0.0, 0.0), &[(0, 1.0)]);
        assert_eq!(a.clone().add(&c), Err(HistogramError::IncompatibleSchema));
        let same = a.clone();
        a.add(&same).unwrap();
        assert_eq!(a.positive().collect::<Vec<_>>(), vec![(0, 2.0)]);
    }

    #[test]
    fn resets_are_detected() {
        let prev = h(1, (0.0, 1.0), &[(1, 2.0), (2, 3.0)]);
        let grown = h(1, (0.0, 1.0), &[(1, 2.0), (2, 4.0), (5, 1.0)]);
        assert!(!detect_reset(&prev, &grown));
        let bucket_down = h(1, (0.0, 1.0), &[(1, 1.0), (2, 9.0)]);
        assert!(detect_reset(&prev, &bucket_down));
        let finer = h(2, (0.0, 1.0), &[(1, 2.0), (2, 3.0)]);
        assert!(detect_reset(&prev, &finer));
        // A coarser schema is no reset when the merged buckets did not shrink.
        let coarser = h(0, (0.0, 1.0), &[(1, 5.0)]);
        assert!(!detect_reset(&prev, &coarser));
        let mut gauge = bucket_down.clone();
        gauge.reset_hint = ResetHint::Gauge;
        assert!(!detect_reset(&prev, &gauge));
        let mut hinted = grown.clone();
        hinted.reset_hint = ResetHint::CounterReset;
        assert!(detect_reset(&prev, &hinted));
    }

    fn arb() -> impl Strategy<Value = FloatHistogram> {
        (
            0..3i32,
            proptest::collection::btree_map(-20..20i32, 0..100u32, 0..12),
        )
            .prop_map(|(schema, buckets)| {
                let b: Vec<(i32, f64)> = buckets.into_iter().map(|(i, c)| (i, c as f64)).collect();
                h(schema, (0.0, 0.0), &b)
            })
    }

    proptest! {
        #[test]
        fn adding_then_subtracting_gives_back_the_counts(a in arb(), b in arb()) {
            let schema = a.schema.min(b.schema);
            let mut sum = a.clone();
            sum.add(&b).unwrap();
            prop_assert_eq!(sum.count, a.count + b.count);
            let total: f64 = sum.positive_buckets.iter().sum();
            prop_assert_eq!(total, sum.count);
            sum.sub(&b).unwrap();
            let mut expected = a.clone();
            expected.reduce_resolution(schema);
            sum.compact();
            expected.compact();
            prop_assert_eq!(sum.positive_buckets, expected.positive_buckets);
            prop_assert_eq!(sum.positive_spans, expected.positive_spans);
        }

        #[test]
        fn a_sum_is_no_reset_after_its_parts(a in arb(), b in arb()) {
            let mut sum = a.clone();
            sum.add(&b).unwrap();
            prop_assert!(!detect_reset(&a, &sum));
        }
    }
}
