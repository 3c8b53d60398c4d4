//! The evals of Prometheus's promqltest `native_histograms.test` on these functions
//! (histograms written as promqltest writes them, compared as promqltest compares), and
//! edge cases worked out by hand.

// The expected values are Prometheus's, verbatim (some are near sqrt(2) or pi).
#![allow(clippy::approx_constant)]

use telltale_storage_api::histogram::Span;

use super::*;

/// A histogram written as promqltest writes it: `{{schema:0 sum:5 count:4
/// z_bucket:1 z_bucket_w:0.5 buckets:[1 2 1] offset:1 n_buckets:[..] n_offset:0
/// custom_values:[..]}}` (each bucket list one span from its offset).
fn hist(text: &str) -> FloatHistogram {
    let inner = text
        .trim()
        .strip_prefix("{{")
        .and_then(|s| s.strip_suffix("}}"))
        .expect("{{...}}");
    let mut h = FloatHistogram::default();
    let (mut positive, mut negative) = (Vec::new(), Vec::new());
    let (mut offset, mut n_offset) = (0, 0);
    let mut rest = inner.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once(':').expect("key:value");
        let (value, after) = if let Some(list) = after.strip_prefix('[') {
            let (list, after) = list.split_once(']').expect("closing ]");
            (list, after)
        } else {
            after.split_once(' ').unwrap_or((after, ""))
        };
        rest = after.trim_start();
        let num = |v: &str| v.parse::<f64>().unwrap_or_else(|_| panic!("number {v}"));
        let list = |v: &str| v.split_whitespace().map(num).collect::<Vec<f64>>();
        match key.trim() {
            "schema" => h.schema = value.parse().expect("schema"),
            "sum" => h.sum = num(value),
            "count" => h.count = num(value),
            "z_bucket" => h.zero_count = num(value),
            "z_bucket_w" => h.zero_threshold = num(value),
            "offset" => offset = value.parse().expect("offset"),
            "n_offset" => n_offset = value.parse().expect("n_offset"),
            "buckets" => positive = list(value),
            "n_buckets" => negative = list(value),
            "custom_values" => h.custom_values = list(value),
            "counter_reset_hint" => {}
            other => panic!("unknown key {other}"),
        }
    }
    let span = |offset: i32, n: usize| {
        (n > 0)
            .then_some(Span {
                offset,
                length: n as u32,
            })
            .into_iter()
            .collect()
    };
    h.positive_spans = span(offset, positive.len());
    h.positive_buckets = positive;
    h.negative_spans = span(n_offset, negative.len());
    h.negative_buckets = negative;
    h
}

/// promqltest's comparison (`almost.Equal` with its default epsilon 1e-6): relative,
/// NaN equal to NaN.
fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 1e-6;
    if (a.is_nan() && b.is_nan()) || a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

#[derive(Debug, Clone, Copy)]
enum Call {
    Quantile(f64),
    Fraction(f64, f64),
    StdDev,
    StdVar,
}
use Call::*;

fn check(histogram: &str, cases: &[(Call, f64)]) {
    let h = hist(histogram);
    for &(call, want) in cases {
        let got = match call {
            Quantile(q) => histogram_quantile(q, &h),
            Fraction(lo, hi) => histogram_fraction(lo, hi, &h),
            StdDev => histogram_stddev(&h),
            StdVar => histogram_stdvar(&h),
        };
        assert!(
            almost_equal(want, got),
            "{call:?} of {histogram}: want {want}, got {got}"
        );
    }
}

pub(super) const INF: f64 = f64::INFINITY;
const NAN: f64 = f64::NAN;

// From `native_histograms.test`; where the test loads a series and sums or rates it,
// the histogram here is the one evaluated.

