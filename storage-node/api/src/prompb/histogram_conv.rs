//! [`Histogram`] (remote write's native histogram message) to and from
//! [`FloatHistogram`]: integer histograms carry their bucket counts as deltas (each
//! bucket's count minus the previous bucket's, the first against zero) with integer
//! counts, float histograms absolute float counts. The reset hints share their numbers.

use super::{BucketSpan, Histogram, histogram as h};
use crate::histogram::{FloatHistogram, HistogramError, ResetHint, Span};

impl Histogram {
    /// Whether the sample is a float histogram (its count is `count_float`).
    pub fn is_float(&self) -> bool {
        matches!(self.count, Some(h::Count::CountFloat(_)))
    }

    /// The sample as a [`FloatHistogram`], checked as Prometheus checks it before
    /// storing ([`FloatHistogram::validate_counts`]): spans that hold as many buckets
    /// as counts given, no negative count, an integer histogram's count equal to its
    /// buckets' (at least them for a NaN sum), valid schema and custom bounds.
    pub fn to_float_histogram(&self) -> Result<FloatHistogram, HistogramError> {
        let float = self.is_float();
        let (count, zero_count, positive, negative) = if float {
            let count = match self.count {
                Some(h::Count::CountFloat(c)) => c,
                _ => 0.0,
            };
            let zero = match self.zero_count {
                Some(h::ZeroCount::ZeroCountFloat(c)) => c,
                _ => 0.0,
            };
            (
                count,
                zero,
                self.positive_counts.clone(),
                self.negative_counts.clone(),
            )
        } else {
            let count = match self.count {
                Some(h::Count::CountInt(c)) => c as f64,
                _ => 0.0,
            };
            let zero = match self.zero_count {
                Some(h::ZeroCount::ZeroCountInt(c)) => c as f64,
                _ => 0.0,
            };
            (
                count,
                zero,
                absolute("positive", &self.positive_deltas)?,
                absolute("negative", &self.negative_deltas)?,
            )
        };
        let out = FloatHistogram {
            reset_hint: ResetHint::from_code(self.reset_hint.clamp(0, 3) as u8),
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count,
            count,
            sum: self.sum,
            positive_spans: self.positive_spans.iter().map(span).collect(),
            positive_buckets: positive,
            negative_spans: self.negative_spans.iter().map(span).collect(),
            negative_buckets: negative,
            custom_values: self.custom_values.clone(),
        };
        out.validate_counts(!float)?;
        Ok(out)
    }

    /// The message of `hist` at `timestamp_ms`: an integer histogram (deltas) when every
    /// count is a whole number ([`FloatHistogram::is_integral`]) and the count agrees
    /// with the buckets as an integer histogram's must, else a float one.
    pub fn from_float_histogram(hist: &FloatHistogram, timestamp_ms: i64) -> Histogram {
        let spans = |s: &[Span]| {
            s.iter()
                .map(|s| BucketSpan {
                    offset: s.offset,
                    length: s.length,
                })
                .collect::<Vec<_>>()
        };
        let mut out = Histogram {
            sum: hist.sum,
            schema: hist.schema,
            zero_threshold: hist.zero_threshold,
            negative_spans: spans(&hist.negative_spans),
            positive_spans: spans(&hist.positive_spans),
            reset_hint: hist.reset_hint.code() as i32,
            timestamp: timestamp_ms,
            custom_values: hist.custom_values.clone(),
            ..Histogram::default()
        };
        if hist.is_integral() && hist.validate_counts(true).is_ok() {
            out.count = Some(h::Count::CountInt(hist.count as u64));
            out.zero_count = Some(h::ZeroCount::ZeroCountInt(hist.zero_count as u64));
            out.positive_deltas = deltas(&hist.positive_buckets);
            out.negative_deltas = deltas(&hist.negative_buckets);
        } else {
            out.count = Some(h::Count::CountFloat(hist.count));
            out.zero_count = Some(h::ZeroCount::ZeroCountFloat(hist.zero_count));
            out.positive_counts = hist.positive_buckets.clone();
            out.negative_counts = hist.negative_buckets.clone();
        }
        out
    }
}

/// Absolute counts of delta-encoded buckets; a running count below zero or past `i64`
/// is refused.
fn absolute(side: &str, deltas: &[i64]) -> Result<Vec<f64>, HistogramError> {
    let mut count: i64 = 0;
    let mut out = Vec::with_capacity(deltas.len());
    for (i, d) in deltas.iter().enumerate() {
        count = count.checked_add(*d).ok_or_else(|| {
            HistogramError::Invalid(format!("{side} bucket #{i}: the count overflows"))
        })?;
        if count < 0 {
            return Err(HistogramError::Invalid(format!(
                "{side} bucket #{i} has a negative observation count ({count})"
            )));
        }
        out.push(count as f64);
    }
    Ok(out)
}

/// Delta encoding of whole-number counts.
fn deltas(counts: &[f64]) -> Vec<i64> {
    let mut previous = 0i64;
    counts
        .iter()
        .map(|&c| {
            let c = c as i64;
            let d = c - previous;
            previous = c;
            d
        })
        .collect()
}

