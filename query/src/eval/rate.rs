//! Functions of range vectors: Prometheus' extrapolated rates, instant rates,
//! `*_over_time`, changes/resets and linear regression.

use super::aggregate::{KahanSum, Mean};
use super::quantile::quantile;

/// Prometheus' `extrapolatedRate` (promql/functions.go): the increase over
/// `(range_start, range_end]`, corrected for counter resets when `is_counter`,
/// extrapolated towards the range boundaries (by at most half an average interval
/// beyond 1.1 intervals, and never below the counter's zero point), per second when
/// `is_rate`. `None` with fewer than two points.
pub(crate) fn extrapolated_rate(
    points: &[(i64, f64)],
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let mut result = points[points.len() - 1].1 - points[0].1;
    if is_counter {
        let mut prev = 0.0;
        for &(_, v) in points {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
    }
    Some(extrapolate(
        points,
        result,
        range_start,
        range_end,
        is_counter,
        is_rate,
    ))
}

/// The part of [`extrapolated_rate`] after the increase: `result` (the increase over
/// `points`, at least two, corrected for counter resets) extrapolated towards the range
/// boundaries. Needs only the first and last point and the count, so a sliding window
/// (`super::sweep`) computes it in constant time.
pub(crate) fn extrapolate(
    points: &[(i64, f64)],
    result: f64,
    range_start: i64,
    range_end: i64,
    is_counter: bool,
    is_rate: bool,
) -> f64 {
    let (first_t, first_v) = points[0];
    let (last_t, _) = points[points.len() - 1];
    let window = Window {
        first_t,
        last_t,
        intervals: points.len() - 1,
        range_start,
        range_end,
    };
    result * window.factor(first_v, result, is_counter, is_rate)
}

/// The samples of a range a rate is extrapolated from: the first and last time, the
/// number of intervals between samples (at least one), and the range's bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub first_t: i64,
    pub last_t: i64,
    pub intervals: usize,
    pub range_start: i64,
    pub range_end: i64,
}

impl Window {
    /// Prometheus's extrapolation factor of an increase `result` whose first sample
    /// holds `first_v` (for histograms: their counts), towards the range boundaries (by
    /// at most half an average interval beyond 1.1 intervals, and for counters never
    /// below the zero point), per second when `is_rate`.
    pub(crate) fn factor(&self, first_v: f64, result: f64, is_counter: bool, is_rate: bool) -> f64 {
        let mut duration_to_start = (self.first_t - self.range_start) as f64 / 1000.0;
        let mut duration_to_end = (self.range_end - self.last_t) as f64 / 1000.0;
        let sampled_interval = (self.last_t - self.first_t) as f64 / 1000.0;
        let average_interval = sampled_interval / self.intervals as f64;
        let threshold = average_interval * 1.1;
        let mut extrapolate_to = sampled_interval;

        if duration_to_start >= threshold {
            duration_to_start = average_interval / 2.0;
        }
        if is_counter && result > 0.0 && first_v >= 0.0 {
            let duration_to_zero = sampled_interval * (first_v / result);
            if duration_to_zero < duration_to_start {
                duration_to_start = duration_to_zero;
            }
        }
        extrapolate_to += duration_to_start;
        if duration_to_end >= threshold {
            duration_to_end = average_interval / 2.0;
        }
        extrapolate_to += duration_to_end;

        let mut factor = extrapolate_to / sampled_interval;
        if is_rate {
            factor /= (self.range_end - self.range_start) as f64 / 1000.0;
        }
        factor
    }
}

/// `irate` (per second, counter-aware) and `idelta` from the last two points.
pub(crate) fn instant_delta(points: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (prev_t, prev_v) = points[points.len() - 2];
    let (last_t, last_v) = points[points.len() - 1];
    let mut result = last_v - prev_v;
    if !is_rate {
        return Some(result);
    }
    if last_v < prev_v {
        // Counter reset.
        result = last_v;
    }
    let interval = last_t - prev_t;
    if interval == 0 {
        return None;
    }
    Some(result / (interval as f64 / 1000.0))
}

/// The `*_over_time` aggregate `name` of non-empty `points`.
pub(crate) fn over_time(name: &str, points: &[(i64, f64)]) -> f64 {
    let values = points.iter().map(|p| p.1);
    match name {
        "min_over_time" => values.fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
        "max_over_time" => values.fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
        "sum_over_time" => values.collect::<KahanSum>().value(),
        "avg_over_time" => values.collect::<Mean>().value(),
        "count_over_time" => points.len() as f64,
        "present_over_time" => 1.0,
        "last_over_time" => points[points.len() - 1].1,
        "ts_of_last_over_time" => points[points.len() - 1].0 as f64 / 1000.0,
        // The latest extreme wins a tie; a NaN extreme gives way to any value.
        "ts_of_min_over_time" => ts_of_extreme(points, |v, m| v <= m || m.is_nan()),
        "ts_of_max_over_time" => ts_of_extreme(points, |v, m| v >= m || m.is_nan()),
        "mad_over_time" => {
            let median = quantile(0.5, values.collect());
            quantile(0.5, points.iter().map(|p| (p.1 - median).abs()).collect())
        }
        _ => {
            // stddev / stdvar: Welford's online variance, as Prometheus does.
            let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
            for v in values {
                count += 1.0;
                let delta = v - mean;
                mean += delta / count;
                m2 += delta * (v - mean);
            }
            let var = m2 / count;
            if name == "stddev_over_time" {
                var.sqrt()
            } else {
                var
            }
        }
    }
}

