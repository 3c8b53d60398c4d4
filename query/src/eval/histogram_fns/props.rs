//! Property tests of the histogram functions over generated histograms: exponential
//! ones (schemas -4..=8, both signs, a zero bucket) and custom-bucket ones.

use proptest::prelude::*;
use telltale_storage_api::histogram::{CUSTOM_BUCKETS_SCHEMA, Span};

use super::*;

/// An exponential histogram of integral counts: observations summing to its count.
fn exponential() -> impl Strategy<Value = FloatHistogram> {
    let side = || proptest::collection::btree_map(-5..20i32, 0..50u32, 0..8);
    (
        -4..=8i32,
        prop_oneof![Just(0.0), Just(1e-300)],
        0..10u32,
        side(),
        side(),
    )
        .prop_map(|(schema, zero_threshold, zero_count, positive, negative)| {
            let mut h = FloatHistogram {
                schema,
                zero_threshold,
                zero_count: f64::from(zero_count),
                ..FloatHistogram::default()
            };
            h.set_positive(positive.into_iter().map(|(i, c)| (i, f64::from(c))));
            h.set_negative(negative.into_iter().map(|(i, c)| (i, f64::from(c))));
            h.count = h.zero_count
                + h.positive_buckets.iter().sum::<f64>()
                + h.negative_buckets.iter().sum::<f64>();
            h
        })
}

/// A histogram with custom bounds (NHCB) of integral counts.
fn custom() -> impl Strategy<Value = FloatHistogram> {
    (
        -100.0..100.0f64,
        proptest::collection::vec(0.5..50.0f64, 0..6),
        proptest::collection::vec(0..20u32, 1..8),
    )
        .prop_map(|(first, steps, counts)| {
            let mut bound = first;
            let mut custom_values = vec![first];
            for step in steps {
                bound += step;
                custom_values.push(bound);
            }
            let buckets = custom_values.len() + 1;
            let mut h = FloatHistogram {
                schema: CUSTOM_BUCKETS_SCHEMA,
                custom_values,
                ..FloatHistogram::default()
            };
            h.set_positive(
                counts
                    .into_iter()
                    .take(buckets)
                    .enumerate()
                    .map(|(i, c)| (i as i32, f64::from(c))),
            );
            h.count = h.positive_buckets.iter().sum();
            h
        })
}

/// A histogram whose observations are all in one bucket: exponential (positive,
/// negative or the zero bucket) or custom.
fn one_bucket() -> impl Strategy<Value = FloatHistogram> {
    let n = 1..100u32;
    prop_oneof![
        (-4..=8i32, -40..40i32, any::<bool>(), n.clone()).prop_map(
            |(schema, index, negative, n)| {
                let mut h = FloatHistogram {
                    schema,
                    count: f64::from(n),
                    ..FloatHistogram::default()
                };
                if negative {
                    h.set_negative([(index, f64::from(n))]);
                } else {
                    h.set_positive([(index, f64::from(n))]);
                }
                h
            }
        ),
        (1e-6..1.0f64, n.clone()).prop_map(|(zero_threshold, n)| FloatHistogram {
            zero_threshold,
            zero_count: f64::from(n),
            count: f64::from(n),
            ..FloatHistogram::default()
        }),
        (custom(), any::<proptest::sample::Index>(), n).prop_map(|(mut h, pick, n)| {
            let index = pick.index(h.custom_values.len() + 1) as i32;
            h.set_positive([(index, f64::from(n))]);
            h.count = f64::from(n);
            h
        }),
    ]
}

fn any_histogram() -> impl Strategy<Value = FloatHistogram> {
    prop_oneof![exponential(), custom()]
}

/// A bound for `histogram_fraction`: finite, infinite, or near a bucket bound.
fn bound() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NEG_INFINITY),
        Just(f64::INFINITY),
        Just(0.0),
        -1e6..1e6f64,
        (-30..30i32).prop_map(|e| 2f64.powi(e)),
        (-30..30i32).prop_map(|e| -(2f64.powi(e))),
    ]
}

