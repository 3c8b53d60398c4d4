//! OTLP exponential histogram points as native histograms, as Prometheus's OTLP
//! translation makes them:
//!
//! - `scale` is the schema; a scale above 8 is brought down to 8 by merging buckets
//!   (as [`FloatHistogram::reduce_resolution`] does: `2^(scale - 8)` buckets make one);
//!   a scale below -4 cannot be represented and the point is refused;
//! - OTLP bucket `k` covers `(base^k, base^(k+1)]`, Prometheus bucket `i` covers
//!   `(base^(i-1), base^i]`: bucket `k` becomes bucket `k + 1` (on both sides);
//! - `zero_count` is the zero bucket's count; its width is the point's `zero_threshold`,
//!   or Prometheus's 1e-128 when the point leaves it unset;
//! - `count` as is; `sum`, or 0 when the point has none (as Prometheus);
//! - a point flagged "no recorded value" is the staleness marker; `min`/`max` are
//!   ignored; the reset hint is left unknown (storage detects resets).
//!
//! Pure.

use telltale_storage_api::FloatHistogram;
use telltale_storage_api::histogram::{MAX_EXPONENTIAL_SCHEMA, MIN_EXPONENTIAL_SCHEMA};

use super::proto::{Buckets, ExponentialHistogramDataPoint, FLAG_NO_RECORDED_VALUE};

/// The zero threshold Prometheus's OTLP translation gives every exponential histogram.
pub const OTLP_ZERO_THRESHOLD: f64 = 1e-128;

/// The native histogram of `p`, checked ([`FloatHistogram::validate_counts`]); the
/// error says why it cannot be one.
pub fn to_native(p: &ExponentialHistogramDataPoint) -> Result<FloatHistogram, String> {
    if p.flags & FLAG_NO_RECORDED_VALUE != 0 {
        return Ok(FloatHistogram::stale_marker());
    }
    if p.scale < MIN_EXPONENTIAL_SCHEMA {
        return Err(format!(
            "scale {} is below {MIN_EXPONENTIAL_SCHEMA}, the coarsest native histogram schema",
            p.scale
        ));
    }
    let zero_threshold = if p.zero_threshold > 0.0 {
        p.zero_threshold
    } else {
        OTLP_ZERO_THRESHOLD
    };
    let scale_down = (p.scale - MAX_EXPONENTIAL_SCHEMA).max(0);
    let mut h = FloatHistogram {
        schema: p.scale.min(MAX_EXPONENTIAL_SCHEMA),
        zero_threshold,
        zero_count: p.zero_count as f64,
        count: p.count as f64,
        sum: p.sum.unwrap_or(0.0),
        ..FloatHistogram::default()
    };
    h.set_positive(prometheus_buckets(p.positive.as_ref(), scale_down));
    h.set_negative(prometheus_buckets(p.negative.as_ref(), scale_down));
    h.validate_counts(true).map_err(|e| e.to_string())?;
    Ok(h)
}

/// The non-empty buckets of one side as `(Prometheus index, count)`, in increasing index
/// order, `2^scale_down` OTLP buckets merged into one: OTLP bucket `k` falls in
/// Prometheus bucket `(k >> scale_down) + 1`.
fn prometheus_buckets(b: Option<&Buckets>, scale_down: i32) -> Vec<(i32, f64)> {
    let Some(b) = b else {
        return Vec::new();
    };
    let shift = scale_down.clamp(0, 63) as u32;
    let mut out: Vec<(i32, f64)> = Vec::new();
    for (i, &count) in b.bucket_counts.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let k = b.offset as i64 + i as i64;
        let index = ((k >> shift) + 1).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
        match out.last_mut() {
            Some((last, total)) if *last == index => *total += count as f64,
            _ => out.push((index, count as f64)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use telltale_storage_api::histogram::exponential_bound;

    use super::*;

    fn point(scale: i32, offset: i32, counts: &[u64]) -> ExponentialHistogramDataPoint {
        let n: u64 = counts.iter().sum();
        ExponentialHistogramDataPoint {
            scale,
            count: n + 1,
            zero_count: 1,
            sum: Some(10.0),
            positive: Some(Buckets {
                offset,
                bucket_counts: counts.to_vec(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn buckets_move_up_by_one() {
        let mut p = point(0, -1, &[2, 0, 3]);
        p.negative = Some(Buckets {
            offset: 2,
            bucket_counts: vec![4],
        });
        p.count += 4;
        let h = to_native(&p).unwrap();
        // OTLP bucket -1 is (0.5, 1]: Prometheus bucket 0 of schema 0.
        assert_eq!(h.positive().collect::<Vec<_>>(), [(0, 2.0), (2, 3.0)]);
        assert_eq!(h.bucket_bounds(0), (0.5, 1.0));
        assert_eq!(h.negative().collect::<Vec<_>>(), [(3, 4.0)]);
        assert_eq!((h.count, h.zero_count, h.sum), (10.0, 1.0, 10.0));
        assert_eq!(h.zero_threshold, OTLP_ZERO_THRESHOLD);
        assert_eq!(h.schema, 0);
    }

    #[test]
    fn fine_scales_are_merged_down_to_8_and_coarse_ones_refused() {
        // Scale 10: OTLP buckets 0..8 are (1, 2^(9/1024)]; at schema 8 they fall in
        // Prometheus buckets 1 (k = 0..3) and 2 (k = 4..7), 3 (k = 8).
        let h = to_native(&point(10, 0, &[1; 9])).unwrap();
        assert_eq!(h.schema, 8);
        assert_eq!(
            h.positive().collect::<Vec<_>>(),
            [(1, 4.0), (2, 4.0), (3, 1.0)]
        );
        let e = to_native(&point(-5, 0, &[1])).unwrap_err();
        assert!(e.contains("scale -5"), "{e}");
    }

    #[test]
    fn no_recorded_value_is_the_staleness_marker_and_no_sum_is_zero() {
        let mut p = point(3, 0, &[1]);
        p.flags = FLAG_NO_RECORDED_VALUE;
        assert!(to_native(&p).unwrap().is_stale());
        let mut p = point(3, 0, &[1]);
        p.sum = None;
        p.zero_threshold = 0.25;
        let h = to_native(&p).unwrap();
        assert_eq!((h.sum, h.zero_threshold), (0.0, 0.25));
        p.count = 7;
        assert!(to_native(&p).is_err(), "count disagrees with the buckets");
    }

    proptest! {
        /// An observation in OTLP bucket k lands in the Prometheus bucket whose bounds
        /// hold base^k..base^(k+1), whatever the scale.
        #[test]
        fn bounds_agree(scale in -4i32..=12, k in -20i32..40) {
            let h = to_native(&point(scale, k, &[1])).unwrap();
            let (index, _) = h.positive().next().unwrap();
            let (lower, upper) = h.bucket_bounds(index);
            let otlp_upper = exponential_bound(k + 1, scale);
            // Bounds of schemas past 8 are computed, those up to 8 are Prometheus's
            // table: equal powers may differ in the last bits.
            let ulps = 1.0 + 4.0 * f64::EPSILON;
            prop_assert!(lower <= exponential_bound(k, scale) * ulps && otlp_upper <= upper * ulps);
        }

        #[test]
        fn never_panics(
            scale in any::<i32>(),
            offset in any::<i32>(),
            counts in proptest::collection::vec(0u64..5, 0..6),
            count in any::<u64>(),
        ) {
            let mut p = point(scale, offset, &counts);
            p.count = count;
            let _ = to_native(&p);
        }
    }
}