/// The time (seconds) of the point `better` prefers over the extreme so far, as
/// Prometheus's `compareOverTime` (at least one point).
fn ts_of_extreme(points: &[(i64, f64)], better: impl Fn(f64, f64) -> bool) -> f64 {
    let (mut t, mut m) = points[0];
    for &(pt, v) in points {
        if better(v, m) {
            (t, m) = (pt, v);
        }
    }
    t as f64 / 1000.0
}

/// `double_exponential_smoothing(v, sf, tf)` over one series' points (Prometheus's
/// Holt linear smoothing): None with fewer than two points.
pub(crate) fn double_exponential_smoothing(points: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let (mut s0, mut s1) = (0.0, points[0].1);
    let mut b = points[1].1 - points[0].1;
    for (i, p) in points.iter().enumerate().skip(1) {
        let x = sf * p.1;
        // The trend at the previous point (the initial trend at the first).
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        (s0, s1) = (s1, x + y);
    }
    Some(s1)
}

/// Number of times the value changed (`changes`) or decreased (`resets`).
pub(crate) fn count_changes(points: &[(i64, f64)], resets: bool) -> f64 {
    points
        .windows(2)
        .filter(|w| {
            let (prev, cur) = (w[0].1, w[1].1);
            if resets {
                cur < prev
            } else {
                cur != prev && !(cur.is_nan() && prev.is_nan())
            }
        })
        .count() as f64
}