#[test]
fn promqltest_simple_histograms() {
    check(
        "{{}}",
        &[(Fraction(-INF, INF), NAN), (Fraction(0.0, 8.0), NAN)],
    );
    check(
        "{{}}",
        &[(Fraction(3.1415, 42.0), NAN), (Quantile(0.5), NAN)],
    );
    let single = "{{schema:0 sum:5 count:4 buckets:[1 2 1]}}";
    check(
        single,
        &[
            (Fraction(1.0, 2.0), 0.5),
            (Fraction(0.0, 8.0), 1.0),
            (Quantile(0.5), 1.414213562373095),
        ],
    );
    // incr_histogram at 5m and at 50m, and its rate.
    check(
        "{{schema:0 sum:6 count:5 buckets:[1 3 1]}}",
        &[
            (Fraction(1.0, 2.0), 0.6),
            (Quantile(0.5), 1.414213562373095),
        ],
    );
    check(
        "{{count:14 sum:24 buckets:[1 12 1]}}",
        &[
            (Fraction(1.0, 2.0), 0.8571428571428571),
            (Quantile(0.5), 1.414213562373095),
        ],
    );
    check(
        "{{count:0.0033333333333333335 sum:0.006666666666666667 offset:1 buckets:[0.0033333333333333335]}}",
        &[(Quantile(0.5), 1.414213562373095)],
    );
    check(
        "{{schema:-1 count:5 sum:8 offset:1 buckets:[5]}}",
        &[(Fraction(1.0, 4.0), 1.0)],
    );
    check(
        "{{schema:0 z_bucket:1 z_bucket_w:0.5 sum:0.25 count:1}}",
        &[(Fraction(-0.5, 0.5), 1.0), (Quantile(0.5), 0.0)],
    );
    for sum in ["-5", "-4"] {
        check(
            &format!("{{{{schema:0 sum:{sum} count:4 n_buckets:[1 2 1]}}}}"),
            &[
                (Fraction(-2.0, -1.0), 0.5),
                (Quantile(0.5), -1.414213562373095),
            ],
        );
    }
    // balanced_histogram: the sum of a histogram and its mirror image; the median
    // lies in empty buckets and is the lower bound of the next populated one.
    check(
        "{{schema:0 sum:0 count:8 buckets:[1 2 1] n_buckets:[1 2 1]}}",
        &[(Fraction(0.0, 4.0), 0.5), (Quantile(0.5), 0.5)],
    );
    check(
        "{{schema:0 count:10 sum:50 counter_reset_hint:gauge buckets:[1 2 3 4]}}",
        &[(Quantile(0.5), 3.1748021039363987)],
    );
}

#[test]
fn promqltest_stddev_and_stdvar() {
    let cases = [
        (
            "{{schema:2 count:4 sum:10 buckets:[1 0 0 0 1 0 0 1 1]}}",
            1.0787993180043811,
            1.163807968526718,
        ),
        (
            "{{schema:8 count:10 sum:10 buckets:[1 2 3 4]}}",
            0.0048960313898237465,
            2.3971123370139447e-05,
        ),
        (
            "{{schema:0 count:10 sum:-112946 z_bucket:0 n_buckets:[0 0 1 1 1 0 1 1 0 0 3 0 0 0 1 0 0 1]}}",
            27556.344499842,
            759352122.1939945,
        ),
        (
            "{{schema:0 count:10 sum:-100 z_bucket:0 n_buckets:[0 0 0 0 10]}}",
            1.3137084989848,
            1.725830020304794,
        ),
        // rate() of a constant histogram: no observations.
        ("{{schema:0 sum:0 count:0}}", NAN, NAN),
    ];
    for (h, stddev, stdvar) in cases {
        check(h, &[(StdDev, stddev), (StdVar, stdvar)]);
    }
    // {-50, -8, 0, 3, 8, 9}, then with a NaN and an Inf observation.
    let zeros = |n: usize| "0 ".repeat(n);
    let positive = format!("{}1 {}1 0 1 {}1", zeros(13), zeros(10), zeros(27));
    let negative = format!("{}1 {}1", zeros(24), zeros(21));
    for (sum, stddev, stdvar) in [
        ("62", 42.94723640026, 1844.4651144196398),
        ("NaN", NAN, NAN),
        ("Inf", INF, INF),
    ] {
        let h = format!(
            "{{{{schema:3 count:7 sum:{sum} z_bucket:1 buckets:[{positive}] n_buckets:[{negative}]}}}}"
        );
        check(&h, &[(StdDev, stddev), (StdVar, stdvar)]);
    }
}

