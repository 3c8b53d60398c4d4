//! Native histograms: [`FloatHistogram`], the one in-memory form every component uses
//! (ingest, storage, rollups, PromQL), with Prometheus's semantics (its
//! `model/histogram.FloatHistogram`): absolute bucket counts over exponential buckets of
//! schema -4..=8, or custom bucket bounds (schema [`CUSTOM_BUCKETS_SCHEMA`], NHCB).
//!
//! - this file: the type, bucket indexes and bounds, iteration, the wire message;
//! - [`text`]: equality and the text form (Prometheus's `Equals` and `String`);
//! - [`ops`]: arithmetic (add, subtract, scale), schema reduction, zero-bucket
//!   reconciliation, compaction and counter-reset detection;
//! - [`rollup`]: rollup points of histogram series (last, increase, sum per bucket);
//! - [`validate`]: Prometheus's checks of the counts of a sample before it is stored;
//! - [`text`]: Prometheus's text form (`{count:…, sum:…, [a,b):n}`) and exact equality.
//!
//! The chunk encoding lives with the other chunks ([`crate::chunk::histograms`]).

mod bounds;
pub mod ops;
pub mod rollup;
/// Prometheus's text form of a histogram and its exact comparison.
pub mod text;
/// The count checks of a sample before it is stored.
pub mod validate;

use crate::pb;

pub use ops::{HistogramError, detect_reset};

/// The schema of histograms with custom bucket bounds (Prometheus's NHCB).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;
/// The exponential schemas: bucket bounds are powers of `2^(2^-schema)`.
pub const MIN_EXPONENTIAL_SCHEMA: i32 = -4;
pub const MAX_EXPONENTIAL_SCHEMA: i32 = 8;
/// The zero threshold Prometheus's client libraries use by default (2^-128).
pub const DEFAULT_ZERO_THRESHOLD: f64 = 2.938735877055719e-39;

/// Whether a counter reset happened just before a sample (Prometheus's
/// `CounterResetHint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum ResetHint {
    /// Not known: found by comparing with the previous sample ([`detect_reset`]).
    #[default]
    Unknown,
    CounterReset,
    NotCounterReset,
    /// A gauge histogram: counts may go down; never a counter reset.
    Gauge,
}

impl ResetHint {
    /// Its number in the wire message and in chunks.
    pub fn code(self) -> u8 {
        match self {
            ResetHint::Unknown => 0,
            ResetHint::CounterReset => 1,
            ResetHint::NotCounterReset => 2,
            ResetHint::Gauge => 3,
        }
    }

    /// The hint numbered `code` (unknown numbers read as [`ResetHint::Unknown`]).
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => ResetHint::CounterReset,
            2 => ResetHint::NotCounterReset,
            3 => ResetHint::Gauge,
            _ => ResetHint::Unknown,
        }
    }
}

/// A run of consecutive buckets: `offset` is the gap from the end of the previous span
/// (for the first span, the index of its first bucket), `length` buckets follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    pub offset: i32,
    pub length: u32,
}

/// One native histogram sample, counts absolute (Prometheus's `FloatHistogram`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    pub reset_hint: ResetHint,
    pub schema: i32,
    pub zero_threshold: f64,
    pub zero_count: f64,
    pub count: f64,
    pub sum: f64,
    pub positive_spans: Vec<Span>,
    pub positive_buckets: Vec<f64>,
    pub negative_spans: Vec<Span>,
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of the buckets but the last (+Inf), for [`CUSTOM_BUCKETS_SCHEMA`];
    /// empty otherwise.
    pub custom_values: Vec<f64>,
}

/// One bucket: observations in `(lower, upper]` for positive buckets, `[lower, upper)`
/// for negative ones, `[lower, upper]` for the zero bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub lower: f64,
    pub upper: f64,
    pub count: f64,
    /// Bucket index (the zero bucket: 0, not meaningful).
    pub index: i32,
    pub lower_inclusive: bool,
    pub upper_inclusive: bool,
}

impl FloatHistogram {
    /// Whether the schema has custom bucket bounds.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Whether the sample is the staleness marker (a sum of the staleness NaN).
    pub fn is_stale(&self) -> bool {
        telltale_model::is_stale_nan(self.sum)
    }