/// Prometheus' `linearRegression`: least-squares slope (per second) and intercept at
/// `intercept_t` of `points` (at least one).
pub(crate) fn linear_regression(points: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let init_y = points[0].1;
    if points.iter().all(|p| p.1 == init_y) {
        return if init_y.is_infinite() {
            (f64::NAN, f64::NAN)
        } else {
            (0.0, init_y)
        };
    }
    let n = points.len() as f64;
    let (mut sx, mut sy, mut sxy, mut sx2) = (
        KahanSum::default(),
        KahanSum::default(),
        KahanSum::default(),
        KahanSum::default(),
    );
    for &(t, y) in points {
        let x = (t - intercept_t) as f64 / 1e3;
        sx.add(x);
        sy.add(y);
        sxy.add(x * y);
        sx2.add(x * x);
    }
    let (sx, sy, sxy, sx2) = (sx.value(), sy.value(), sxy.value(), sx2.value());
    let cov_xy = sxy - sx * sy / n;
    let var_x = sx2 - sx * sx / n;
    let slope = cov_xy / var_x;
    (slope, sy / n - slope * sx / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn rate_extrapolates_to_range_boundaries() {
        // Samples every 10s at 10..=60 over (0, 60]: value 10, 20, ... 60.
        let points: Vec<(i64, f64)> = (1..=6).map(|i| (i * 10_000, i as f64 * 10.0)).collect();
        // increase = 50 over 50s sampled; to start 10s (< 11s threshold) but the zero
        // point is at 10s too; to end 0s. Extrapolated interval = 60s -> increase 60.
        let inc = extrapolated_rate(&points, 0, 60_000, true, false).unwrap();
        assert!(close(inc, 60.0), "{inc}");
        let rate = extrapolated_rate(&points, 0, 60_000, true, true).unwrap();
        assert!(close(rate, 1.0), "{rate}");
    }

    #[test]
    fn rate_limits_extrapolation_to_half_an_interval() {
        // Two samples 10s apart in the middle of a 60s range: gap to start 20s and to
        // end 30s both exceed 1.1 * 10s, so each side extrapolates by 5s only.
        let points = vec![(20_000, 100.0), (30_000, 110.0)];
        let inc = extrapolated_rate(&points, 0, 60_000, true, false).unwrap();
        // 10 * (10 + 5 + 5) / 10 = 20
        assert!(close(inc, 20.0), "{inc}");
    }

    #[test]
    fn rate_stops_at_counter_zero_point() {
        // Counter starting at 1 rising 10 per 10s: zero point is 1s before the first sample.
        let points = vec![(10_000, 1.0), (20_000, 11.0), (30_000, 21.0)];
        let inc = extrapolated_rate(&points, 0, 30_000, true, false).unwrap();
        // result 20, sampled 20s, to start min(10, 20*1/20=1) = 1, to end 0 -> 20*21/20 = 21
        assert!(close(inc, 21.0), "{inc}");
    }

    /// The zero-point limit applies after the choice between extrapolating to the range
    /// start and half an interval (Prometheus >= 2.51, #13725): a series starting 210 s
    /// into a 5 m window, zero point 40 s before its first sample, extrapolates 30 s to the
    /// left (6.0), where Prometheus <= 2.50 extrapolated 40 s (6.5).
    #[test]
    fn zero_point_limit_follows_the_threshold_choice() {
        let points = vec![(210_000, 2.0), (270_000, 5.0)];
        let increase = extrapolated_rate(&points, 0, 300_000, true, false).unwrap();
        assert!((increase - 6.0).abs() < 1e-12, "{increase}");
    }

    #[test]
    fn counter_resets_are_compensated() {
        let points = vec![(10_000, 5.0), (20_000, 10.0), (30_000, 2.0), (40_000, 7.0)];
        // raw 7-5 = 2, plus 10 at the reset = 12 over 30s; start gap 10s < 11s, zero
        // point 30*5/12 = 12.5s > 10s; end gap 0 -> 12 * 40/30 = 16
        let inc = extrapolated_rate(&points, 0, 40_000, true, false).unwrap();
        assert!(close(inc, 16.0), "{inc}");
        // delta ignores resets and zero points: 2 * 40/30
        let d = extrapolated_rate(&points, 0, 40_000, false, false).unwrap();
        assert!(close(d, 2.0 * 40.0 / 30.0), "{d}");
    }

    #[test]
    fn rate_needs_two_points() {
        assert_eq!(extrapolated_rate(&[(1, 1.0)], 0, 10, true, true), None);
    }

    #[test]
    fn irate_handles_resets() {
        assert_eq!(instant_delta(&[(0, 10.0), (10_000, 30.0)], true), Some(2.0));
        assert_eq!(instant_delta(&[(0, 10.0), (10_000, 5.0)], true), Some(0.5));
        assert_eq!(
            instant_delta(&[(0, 10.0), (10_000, 5.0)], false),
            Some(-5.0)
        );
    }

    #[test]
    fn over_time_aggregates() {
        let p = vec![(1, 1.0), (2, 3.0), (3, 2.0)];
        assert_eq!(over_time("min_over_time", &p), 1.0);
        assert_eq!(over_time("max_over_time", &p), 3.0);
        assert_eq!(over_time("sum_over_time", &p), 6.0);
        assert_eq!(over_time("avg_over_time", &p), 2.0);
        assert_eq!(over_time("count_over_time", &p), 3.0);
        assert_eq!(over_time("last_over_time", &p), 2.0);
        assert!(close(over_time("stdvar_over_time", &p), 2.0 / 3.0));
        assert_eq!(over_time("ts_of_min_over_time", &p), 0.001);
        assert_eq!(over_time("ts_of_max_over_time", &p), 0.002);
        assert_eq!(over_time("ts_of_last_over_time", &p), 0.003);
        // Median 2, deviations 1 1 0: median 1.
        assert_eq!(over_time("mad_over_time", &p), 1.0);
    }

    #[test]
    fn ts_of_extremes_prefer_the_latest_tie_and_skip_nan() {
        let p = vec![
            (1_000, f64::NAN),
            (2_000, 3.0),
            (3_000, 1.0),
            (4_000, 3.0),
            (5_000, 1.0),
        ];
        assert_eq!(over_time("ts_of_max_over_time", &p), 4.0);
        assert_eq!(over_time("ts_of_min_over_time", &p), 5.0);
    }

    #[test]
    fn double_exponential_smoothing_follows_a_line() {
        let line: Vec<(i64, f64)> = (0..10).map(|i| (i * 10_000, 10.0 * i as f64)).collect();
        assert!(close(
            double_exponential_smoothing(&line, 0.5, 0.5).unwrap(),
            90.0
        ));
        assert_eq!(double_exponential_smoothing(&line[..1], 0.5, 0.5), None);
    }

    #[test]
    fn changes_and_resets() {
        let p = vec![
            (0, 1.0),
            (1, 1.0),
            (2, 3.0),
            (3, 2.0),
            (4, f64::NAN),
            (5, f64::NAN),
        ];
        assert_eq!(count_changes(&p, false), 3.0);
        assert_eq!(count_changes(&p, true), 1.0);
    }

    #[test]
    fn regression_fits_a_line() {
        // y = 2x + 1 with x in seconds.
        let p: Vec<(i64, f64)> = (0..5).map(|i| (i * 1000, 2.0 * i as f64 + 1.0)).collect();
        let (slope, intercept) = linear_regression(&p, 0);
        assert!(close(slope, 2.0) && close(intercept, 1.0));
        let (slope, intercept) = linear_regression(&p, 10_000);
        assert!(close(slope, 2.0) && close(intercept, 21.0));
        assert_eq!(linear_regression(&[(0, 3.0), (1000, 3.0)], 0), (0.0, 3.0));
    }
}