proptest! {
    #[test]
    fn quantiles_grow_with_q(
        h in any_histogram(),
        mut qs in proptest::collection::vec(0.0..=1.0f64, 2..12),
    ) {
        prop_assume!(h.count > 0.0);
        qs.sort_by(f64::total_cmp);
        let values: Vec<f64> = qs.iter().map(|&q| histogram_quantile(q, &h)).collect();
        for (w, q) in values.windows(2).zip(qs.windows(2)) {
            let slack = 1e-9 * w[0].abs().max(w[1].abs());
            prop_assert!(
                w[0] <= w[1] + slack,
                "quantile({}) = {} > quantile({}) = {} of {:?}", q[0], w[0], q[1], w[1], h
            );
        }
    }

    #[test]
    fn fractions_lie_between_0_and_1(h in any_histogram(), a in bound(), b in bound()) {
        prop_assume!(h.count > 0.0);
        prop_assert_eq!(histogram_fraction(f64::NEG_INFINITY, f64::INFINITY, &h), 1.0);
        let (lower, upper) = if a <= b { (a, b) } else { (b, a) };
        let f = histogram_fraction(lower, upper, &h);
        // Interpolation within an infinite custom bucket is NaN (Inf/Inf).
        if !f.is_nan() || !h.uses_custom_buckets() {
            prop_assert!((-1e-12..=1.0 + 1e-12).contains(&f), "{} in ({}, {}] of {:?}", f, lower, upper, h);
        }
    }

    #[test]
    fn the_fraction_below_a_quantile_is_q(mut h in exponential(), q in 0.0..=1.0f64) {
        prop_assume!(h.count > 0.0);
        // A zero bucket of no width holds observations at one point, which the
        // fraction below that point leaves out: give it a width.
        h.zero_threshold = h.zero_threshold.max(1e-300);
        let x = histogram_quantile(q, &h);
        let f = histogram_fraction(f64::NEG_INFINITY, x, &h);
        prop_assert!((f - q).abs() <= 1e-9, "q {} -> {} -> {} of {:?}", q, x, f, h);
    }

    #[test]
    fn one_bucket_holds_every_quantile(
        h in one_bucket(),
        q in 0.0..=1.0f64,
    ) {
        let b = h.buckets().into_iter().find(|b| b.count > 0.0).expect("one bucket");
        let x = histogram_quantile(q, &h);
        prop_assert!(x.is_finite(), "{} for q {} of {:?}", x, q, h);
        let slack = 1e-9 * x.abs();
        prop_assert!(
            b.lower - slack <= x && x <= b.upper + slack,
            "{} outside [{}, {}] for q {} of {:?}", x, b.lower, b.upper, q, h
        );
    }

    #[test]
    fn all_observations_at_a_bucket_value_have_no_variance(mut h in one_bucket()) {
        // Each bucket stands for one value: the geometric mean of its bounds
        // (exponential), 0 (the zero bucket), the arithmetic mean (custom).
        let b = h.buckets().into_iter().find(|b| b.count > 0.0).expect("one bucket");
        let value = if h.uses_custom_buckets() {
            (b.lower + b.upper) / 2.0
        } else if b.lower < 0.0 && b.upper > 0.0 {
            0.0
        } else {
            (b.lower * b.upper).sqrt().copysign(b.upper)
        };
        prop_assume!(value.is_finite());
        h.sum = value * h.count;
        let variance = histogram_stdvar(&h);
        prop_assert!(variance.abs() <= 1e-12 * value * value, "{} of {:?}", variance, h);
    }

    #[test]
    fn variances_are_not_negative(h in any_histogram(), sum in -1e6..1e6f64) {
        let h = FloatHistogram { sum, ..h };
        let variance = histogram_stdvar(&h);
        prop_assert!(variance >= 0.0 || h.count == 0.0, "{} of {:?}", variance, h);
        prop_assert_eq!(histogram_stddev(&h).to_bits(), variance.sqrt().to_bits());
    }

    #[test]
    fn malformed_histograms_do_not_panic(
        schema in prop_oneof![Just(CUSTOM_BUCKETS_SCHEMA), -10..12i32],
        spans in proptest::collection::vec((-1000..1000i32, 0..5u32), 0..4),
        buckets in proptest::collection::vec(prop_oneof![Just(f64::NAN), Just(-1.0), 0.0..10.0f64], 0..12),
        custom_values in proptest::collection::vec(-10.0..10.0f64, 0..4),
        count in prop_oneof![Just(f64::NAN), Just(0.0), -5.0..50.0f64],
        zero in (0.0..1.0f64, -1.0..5.0f64),
        args in (bound(), bound(), -0.5..1.5f64),
    ) {
        let spans: Vec<Span> = spans.into_iter().map(|(offset, length)| Span { offset, length }).collect();
        let h = FloatHistogram {
            schema,
            zero_threshold: zero.0,
            zero_count: zero.1,
            count,
            sum: count,
            positive_spans: spans.clone(),
            positive_buckets: buckets.clone(),
            negative_spans: spans,
            negative_buckets: buckets,
            custom_values,
            ..FloatHistogram::default()
        };
        let _ = histogram_quantile(args.2, &h);
        let _ = histogram_fraction(args.0, args.1, &h);
        let _ = histogram_stddev(&h);
    }
}