#[test]
fn promqltest_quantiles_with_a_zero_bucket() {
    check(
        "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 buckets:[2 3 0 1 4]}}",
        &[
            (Quantile(1.001), INF),
            (Quantile(1.0), 16.0),
            (Quantile(0.99), 15.67072476139083),
            (Quantile(0.9), 12.99603834169977),
            (Quantile(0.6), 4.594793419988138),
            (Quantile(0.5), 1.5874010519681994),
            (Quantile(0.1), 0.0006),
            (Quantile(0.0), 0.0),
            (Quantile(-1.0), -INF),
        ],
    );
    check(
        "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 n_buckets:[2 3 0 1 4]}}",
        &[
            (Quantile(1.001), INF),
            (Quantile(1.0), 0.0),
            (Quantile(0.99), -0.00006),
            (Quantile(0.9), -0.0006),
            (Quantile(0.5), -1.5874010519681996),
            (Quantile(0.1), -12.996038341699768),
            (Quantile(0.0), -16.0),
            (Quantile(-1.0), -INF),
        ],
    );
    check(
        "{{schema:0 count:24 sum:100 z_bucket:4 z_bucket_w:0.001 buckets:[2 3 0 1 4] n_buckets:[2 3 0 1 4]}}",
        &[
            (Quantile(1.001), INF),
            (Quantile(1.0), 16.0),
            (Quantile(0.99), 15.34822590920423),
            (Quantile(0.9), 10.556063286183155),
            (Quantile(0.7), 1.2030250360821164),
            (Quantile(0.55), 0.0006),
            (Quantile(0.5), 0.0),
            (Quantile(0.45), -0.0006),
            (Quantile(0.3), -1.2030250360821169),
            (Quantile(0.1), -10.556063286183155),
            (Quantile(0.01), -15.34822590920423),
            (Quantile(0.0), -16.0),
            (Quantile(-1.0), -INF),
            (Quantile(NAN), NAN),
        ],
    );
}

#[test]
fn promqltest_interpolation_does_not_depend_on_the_schema() {
    let cases = [
        (-1, "[0 5]", 2.0),
        (0, "[0 5]", 1.4142135623730951),
        (1, "[0 5]", 1.189207),
        (-1, "[0 0 5]", 8.0),
        (0, "[0 0 5]", 2.82842712474619),
        (1, "[0 0 5]", 1.6817928305074292),
    ];
    for (schema, buckets, median) in cases {
        check(
            &format!("{{{{schema:{schema} sum:4 count:5 buckets:{buckets}}}}}"),
            &[(Quantile(0.5), median), (Fraction(0.0, median), 0.5)],
        );
        check(
            &format!("{{{{schema:{schema} sum:4 count:5 n_buckets:{buckets}}}}}"),
            &[(Quantile(0.5), -median), (Fraction(-median, 0.0), 0.5)],
        );
    }
}

/// The evals every `histogram_fraction_N` series shares: empty and reversed
/// ranges, NaN bounds, everything.
fn degenerate_fractions() -> Vec<(Call, f64)> {
    vec![
        (Fraction(42.0, 3.1415), 0.0),
        (Fraction(0.0, 0.0), 0.0),
        (Fraction(0.000001, 0.000001), 0.0),
        (Fraction(42.0, 42.0), 0.0),
        (Fraction(-3.1, -3.1), 0.0),
        (Fraction(3.1415, NAN), NAN),
        (Fraction(NAN, 42.0), NAN),
        (Fraction(NAN, NAN), NAN),
        (Fraction(-INF, INF), 1.0),
    ]
}

#[test]
fn promqltest_fractions_of_positive_buckets() {
    let mut cases = vec![
        (Fraction(0.0, INF), 1.0),
        (Fraction(-INF, 0.0), 0.0),
        (Fraction(-0.001, 0.0), 0.0),
        (Fraction(0.0, 0.001), 0.16666666666666666),
        (Fraction(0.001, INF), 0.8333333333333334),
        (Fraction(0.0, 0.0005), 0.08333333333333333),
        (Quantile(0.08333333333333333), 0.0005),
        (Fraction(-INF, -0.001), 0.0),
        (Fraction(1.0, 2.0), 0.25),
        (Fraction(0.0, 1.5), 0.4795739585136224),
        (Fraction(1.5, 2.0), 0.10375937481971091),
        (Fraction(1.0, 8.0), 0.3333333333333333),
        (Fraction(0.0, 6.0), 0.6320802083934297),
        (Quantile(0.6320802083934297), 6.0),
        (Fraction(1.0, 6.0), 0.29874687506009634),
        (Fraction(1.5, 6.0), 0.15250624987980724),
        (Fraction(-2.0, -1.0), 0.0),
        (Fraction(-2.0, -1.5), 0.0),
        (Fraction(-8.0, -1.0), 0.0),
        (Fraction(-6.0, -1.0), 0.0),
        (Fraction(-6.0, -1.5), 0.0),
    ];
    cases.extend(degenerate_fractions());
    check(
        "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 buckets:[2 3 0 1 4]}}",
        &cases,
    );
}