fn span(s: &BucketSpan) -> Span {
    Span {
        offset: s.offset,
        length: s.length,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::histogram::CUSTOM_BUCKETS_SCHEMA;

    fn int_histogram() -> Histogram {
        Histogram {
            count: Some(h::Count::CountInt(8)),
            sum: 12.5,
            schema: 1,
            zero_threshold: 0.001,
            zero_count: Some(h::ZeroCount::ZeroCountInt(1)),
            negative_spans: vec![BucketSpan {
                offset: 0,
                length: 1,
            }],
            negative_deltas: vec![2],
            positive_spans: vec![
                BucketSpan {
                    offset: -1,
                    length: 2,
                },
                BucketSpan {
                    offset: 3,
                    length: 1,
                },
            ],
            positive_deltas: vec![1, 2, -2],
            reset_hint: h::ResetHint::No as i32,
            timestamp: 5,
            ..Histogram::default()
        }
    }

    #[test]
    fn integer_histograms_are_decoded_from_deltas_and_encoded_back() {
        let got = int_histogram().to_float_histogram().unwrap();
        assert_eq!(
            got.positive().collect::<Vec<_>>(),
            [(-1, 1.0), (0, 3.0), (4, 1.0)]
        );
        assert_eq!(got.negative().collect::<Vec<_>>(), [(0, 2.0)]);
        assert_eq!((got.count, got.zero_count, got.sum), (8.0, 1.0, 12.5));
        assert_eq!(got.reset_hint, ResetHint::NotCounterReset);
        assert_eq!(Histogram::from_float_histogram(&got, 5), int_histogram());
    }

    #[test]
    fn float_and_custom_bucket_histograms() {
        let f = Histogram {
            count: Some(h::Count::CountFloat(2.5)),
            sum: 1.0,
            schema: CUSTOM_BUCKETS_SCHEMA,
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 3,
            }],
            positive_counts: vec![0.5, 1.5, 0.5],
            custom_values: vec![0.1, 1.0],
            reset_hint: h::ResetHint::Gauge as i32,
            ..Histogram::default()
        };
        let got = f.to_float_histogram().unwrap();
        assert_eq!(got.positive_buckets, [0.5, 1.5, 0.5]);
        assert_eq!(got.custom_values, [0.1, 1.0]);
        assert_eq!(got.reset_hint, ResetHint::Gauge);
        let back = Histogram::from_float_histogram(&got, 0);
        assert!(back.is_float());
        assert_eq!(back.to_float_histogram().unwrap(), got);
    }

    #[test]
    fn bad_histograms_are_refused_with_the_reason() {
        let check = |mutate: &dyn Fn(&mut Histogram), wanted: &str| {
            let mut x = int_histogram();
            mutate(&mut x);
            let e = x.to_float_histogram().unwrap_err().to_string();
            assert!(e.contains(wanted), "{e} lacks {wanted}");
        };
        check(
            &|x| x.positive_deltas.pop().map(drop).unwrap_or(()),
            "spans hold",
        );
        check(&|x| x.positive_deltas[0] = -1, "negative observation count");
        check(
            &|x| x.count = Some(h::Count::CountInt(7)),
            "observations found",
        );
        check(&|x| x.schema = 9, "schema 9");
        check(
            &|x| {
                x.schema = CUSTOM_BUCKETS_SCHEMA;
                x.negative_spans.clear();
                x.negative_deltas.clear();
                x.zero_count = None;
                x.zero_threshold = 0.0;
                x.count = Some(h::Count::CountInt(4));
                x.custom_values = vec![2.0, 1.0];
            },
            "do not increase",
        );
        check(&|x| x.positive_deltas[0] = i64::MAX, "overflows");
    }

    proptest! {
        #[test]
        fn arbitrary_messages_never_panic(
            schema in -60i32..12,
            offsets in proptest::collection::vec(-5i32..5, 0..4),
            lengths in proptest::collection::vec(0u32..4, 0..4),
            deltas in proptest::collection::vec(any::<i64>(), 0..8),
            counts in proptest::collection::vec(any::<f64>(), 0..8),
            count in any::<u64>(),
            float in any::<bool>(),
        ) {
            let spans: Vec<BucketSpan> = offsets
                .iter()
                .zip(&lengths)
                .map(|(&offset, &length)| BucketSpan { offset, length })
                .collect();
            let x = Histogram {
                count: Some(if float {
                    h::Count::CountFloat(count as f64)
                } else {
                    h::Count::CountInt(count)
                }),
                schema,
                positive_spans: spans.clone(),
                negative_spans: spans,
                positive_deltas: deltas.clone(),
                negative_deltas: deltas,
                positive_counts: counts.clone(),
                negative_counts: counts,
                custom_values: vec![1.0, 2.0],
                ..Histogram::default()
            };
            if let Ok(f) = x.to_float_histogram() {
                let back = Histogram::from_float_histogram(&f, 0).to_float_histogram();
                prop_assert!(back.is_ok());
            }
        }
    }
}