    /// The staleness marker of a histogram series.
    pub fn stale_marker() -> Self {
        FloatHistogram {
            sum: f64::from_bits(telltale_model::STALE_NAN_BITS),
            ..FloatHistogram::default()
        }
    }

    /// Whether every count is a whole number (the histogram is an integer histogram of
    /// Prometheus, and chunks store its counts as integers).
    pub fn is_integral(&self) -> bool {
        const MAX_EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        let whole = |v: f64| (0.0..=MAX_EXACT).contains(&v) && v.fract() == 0.0;
        whole(self.count)
            && whole(self.zero_count)
            && self.positive_buckets.iter().all(|&v| whole(v))
            && self.negative_buckets.iter().all(|&v| whole(v))
    }

    /// The positive buckets with a count, as `(index, count)` in index order.
    pub fn positive(&self) -> impl Iterator<Item = (i32, f64)> + '_ {
        indexed(&self.positive_spans, &self.positive_buckets)
    }

    /// The negative buckets, as `(index, count)` in index order (index order is the
    /// order of increasing distance from zero).
    pub fn negative(&self) -> impl Iterator<Item = (i32, f64)> + '_ {
        indexed(&self.negative_spans, &self.negative_buckets)
    }

    /// Every bucket with its bounds, from the lowest: negative buckets (most negative
    /// first), the zero bucket (when it holds a count, as Prometheus's bucket
    /// iterators), positive buckets. Other buckets of count 0 are included when the
    /// layout holds them.
    pub fn buckets(&self) -> Vec<Bucket> {
        let mut out =
            Vec::with_capacity(self.positive_buckets.len() + self.negative_buckets.len() + 1);
        let neg: Vec<(i32, f64)> = self.negative().collect();
        for &(index, count) in neg.iter().rev() {
            let (lo, hi) = self.bucket_bounds(index);
            out.push(Bucket {
                lower: -hi,
                upper: -lo,
                count,
                index,
                lower_inclusive: true,
                upper_inclusive: false,
            });
        }
        if !self.uses_custom_buckets() && self.zero_count != 0.0 {
            out.push(self.zero_bucket());
        }
        for (index, count) in self.positive() {
            let (lower, upper) = self.bucket_bounds(index);
            out.push(Bucket {
                lower,
                upper,
                count,
                index,
                lower_inclusive: false,
                upper_inclusive: true,
            });
        }
        out
    }

    /// The zero bucket `[-threshold, threshold]`.
    pub fn zero_bucket(&self) -> Bucket {
        Bucket {
            lower: -self.zero_threshold,
            upper: self.zero_threshold,
            count: self.zero_count,
            index: 0,
            lower_inclusive: true,
            upper_inclusive: true,
        }
    }

    /// The bounds `(lower, upper)` of positive bucket `index` (absolute values for a
    /// negative bucket).
    pub fn bucket_bounds(&self, index: i32) -> (f64, f64) {
        if self.uses_custom_buckets() {
            let n = self.custom_values.len() as i64;
            let i = index as i64;
            let lower = if i <= 0 {
                f64::NEG_INFINITY
            } else {
                self.custom_values
                    .get(i as usize - 1)
                    .copied()
                    .unwrap_or(f64::INFINITY)
            };
            let upper = if i >= n {
                f64::INFINITY
            } else if i < 0 {
                f64::NEG_INFINITY
            } else {
                self.custom_values[i as usize]
            };
            return (lower, upper);
        }
        let lower = exponential_bound(index - 1, self.schema);
        let upper = exponential_bound(index, self.schema);
        // The lowest bucket above the zero bucket starts at the threshold (as
        // Prometheus's bucket iterator: only a lower bound between 0 and it is raised).
        if lower > 0.0 && lower < self.zero_threshold {
            (self.zero_threshold, upper)
        } else {
            (lower, upper)
        }
    }

    /// Number of buckets held by the layout (positive and negative).
    pub fn bucket_count(&self) -> usize {
        self.positive_buckets.len() + self.negative_buckets.len()
    }

    /// Checks the sample's shape: spans and buckets agree, the schema is valid, custom
    /// bounds increase; counts are not checked against each other.
    pub fn validate(&self) -> Result<(), HistogramError> {
        if self.uses_custom_buckets() {
            if !self.negative_spans.is_empty() || !self.negative_buckets.is_empty() {
                return Err(HistogramError::Invalid(
                    "a histogram with custom buckets has negative buckets".into(),
                ));
            }
            if self
                .custom_values
                .windows(2)
                .any(|w| w[0].partial_cmp(&w[1]) != Some(std::cmp::Ordering::Less))
            {
                return Err(HistogramError::Invalid(
                    "custom bucket bounds do not increase".into(),
                ));
            }
            if self
                .custom_values
                .iter()
                .any(|v| v.is_nan() || *v == f64::INFINITY)
            {
                return Err(HistogramError::Invalid(
                    "custom bucket bounds hold NaN or +Inf".into(),
                ));
            }
        } else {
            if !(MIN_EXPONENTIAL_SCHEMA..=MAX_EXPONENTIAL_SCHEMA).contains(&self.schema) {
                return Err(HistogramError::Invalid(format!(
                    "schema {} is not between {MIN_EXPONENTIAL_SCHEMA} and {MAX_EXPONENTIAL_SCHEMA}",
                    self.schema
                )));
            }
            if !self.custom_values.is_empty() {
                return Err(HistogramError::Invalid(
                    "an exponential histogram has custom bucket bounds".into(),
                ));
            }
            if self.zero_threshold.is_nan() || self.zero_threshold < 0.0 {
                return Err(HistogramError::Invalid("negative zero threshold".into()));
            }
        }
        check_spans(
            "positive",
            &self.positive_spans,
            self.positive_buckets.len(),
        )?;
        check_spans(
            "negative",
            &self.negative_spans,
            self.negative_buckets.len(),
        )?;
        if self.uses_custom_buckets() {
            let n = self.custom_values.len() as i64;
            if let Some((index, _)) = self.positive().find(|&(i, _)| i < 0 || i as i64 > n) {
                return Err(HistogramError::Invalid(format!(
                    "bucket {index} is outside the {} custom buckets",
                    n + 1
                )));
            }
        }
        Ok(())
    }

    /// The wire message of this sample at `timestamp_ms`.
    pub fn to_proto(&self, timestamp_ms: i64) -> pb::Histogram {
        pb::Histogram {
            timestamp_ms,
            reset_hint: self.reset_hint.code() as i32,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count,
            count: self.count,
            sum: self.sum,
            positive_spans: self.positive_spans.iter().map(span_to_proto).collect(),
            positive_buckets: self.positive_buckets.clone(),
            negative_spans: self.negative_spans.iter().map(span_to_proto).collect(),
            negative_buckets: self.negative_buckets.clone(),
            custom_values: self.custom_values.clone(),
        }
    }

    /// The sample a wire message holds, checked ([`FloatHistogram::validate`]).
    pub fn from_proto(h: &pb::Histogram) -> Result<Self, HistogramError> {
        let out = FloatHistogram {
            reset_hint: ResetHint::from_code(h.reset_hint.clamp(0, 3) as u8),
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            zero_count: h.zero_count,
            count: h.count,
            sum: h.sum,
            positive_spans: h.positive_spans.iter().map(span_from_proto).collect(),
            positive_buckets: h.positive_buckets.clone(),
            negative_spans: h.negative_spans.iter().map(span_from_proto).collect(),
            negative_buckets: h.negative_buckets.clone(),
            custom_values: h.custom_values.clone(),
        };
        out.validate()?;
        Ok(out)
    }

    /// A histogram of the given buckets, `(index, count)` in increasing index order,
    /// spans rebuilt from the indexes (consecutive indexes share a span).
    pub fn set_positive(&mut self, buckets: impl IntoIterator<Item = (i32, f64)>) {
        let (spans, counts) = spans_of(buckets);
        self.positive_spans = spans;
        self.positive_buckets = counts;
    }

    /// As [`FloatHistogram::set_positive`], for the negative buckets.
    pub fn set_negative(&mut self, buckets: impl IntoIterator<Item = (i32, f64)>) {
        let (spans, counts) = spans_of(buckets);
        self.negative_spans = spans;
        self.negative_buckets = counts;
    }
}

