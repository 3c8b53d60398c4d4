//! Rollup points of native histogram series ([`crate::rollup`]'s rules, for
//! histograms): a point of the bucket `[t, t + width)` keeps the bucket's last sample,
//! its counter-reset-aware increase (from the last sample before the bucket when at most
//! [`INCREASE_LOOKBACK_MS`] older, as float increases) and the sum of its samples, in
//! `Aggregate.histogram`; `count` counts the samples, `last_timestamp_ms` is the last
//! one's time and the float columns stay 0. Increases of consecutive buckets add up to
//! the increase over their span, so `rate()` over a long range reads coarse points.
//!
//! A step between two samples is the later minus the earlier, or the later whole after
//! a counter reset ([`detect_reset`]); a gauge histogram's step is the plain difference.
//! Histograms that cannot be added (custom bounds changed) restart the bucket's increase
//! and sum from the later sample.

use std::sync::Arc;

use super::{FloatHistogram, ResetHint, detect_reset};
use crate::pb::{Aggregate, HistogramPoint};
use crate::rollup::{INCREASE_LOOKBACK_MS, bucket_start};

/// The decoded histograms of one rollup point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub last: FloatHistogram,
    pub increase: FloatHistogram,
    pub sum: FloatHistogram,
}

impl Point {
    /// The point's histograms, when it is a histogram series' point whose
    /// histograms decode.
    pub fn of(a: &Aggregate) -> Option<Point> {
        let h = a.histogram.as_deref()?;
        Some(Point {
            last: FloatHistogram::from_proto(h.last.as_ref()?).ok()?,
            increase: FloatHistogram::from_proto(h.increase.as_ref()?).ok()?,
            sum: FloatHistogram::from_proto(h.sum.as_ref()?).ok()?,
        })
    }

    fn to_proto(&self, bucket: i64, last_ts: i64) -> Box<HistogramPoint> {
        Box::new(HistogramPoint {
            last: Some(self.last.to_proto(last_ts)),
            increase: Some(self.increase.to_proto(bucket)),
            sum: Some(self.sum.to_proto(bucket)),
        })
    }
}

/// The step from `prev` to `cur` that counts towards an increase.
fn step(prev: &FloatHistogram, cur: &FloatHistogram) -> FloatHistogram {
    let gauge = cur.reset_hint == ResetHint::Gauge;
    if !gauge && detect_reset(prev, cur) {
        return without_hint(cur.clone());
    }
    let mut d = cur.clone();
    match d.sub(prev) {
        Ok(()) => {
            d.compact();
            without_hint(d)
        }
        Err(_) => without_hint(cur.clone()),
    }
}

fn without_hint(mut h: FloatHistogram) -> FloatHistogram {
    if h.reset_hint != ResetHint::Gauge {
        h.reset_hint = ResetHint::Unknown;
    }
    h
}

/// `acc + x`, or `x` when they cannot be added.
fn accumulate(acc: &mut FloatHistogram, x: &FloatHistogram) {
    if acc.add(x).is_err() {
        *acc = x.clone();
    } else {
        acc.compact();
    }
}

/// An empty histogram of `like`'s layout kind (for a bucket whose first sample has no
/// step before it).
fn zero_like(like: &FloatHistogram) -> FloatHistogram {
    FloatHistogram {
        reset_hint: if like.reset_hint == ResetHint::Gauge {
            ResetHint::Gauge
        } else {
            ResetHint::Unknown
        },
        schema: like.schema,
        zero_threshold: like.zero_threshold,
        custom_values: like.custom_values.clone(),
        ..FloatHistogram::default()
    }
}

/// Summarises time-ordered histogram `samples` into points of `width_ms`; `prev` is
/// the last sample before them, if known. Staleness markers end a run (the next
/// sample does not step from before them) and are not counted.
pub fn summarise(
    samples: &[(i64, Arc<FloatHistogram>)],
    prev: Option<(i64, Arc<FloatHistogram>)>,
    width_ms: i64,
) -> Vec<Aggregate> {
    let mut out: Vec<(Aggregate, Point)> = Vec::new();
    let mut prev = prev.filter(|(_, h)| !h.is_stale());
    for (t, h) in samples {
        if h.is_stale() {
            prev = None;
            continue;
        }
        let start = bucket_start(*t, width_ms);
        let step = match &prev {
            Some((pt, ph)) if t - pt <= INCREASE_LOOKBACK_MS && t > pt => Some(step(ph, h)),
            _ => None,
        };
        match out.last_mut() {
            Some((a, p)) if a.timestamp_ms == start => {
                a.count += 1;
                a.last_timestamp_ms = *t;
                p.last = (**h).clone();
                accumulate(&mut p.sum, h);
                if let Some(s) = &step {
                    accumulate(&mut p.increase, s);
                }
            }
            _ => {
                let a = Aggregate {
                    timestamp_ms: start,
                    count: 1,
                    last_timestamp_ms: *t,
                    ..Aggregate::default()
                };
                let p = Point {
                    last: (**h).clone(),
                    increase: step.unwrap_or_else(|| zero_like(h)),
                    sum: (**h).clone(),
                };
                out.push((a, p));
            }
        }
        prev = Some((*t, h.clone()));
    }
    out.into_iter()
        .map(|(mut a, p)| {
            a.histogram = Some(p.to_proto(a.timestamp_ms, a.last_timestamp_ms));
            a
        })
        .collect()
}

