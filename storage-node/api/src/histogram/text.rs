//! Equality and the text form of a [`FloatHistogram`], as Prometheus's
//! `FloatHistogram.Equals` and `FloatHistogram.String` (what PromQL's `==` between
//! histograms and `count_values` of histograms use).

use std::fmt::Write;

use super::FloatHistogram;

impl FloatHistogram {
    /// Whether the two describe the same observations with the same layout (Prometheus's
    /// `Equals`): schema, count, sum (bit for bit, so NaN equals the same NaN), zero
    /// bucket, custom bounds, and every bucket's index and count; the reset hint aside.
    pub fn equals(&self, other: &FloatHistogram) -> bool {
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
        let same_buckets = |a: &mut dyn Iterator<Item = (i32, f64)>,
                            b: &mut dyn Iterator<Item = (i32, f64)>| {
            loop {
                match (a.next(), b.next()) {
                    (None, None) => return true,
                    (Some((i, x)), Some((j, y))) if i == j && same(x, y) => {}
                    _ => return false,
                }
            }
        };
        self.schema == other.schema
            && self.count == other.count
            && same(self.sum, other.sum)
            && (!self.uses_custom_buckets()
                || self.custom_values.len() == other.custom_values.len()
                    && self
                        .custom_values
                        .iter()
                        .zip(&other.custom_values)
                        .all(|(a, b)| same(*a, *b)))
            && self.zero_threshold == other.zero_threshold
            && self.zero_count == other.zero_count
            && same_buckets(&mut self.positive(), &mut other.positive())
            && same_buckets(&mut self.negative(), &mut other.negative())
    }

    /// Prometheus's `FloatHistogram.String()`: `{count:N, sum:S, [lo,hi):c, ...}` with
    /// the non-empty buckets from the lowest, numbers as Go's `%g`.
    pub fn prometheus_string(&self) -> String {
        let mut out = format!("{{count:{}, sum:{}", go_g(self.count), go_g(self.sum));
        for b in self.buckets() {
            if b.count == 0.0 {
                continue;
            }
            let _ = write!(
                out,
                ", {}{},{}{}:{}",
                if b.lower_inclusive { '[' } else { '(' },
                go_g(b.lower),
                go_g(b.upper),
                if b.upper_inclusive { ']' } else { ')' },
                go_g(b.count)
            );
        }
        out.push('}');
        out
    }
}

/// A float as Go's `%g` (and `%v`) writes it: the shortest digits that read back the
/// same, in exponent form (`1e+06`, `1.5e-07`) when the decimal exponent is below -4 or
/// at least 6 (strconv's rule for the shortest form).
pub fn go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `d.ddde<exp>`.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::histogram::Span;

    fn h() -> FloatHistogram {
        FloatHistogram {
            schema: 0,
            zero_threshold: 0.001,
            zero_count: 2.0,
            count: 7.0,
            sum: 12.5,
            positive_spans: vec![Span {
                offset: 0,
                length: 2,
            }],
            positive_buckets: vec![1.0, 3.0],
            negative_spans: vec![Span {
                offset: 1,
                length: 1,
            }],
            negative_buckets: vec![1.0],
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn equality_ignores_the_hint_and_the_span_layout() {
        let a = h();
        let mut b = h();
        b.reset_hint = super::super::ResetHint::Gauge;
        assert!(a.equals(&b));
        // The same buckets in two spans.
        b.positive_spans = vec![
            Span {
                offset: 0,
                length: 1,
            },
            Span {
                offset: 0,
                length: 1,
            },
        ];
        assert!(a.equals(&b));
        b.positive_buckets[1] = 4.0;
        assert!(!a.equals(&b));
        let mut c = h();
        c.sum = f64::NAN;
        assert!(c.equals(&c.clone()));
        assert!(!a.equals(&c));
    }

    #[test]
    fn text_form_as_prometheus() {
        assert_eq!(
            h().prometheus_string(),
            "{count:7, sum:12.5, [-2,-1):1, [-0.001,0.001]:2, (0.5,1]:1, (1,2]:3}"
        );
    }

    #[test]
    fn go_g_formats() {
        assert_eq!(go_g(1.0), "1");
        assert_eq!(go_g(0.25), "0.25");
        assert_eq!(go_g(1e-5), "1e-05");
        assert_eq!(go_g(1.5e-7), "1.5e-07");
        assert_eq!(go_g(0.0001), "0.0001");
        assert_eq!(go_g(123456.0), "123456");
        assert_eq!(go_g(1e6), "1e+06");
        assert_eq!(go_g(1234567.0), "1.234567e+06");
        assert_eq!(go_g(-2.5e21), "-2.5e+21");
        assert_eq!(go_g(f64::INFINITY), "+Inf");
    }
}