/// `2^(index / 2^schema)`: the upper bound of exponential bucket `index`.
pub fn exponential_bound(index: i32, schema: i32) -> f64 {
    if !(MIN_EXPONENTIAL_SCHEMA..=MAX_EXPONENTIAL_SCHEMA).contains(&schema) {
        // Refused by validation; computed rather than read from the table.
        return (index as f64 / 2f64.powi(schema)).exp2();
    }
    if schema < 0 {
        // Each bucket spans 2^(2^-schema): exact powers of two.
        let exp = (index as i64) << (-schema);
        if exp == 1024 {
            return f64::MAX;
        }
        if exp > 1024 {
            return f64::INFINITY;
        }
        if exp < -1074 {
            return 0.0;
        }
        return 2f64.powi(exp as i32);
    }
    // Prometheus's getBound: the fraction from its table and the exponent.
    let frac_idx = (index & ((1 << schema) - 1)) as usize;
    let frac = bounds::fraction(frac_idx, schema);
    let exp = (index >> schema) as i64 + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// `(mantissa, exponent)` with `x = mantissa * 2^exponent`, mantissa in [0.5, 1).
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        let (m, e) = frexp(x * 2f64.powi(64));
        return (m, e - 64);
    }
    let mantissa = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (mantissa, exp - 1022)
}