#[test]
fn promqltest_fractions_of_negative_buckets() {
    let mut cases = vec![
        (Fraction(0.0, INF), 0.0),
        (Fraction(-INF, 0.0), 1.0),
        (Fraction(-0.001, 0.0), 0.16666666666666666),
        (Fraction(0.0, 0.001), 0.0),
        (Fraction(-0.0005, 0.0), 0.08333333333333333),
        (Fraction(-INF, -0.0005), 0.9166666666666666),
        (Quantile(0.9166666666666666), -0.0005),
        (Fraction(0.001, INF), 0.0),
        (Fraction(-INF, -0.001), 0.8333333333333334),
        (Fraction(1.0, 2.0), 0.0),
        (Fraction(1.5, 2.0), 0.0),
        (Fraction(1.0, 8.0), 0.0),
        (Fraction(1.0, 6.0), 0.0),
        (Fraction(1.5, 6.0), 0.0),
        (Fraction(-2.0, -1.0), 0.25),
        (Fraction(-2.0, -1.5), 0.10375937481971091),
        (Fraction(-8.0, -1.0), 0.3333333333333333),
        (Fraction(-INF, -6.0), 0.36791979160657035),
        (Quantile(0.36791979160657035), -6.0),
        (Fraction(-6.0, -1.0), 0.29874687506009634),
        (Fraction(-6.0, -1.5), 0.15250624987980724),
    ];
    cases.extend(degenerate_fractions());
    check(
        "{{schema:0 count:12 sum:100 z_bucket:2 z_bucket_w:0.001 n_buckets:[2 3 0 1 4]}}",
        &cases,
    );
}

#[test]
fn promqltest_fractions_of_buckets_on_both_sides() {
    let mut cases = vec![
        (Fraction(0.0, INF), 0.5),
        (Fraction(-INF, 0.0), 0.5),
        (Fraction(-0.001, 0.0), 0.08333333333333333),
        (Fraction(0.0, 0.001), 0.08333333333333333),
        (Fraction(-0.0005, 0.0005), 0.08333333333333333),
        (Fraction(-INF, 0.0005), 0.5416666666666666),
        (Quantile(0.5416666666666666), 0.0005),
        (Fraction(-INF, -0.0005), 0.4583333333333333),
        (Quantile(0.4583333333333333), -0.0005),
        (Fraction(0.001, INF), 0.4166666666666667),
        (Fraction(-INF, -0.001), 0.4166666666666667),
        (Fraction(1.0, 2.0), 0.125),
        (Fraction(1.5, 2.0), 0.051879687409855414),
        (Fraction(1.0, 8.0), 0.16666666666666666),
        (Fraction(1.0, 6.0), 0.14937343753004825),
        (Fraction(1.5, 6.0), 0.07625312493990366),
        (Fraction(-2.0, -1.0), 0.125),
        (Fraction(-2.0, -1.5), 0.051879687409855456),
        (Fraction(-8.0, -1.0), 0.16666666666666666),
        (Fraction(-6.0, -1.0), 0.14937343753004817),
        (Fraction(-6.0, -1.5), 0.07625312493990362),
    ];
    cases.extend(degenerate_fractions());
    check(
        "{{schema:0 count:24 sum:100 z_bucket:4 z_bucket_w:0.001 buckets:[2 3 0 1 4] n_buckets:[2 3 0 1 4]}}",
        &cases,
    );
}