/// Merges time-ordered finer histogram points into points of `width_ms`.
pub fn merge(points: &[Aggregate], width_ms: i64) -> Vec<Aggregate> {
    let mut out: Vec<(Aggregate, Point)> = Vec::new();
    for a in points {
        let Some(p) = Point::of(a) else { continue };
        let start = bucket_start(a.timestamp_ms, width_ms);
        match out.last_mut() {
            Some((o, op)) if o.timestamp_ms == start => {
                combine(o, op, a, p);
            }
            _ => out.push((
                Aggregate {
                    timestamp_ms: start,
                    count: a.count,
                    last_timestamp_ms: a.last_timestamp_ms,
                    ..Aggregate::default()
                },
                p,
            )),
        }
    }
    out.into_iter()
        .map(|(mut a, p)| {
            a.histogram = Some(p.to_proto(a.timestamp_ms, a.last_timestamp_ms));
            a
        })
        .collect()
}

/// Two points of one bucket as one (a later bucket part, or the part another shard
/// answered): counts, increases and sums add, the later sample is the last.
fn combine(o: &mut Aggregate, op: &mut Point, a: &Aggregate, p: Point) {
    o.count += a.count;
    accumulate(&mut op.increase, &p.increase);
    accumulate(&mut op.sum, &p.sum);
    if a.last_timestamp_ms >= o.last_timestamp_ms {
        o.last_timestamp_ms = a.last_timestamp_ms;
        op.last = p.last;
    }
}

/// Combines two histogram points of the same bucket in place (`a` keeps the result).
pub fn combine_points(a: &mut Aggregate, b: &Aggregate) {
    let (Some(mut ap), Some(bp)) = (Point::of(a), Point::of(b)) else {
        return;
    };
    combine(a, &mut ap, b, bp);
    a.histogram = Some(ap.to_proto(a.timestamp_ms, a.last_timestamp_ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn h(counts: &[(i32, f64)]) -> Arc<FloatHistogram> {
        let mut h = FloatHistogram {
            schema: 0,
            sum: counts.iter().map(|c| c.1).sum::<f64>() * 2.0,
            count: counts.iter().map(|c| c.1).sum(),
            ..FloatHistogram::default()
        };
        h.set_positive(counts.iter().copied());
        Arc::new(h)
    }

    fn increase(a: &Aggregate) -> FloatHistogram {
        Point::of(a).unwrap().increase
    }

    #[test]
    fn increases_add_up_across_buckets_and_resets() {
        // A counter histogram every 15 s for 3 minutes, reset at 100 s.
        let samples: Vec<(i64, Arc<FloatHistogram>)> = (0..12)
            .map(|i| {
                let n = if i < 7 {
                    i as f64 * 2.0
                } else {
                    (i - 7) as f64
                };
                (i * 15_000, h(&[(1, n), (2, n / 2.0)]))
            })
            .collect();
        let points = summarise(&samples, None, MIN);
        assert_eq!(points.len(), 3);
        assert_eq!(points.iter().map(|p| p.count).sum::<u64>(), 12);
        let mut total = increase(&points[0]);
        for p in &points[1..] {
            total.add(&increase(p)).unwrap();
        }
        total.compact();
        // 0 -> 12 before the reset, then 0..4 after it (the reset sample counts whole).
        assert_eq!(
            total.positive().collect::<Vec<_>>(),
            vec![(1, 16.0), (2, 8.0)]
        );
        let last = Point::of(&points[2]).unwrap().last;
        assert_eq!(last, *samples[11].1);
        // The hour point of the minute points is their merge.
        let hour = merge(&points, 60 * MIN);
        assert_eq!(hour.len(), 1);
        assert_eq!(hour[0].count, 12);
        let mut merged = increase(&hour[0]);
        merged.compact();
        assert_eq!(
            merged.positive().collect::<Vec<_>>(),
            total.positive().collect::<Vec<_>>()
        );
        assert_eq!(Point::of(&hour[0]).unwrap().last, *samples[11].1);
    }

    #[test]
    fn the_step_into_a_bucket_counts_and_stale_markers_end_runs() {
        let prev = (-10_000, h(&[(1, 4.0)]));
        let samples = vec![
            (5_000, h(&[(1, 6.0)])),
            (20_000, Arc::new(FloatHistogram::stale_marker())),
            (40_000, h(&[(1, 9.0)])),
        ];
        let points = summarise(&samples, Some(prev), MIN);
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].count, 2, "the marker is not a sample");
        // 4 -> 6 counts; nothing steps over the marker.
        let inc = increase(&points[0]);
        assert_eq!(inc.positive().collect::<Vec<_>>(), vec![(1, 2.0)]);
        let sum = Point::of(&points[0]).unwrap().sum;
        assert_eq!(sum.count, 15.0);
    }

    #[test]
    fn combining_shard_parts_keeps_the_later_last() {
        let a = summarise(
            &[(1_000, h(&[(1, 1.0)])), (2_000, h(&[(1, 3.0)]))],
            None,
            MIN,
        );
        let b = summarise(
            &[(30_000, h(&[(1, 5.0)]))],
            Some((2_000, h(&[(1, 3.0)]))),
            MIN,
        );
        let mut x = a[0].clone();
        combine_points(&mut x, &b[0]);
        assert_eq!(x.count, 3);
        assert_eq!(x.last_timestamp_ms, 30_000);
        assert_eq!(increase(&x).positive().collect::<Vec<_>>(), vec![(1, 4.0)]);
    }
}