/// `mantissa * 2^exp`, saturating to infinity or zero.
fn ldexp(mantissa: f64, exp: i64) -> f64 {
    if exp > 1100 {
        return f64::INFINITY * mantissa.signum();
    }
    if exp < -1100 {
        return 0.0;
    }
    let exp = exp as i32;
    // Two steps keep the intermediate power representable.
    let half = exp / 2;
    mantissa * 2f64.powi(half) * 2f64.powi(exp - half)
}

/// The bucket index of `value` (positive, above the zero bucket) in `schema`.
pub fn bucket_index(value: f64, schema: i32) -> i32 {
    if !(MIN_EXPONENTIAL_SCHEMA..=MAX_EXPONENTIAL_SCHEMA).contains(&schema) {
        // Refused by validation; computed rather than looked up.
        return (value.log2() * 2f64.powi(schema))
            .ceil()
            .clamp(i32::MIN as f64, i32::MAX as f64) as i32;
    }
    let (frac, exp) = frexp(value);
    if schema > 0 {
        let n = 1usize << schema;
        // The first bound at or above frac (client_golang's sort.SearchFloat64s over the
        // same table).
        let i = (0..n)
            .find(|&i| bounds::fraction(i, schema) >= frac)
            .unwrap_or(n);
        return i as i32 + (exp - 1) * n as i32;
    }
    let mut key = exp;
    if frac == 0.5 {
        key -= 1;
    }
    if schema < 0 {
        let div = 1 << -schema;
        key = (key + div - 1).div_euclid(div);
    }
    key
}

fn indexed<'a>(spans: &'a [Span], buckets: &'a [f64]) -> impl Iterator<Item = (i32, f64)> + 'a {
    let mut index = 0i32;
    let mut first = true;
    spans
        .iter()
        .flat_map(move |span| {
            let start = if first {
                first = false;
                span.offset
            } else {
                index.saturating_add(span.offset)
            };
            index = start.saturating_add(span.length as i32);
            (0..span.length as i32).map(move |k| start + k)
        })
        .zip(buckets.iter().copied())
}

/// Spans and counts of `(index, count)` pairs in increasing index order.
pub fn spans_of(buckets: impl IntoIterator<Item = (i32, f64)>) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::new();
    let mut next: Option<i32> = None;
    for (index, count) in buckets {
        match next {
            Some(n) if n == index => spans.last_mut().expect("a span is open").length += 1,
            Some(n) => spans.push(Span {
                offset: index - n,
                length: 1,
            }),
            None => spans.push(Span {
                offset: index,
                length: 1,
            }),
        }
        next = Some(index + 1);
        counts.push(count);
    }
    (spans, counts)
}

fn check_spans(which: &str, spans: &[Span], buckets: usize) -> Result<(), HistogramError> {
    let held: u64 = spans.iter().map(|s| s.length as u64).sum();
    if held != buckets as u64 {
        return Err(HistogramError::Invalid(format!(
            "{which} spans hold {held} buckets, {buckets} counts given"
        )));
    }
    if spans.iter().skip(1).any(|s| s.offset < 0) {
        return Err(HistogramError::Invalid(format!(
            "{which} spans overlap (negative offset)"
        )));
    }
    Ok(())
}