#[test]
fn promqltest_custom_buckets() {
    check(
        "{{schema:-53 sum:5 count:4 custom_values:[5 10] buckets:[1 2 1]}}",
        &[(Fraction(5.0, 10.0), 0.5), (Quantile(0.5), 7.5)],
    );
}

#[test]
fn promqltest_nan_observations() {
    // All three observations NaN: in no bucket.
    check(
        "{{schema:0 count:3 sum:NaN}}",
        &[
            (Quantile(1.0), NAN),
            (Quantile(0.81), NAN),
            (Quantile(0.8), NAN),
            (Quantile(0.4), NAN),
            (Fraction(-INF, 0.7071067811865475), 0.0),
            (Fraction(-INF, INF), 0.0),
        ],
    );
    // 3 of 15 observations NaN: ranked above every bucket, in no fraction.
    check(
        "{{schema:0 count:15 sum:NaN buckets:[12]}}",
        &[
            (Quantile(1.0), NAN),
            (Quantile(0.81), NAN),
            (Quantile(0.8), 1.0),
            (Quantile(0.4), 0.7071067811865475),
            (Fraction(-INF, 0.7071067811865475), 0.4),
            (Fraction(-INF, INF), 0.8),
        ],
    );
}

#[test]
fn custom_bucket_edges() {
    // (-Inf, -10]: 4, (-10, 5]: 4, (5, +Inf]: 2.
    check(
        "{{schema:-53 sum:0 count:10 custom_values:[-10 5] buckets:[4 4 2]}}",
        &[
            // The -Inf bucket answers its upper bound when that is not above 0,
            (Quantile(0.1), -10.0),
            // the +Inf bucket its lower bound,
            (Quantile(0.9), 5.0),
            // others interpolate linearly.
            (Quantile(0.6), -2.5),
            (Quantile(0.5), -6.25),
            (Fraction(-INF, -10.0), 0.4),
            // A bucket holding 0 counts from 0 up, as the zero bucket: nothing of
            // (-10, 5] lies below 0.
            (Fraction(-5.0, 0.0), 0.0),
            // Interpolating within the -Inf bucket is Inf/Inf in Prometheus 3.5.
            (Fraction(-20.0, -10.0), NAN),
            (Fraction(-INF, INF), 1.0),
        ],
    );
    // The -Inf bucket reaching above 0 interpolates from 0.
    check(
        "{{schema:-53 sum:0 count:4 custom_values:[8 10] buckets:[4]}}",
        &[(Quantile(0.25), 2.0), (Quantile(0.0), 0.0)],
    );
    // Custom buckets stand for the arithmetic mean of their bounds: 7.5 and 15.
    check(
        "{{schema:-53 sum:45 count:4 custom_values:[5 10 20] buckets:[0 2 2]}}",
        &[(StdVar, 14.0625), (StdDev, 3.75)],
    );
    check(
        "{{schema:-53 sum:22.5 count:3 custom_values:[5 10] offset:1 buckets:[3]}}",
        &[(StdVar, 0.0)],
    );
    // An observation in the -Inf bucket stands at -Inf.
    check(
        "{{schema:-53 sum:10 count:2 custom_values:[5 10] buckets:[1 1]}}",
        &[(StdVar, INF)],
    );
}

#[test]
fn an_empty_zero_bucket_is_no_bucket() {
    // 6 of the 10 observations are in no bucket (a finite sum: not NaN ones): the
    // median is past every bucket and answers the upper bound of the last bucket
    // met, (0.5, 1], not that of the zero bucket [0, 0.5], which holds nothing.
    check(
        "{{schema:0 count:10 sum:5 z_bucket_w:0.5 buckets:[1 2 1]}}",
        &[(Quantile(0.5), 1.0)],
    );
    check(
        "{{schema:0 count:4 sum:5 z_bucket_w:0.5 buckets:[1 2 1]}}",
        &[
            (Quantile(0.5), 1.414213562373095),
            (Fraction(0.0, 0.5), 0.0),
        ],
    );
}

#[test]
fn the_comparison_is_relative() {
    assert!(almost_equal(1.189207, 1.189207115002721));
    assert!(!almost_equal(1.1892, 1.189207115002721));
    assert!(almost_equal(NAN, NAN));
    assert!(!almost_equal(0.0, 1e-300));
    assert!(!almost_equal(INF, -INF));
}
