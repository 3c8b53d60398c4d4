//! Comparing query results with an eval's expectations as Prometheus's `promqltest`
//! does (`compareResult`): floats within a relative 1e-6 (`util/almost.Equal`),
//! histograms compacted and compared field by field with the same tolerance.
//!
//! [`adapt`] is the one place that reads the engine's [`Value`]: every comparison works
//! on its [`Outcome`].

use telltale_query::Value;
use telltale_storage_api::FloatHistogram;
use telltale_storage_api::histogram::Span;

use crate::series::{Labels, Point};

/// Relative error allowed between an expected and a returned number.
const EPSILON: f64 = 0.000001;

/// A query result as the runner compares it.
#[derive(Debug)]
pub enum Outcome {
    Scalar(f64),
    String(String),
    /// Samples in result order: label key, value.
    Vector(Vec<(String, Point)>),
    /// Series in result order: label key, `(t, value)` in time order.
    Matrix(Vec<(String, Vec<(i64, Point)>)>),
}

/// The engine's result as an [`Outcome`].
///
/// The engine's result as the runner compares it: a sample or point is a histogram when
/// the evaluator returned one, else a float.
pub fn adapt(v: Value) -> Outcome {
    match v {
        Value::Scalar { value, .. } => Outcome::Scalar(value),
        Value::String { value, .. } => Outcome::String(value),
        Value::Vector(samples) => Outcome::Vector(
            samples
                .into_iter()
                .map(|s| {
                    let point = match s.histogram {
                        Some(h) => Point::Histogram(std::sync::Arc::unwrap_or_clone(h)),
                        None => Point::Float(s.value),
                    };
                    (s.metric.to_string(), point)
                })
                .collect(),
        ),
        Value::Matrix(series) => Outcome::Matrix(
            series
                .into_iter()
                .map(|s| {
                    let mut pts: Vec<(i64, Point)> = s
                        .points
                        .into_iter()
                        .map(|(t, v)| (t, Point::Float(v)))
                        .chain(s.histograms.into_iter().map(|(t, h)| {
                            (t, Point::Histogram(std::sync::Arc::unwrap_or_clone(h)))
                        }))
                        .collect();
                    pts.sort_by_key(|p| p.0);
                    (s.metric.to_string(), pts)
                })
                .collect(),
        ),
    }
}

/// The label key a result reports for `labels` (the engine's rendering of a label set).
pub fn key(labels: &Labels) -> String {
    telltale_model::render_labels(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
}

/// Prometheus's `almost.Equal`: staleness markers only equal each other, NaN equals NaN,
/// otherwise a relative difference below `epsilon`.
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    let min_normal = f64::from_bits(0x0010_0000_0000_0000);
    let (sa, sb) = (
        telltale_model::is_stale_nan(a),
        telltale_model::is_stale_nan(b),
    );
    if sa || sb {
        return sa && sb;
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < epsilon * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Whether two points are the same value (a float and a histogram never are).
pub fn same_point(want: &Point, got: &Point) -> bool {
    match (want, got) {
        (Point::Float(w), Point::Float(g)) => almost_equal(*w, *g, EPSILON),
        (Point::Histogram(w), Point::Histogram(g)) => same_histogram(w, g),
        _ => false,
    }
}

/// Prometheus's `compareNativeHistogram` on both histograms compacted.
pub fn same_histogram(want: &FloatHistogram, got: &FloatHistogram) -> bool {
    let (mut w, mut g) = (want.clone(), got.clone());
    w.compact();
    g.compact();
    let eq = |a: f64, b: f64| almost_equal(a, b, EPSILON);
    w.schema == g.schema
        && eq(w.count, g.count)
        && eq(w.sum, g.sum)
        && (!w.uses_custom_buckets() || w.custom_values == g.custom_values)
        && w.zero_threshold == g.zero_threshold
        && eq(w.zero_count, g.zero_count)
        && spans_match(&w.negative_spans, &g.negative_spans)
        && buckets_match(&w.negative_buckets, &g.negative_buckets)
        && spans_match(&w.positive_spans, &g.positive_spans)
        && buckets_match(&w.positive_buckets, &g.positive_buckets)
}

fn buckets_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| almost_equal(*x, *y, EPSILON))
}

/// Spans describe the same buckets (empty spans folded into the next one).
fn spans_match(a: &[Span], b: &[Span]) -> bool {
    fn folded(spans: &[Span]) -> Vec<Span> {
        let mut out = Vec::new();
        let mut pending = 0;
        for s in spans {
            if s.length == 0 {
                pending += s.offset;
            } else {
                out.push(Span {
                    offset: s.offset + pending,
                    length: s.length,
                });
                pending = 0;
            }
        }
        out
    }
    folded(a) == folded(b)
}

/// A histogram as promqltest writes it (for messages).
pub fn show(p: &Point) -> String {
    match p {
        Point::Omitted => "_".to_string(),
        Point::Float(v) => format!("{v}"),
        Point::Histogram(h) => {
            let mut s = format!("{{{{schema:{} count:{} sum:{}", h.schema, h.count, h.sum);
            if h.zero_count != 0.0 || h.zero_threshold != 0.0 {
                s += &format!(" z_bucket:{} z_bucket_w:{}", h.zero_count, h.zero_threshold);
            }
            if !h.custom_values.is_empty() {
                s += &format!(" custom_values:{:?}", h.custom_values);
            }
            if !h.positive_buckets.is_empty() {
                s += &format!(
                    " buckets:{:?} (spans {:?})",
                    h.positive_buckets, h.positive_spans
                );
            }
            if !h.negative_buckets.is_empty() {
                s += &format!(
                    " n_buckets:{:?} (spans {:?})",
                    h.negative_buckets, h.negative_spans
                );
            }
            s + &format!(" {:?}}}}}", h.reset_hint)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn almost_equal_is_prometheus_s() {
        assert!(almost_equal(1.0, 1.0 + 1e-7, EPSILON));
        assert!(!almost_equal(1.0, 1.0 + 1e-5, EPSILON));
        assert!(almost_equal(f64::NAN, f64::NAN, EPSILON));
        assert!(!almost_equal(f64::NAN, telltale_model::STALE_NAN, EPSILON));
        assert!(!almost_equal(0.0, 1e-300, EPSILON));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY, EPSILON));
    }

    #[test]
    fn empty_spans_fold_into_the_next() {
        let a = [
            Span {
                offset: 2,
                length: 0,
            },
            Span {
                offset: 1,
                length: 2,
            },
        ];
        let b = [Span {
            offset: 3,
            length: 2,
        }];
        assert!(spans_match(&a, &b));
        assert!(!spans_match(
            &b,
            &[Span {
                offset: 2,
                length: 2
            }]
        ));
    }
}