fn span_to_proto(s: &Span) -> pb::BucketSpan {
    pb::BucketSpan {
        offset: s.offset,
        length: s.length,
    }
}

fn span_from_proto(s: &pb::BucketSpan) -> Span {
    Span {
        offset: s.offset,
        length: s.length,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(schema: i32, positive: &[(i32, f64)]) -> FloatHistogram {
        let mut out = FloatHistogram {
            schema,
            count: positive.iter().map(|b| b.1).sum(),
            ..FloatHistogram::default()
        };
        out.set_positive(positive.iter().copied());
        out
    }

    #[test]
    fn bounds_follow_the_schema() {
        assert_eq!(exponential_bound(0, 0), 1.0);
        assert_eq!(exponential_bound(1, 0), 2.0);
        assert_eq!(exponential_bound(-1, 0), 0.5);
        assert_eq!(exponential_bound(2, 1), 2.0);
        assert!((exponential_bound(1, 1) - std::f64::consts::SQRT_2).abs() < 1e-15);
        assert_eq!(exponential_bound(1, -1), 4.0);
        assert_eq!(exponential_bound(1, -2), 16.0);
        for schema in -4..=8 {
            for index in -50..50 {
                let upper = exponential_bound(index, schema);
                assert_eq!(bucket_index(upper, schema), index, "{index} at {schema}");
                let mid = (exponential_bound(index - 1, schema) + upper) / 2.0;
                assert_eq!(
                    bucket_index(mid, schema),
                    index,
                    "mid of {index} at {schema}"
                );
            }
        }
    }

    #[test]
    fn spans_are_rebuilt_from_indexes() {
        let x = h(0, &[(-2, 1.0), (-1, 2.0), (3, 4.0), (4, 0.0), (9, 1.0)]);
        assert_eq!(
            x.positive_spans,
            vec![
                Span {
                    offset: -2,
                    length: 2
                },
                Span {
                    offset: 3,
                    length: 2
                },
                Span {
                    offset: 4,
                    length: 1
                }
            ]
        );
        assert_eq!(
            x.positive().collect::<Vec<_>>(),
            vec![(-2, 1.0), (-1, 2.0), (3, 4.0), (4, 0.0), (9, 1.0)]
        );
        x.validate().unwrap();
    }

    #[test]
    fn wire_message_round_trips_and_bad_shapes_are_refused() {
        let mut x = h(3, &[(0, 1.0), (1, 5.0), (7, 2.0)]);
        x.set_negative([(2, 3.0)]);
        x.zero_count = 2.0;
        x.zero_threshold = 0.001;
        x.sum = 12.5;
        x.reset_hint = ResetHint::NotCounterReset;
        let back = FloatHistogram::from_proto(&x.to_proto(7)).unwrap();
        assert_eq!(back, x);

        let mut bad = x.to_proto(0);
        bad.positive_buckets.pop();
        assert!(FloatHistogram::from_proto(&bad).is_err());
        let mut bad = x.to_proto(0);
        bad.schema = 9;
        assert!(FloatHistogram::from_proto(&bad).is_err());
        let mut custom = h(CUSTOM_BUCKETS_SCHEMA, &[(0, 1.0), (2, 1.0)]);
        custom.custom_values = vec![1.0, 5.0];
        custom.validate().unwrap();
        custom.custom_values = vec![5.0, 1.0];
        assert!(custom.validate().is_err());
        custom.custom_values = vec![1.0];
        assert!(custom.validate().is_err(), "bucket 2 of 2 buckets");
    }

    #[test]
    fn custom_bucket_bounds() {
        let mut x = h(CUSTOM_BUCKETS_SCHEMA, &[(0, 1.0), (1, 1.0), (2, 1.0)]);
        x.custom_values = vec![0.5, 2.0];
        let b = x.buckets();
        assert_eq!(
            b.iter().map(|b| (b.lower, b.upper)).collect::<Vec<_>>(),
            vec![(f64::NEG_INFINITY, 0.5), (0.5, 2.0), (2.0, f64::INFINITY)]
        );
    }

    #[test]
    fn integral_and_stale() {
        assert!(h(0, &[(1, 3.0)]).is_integral());
        assert!(!h(0, &[(1, 0.5)]).is_integral());
        assert!(FloatHistogram::stale_marker().is_stale());
        assert!(!h(0, &[]).is_stale());
    }
}
