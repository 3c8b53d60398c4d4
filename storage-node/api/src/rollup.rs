//! What a rollup point means, as one pure definition shared by the storage engine (which
//! computes and stores them) and by readers that compute them from raw samples.
//!
//! A point summarises the samples of the bucket `[t, t + width)`: count, sum, min, max,
//! last (and its timestamp), a counter-reset-aware increase and a quantile sketch of the
//! values ([`crate::sketch`]). Staleness markers are not samples here. The increase of a
//! bucket includes the step from the last sample before it (when at most
//! [`INCREASE_LOOKBACK_MS`] older) to its first sample, so the increases of consecutive
//! buckets add up to the increase over their whole span, and a coarser rollup is the
//! merge of finer ones ([`merge`]): sketches merge too, and a coarser point has one only
//! when every finer point had one (points rolled up before sketches existed have none).

use telltale_model::is_stale_nan;

use crate::pb::Aggregate;
use crate::sketch::Sketch;

/// How far back the previous sample may lie and still count towards a bucket's increase.
/// It must cover the scrape intervals in use: with 5 minutes (Prometheus's lookback
/// delta) a counter scraped every 10 minutes had no increase at all in its rollups, so
/// `rate()` over rollups answered 0. 15 minutes covers the usual slow exporters (up to
/// 15 m) and keeps the raw data a rollup pass re-reads small; a step across a longer gap
/// is not counted (as a gap with a staleness marker never is).
pub const INCREASE_LOOKBACK_MS: i64 = 15 * 60 * 1000;

/// The start of the bucket of width `width_ms` that holds `t` (floor, also for negative
/// timestamps; saturating at `i64::MIN`).
pub fn bucket_start(t: i64, width_ms: i64) -> i64 {
    t.saturating_sub(t.rem_euclid(width_ms))
}

/// Summarises time-ordered raw `samples` into buckets of `width_ms`.
///
/// `prev` is the last sample before `samples[0]` (if known), used for the first bucket's
/// increase. Buckets without samples produce no point; points are in time order.
pub fn summarise(
    samples: &[(i64, f64)],
    prev: Option<(i64, f64)>,
    width_ms: i64,
) -> Vec<Aggregate> {
    let mut out: Vec<Aggregate> = Vec::new();
    let mut sketch = Sketch::default();
    let mut prev = prev.filter(|(_, v)| !is_stale_nan(*v));
    for &(t, v) in samples {
        if is_stale_nan(v) {
            // A gap: the next sample does not continue from before the marker.
            prev = None;
            continue;
        }
        let start = bucket_start(t, width_ms);
        let step = match prev {
            Some((pt, pv)) if t - pt <= INCREASE_LOOKBACK_MS && t > pt => {
                if v >= pv {
                    v - pv
                } else {
                    v
                }
            }
            _ => 0.0,
        };
        match out.last_mut() {
            Some(p) if p.timestamp_ms == start => {
                p.count += 1;
                p.sum += v;
                p.min = p.min.min(v);
                p.max = p.max.max(v);
                p.last = v;
                p.last_timestamp_ms = t;
                p.increase += step;
            }
            last => {
                if let Some(p) = last {
                    p.sketch = std::mem::take(&mut sketch).to_bytes();
                }
                out.push(Aggregate {
                    timestamp_ms: start,
                    count: 1,
                    sum: v,
                    min: v,
                    max: v,
                    last: v,
                    increase: step,
                    last_timestamp_ms: t,
                    sketch: Vec::new(),
                    histogram: None,
                });
            }
        }
        sketch.add(v);
        prev = Some((t, v));
    }
    if let Some(p) = out.last_mut() {
        p.sketch = sketch.to_bytes();
    }
    out
}

/// Merges time-ordered finer points into buckets of `width_ms` (a multiple of theirs).
pub fn merge(points: &[Aggregate], width_ms: i64) -> Vec<Aggregate> {
    let mut out: Vec<Aggregate> = Vec::new();
    // The merged sketch of the open bucket; None once a point without one joined it.
    let mut sketch: Option<Sketch> = None;
    for p in points {
        let start = bucket_start(p.timestamp_ms, width_ms);
        match out.last_mut() {
            Some(o) if o.timestamp_ms == start => {
                o.count += p.count;
                o.sum += p.sum;
                o.min = o.min.min(p.min);
                o.max = o.max.max(p.max);
                o.last = p.last;
                o.last_timestamp_ms = p.last_timestamp_ms;
                o.increase += p.increase;
            }
            last => {
                if let Some(o) = last {
                    o.sketch = sketch.take().map(|s| s.to_bytes()).unwrap_or_default();
                }
                out.push(Aggregate {
                    timestamp_ms: start,
                    sketch: Vec::new(),
                    histogram: None,
                    ..*p
                });
                sketch = Some(Sketch::default());
            }
        }
        sketch = sketch.and_then(|mut s| {
            s.merge(&Sketch::decode(&p.sketch).ok().filter(|f| f.count() > 0)?);
            Some(s)
        });
    }
    if let Some(o) = out.last_mut() {
        o.sketch = sketch.map(|s| s.to_bytes()).unwrap_or_default();
    }
    out
}

/// The sketch of two points of one bucket combined (parts of a series answered by
/// different shards): none unless both have one.
pub fn merge_sketches(a: &[u8], b: &[u8]) -> Vec<u8> {
    match (Sketch::decode(a), Sketch::decode(b)) {
        (Ok(mut a), Ok(b)) if a.count() > 0 && b.count() > 0 => {
            a.merge(&b);
            a.to_bytes()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn buckets_hold_count_sum_min_max_last() {
        let s = [(0, 1.0), (10_000, 5.0), (59_999, 3.0), (60_000, 2.0)];
        let p = summarise(&s, None, MIN);
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].count, p[0].sum, p[0].min, p[0].max, p[0].last),
            (3, 9.0, 1.0, 5.0, 3.0)
        );
        assert_eq!(p[0].last_timestamp_ms, 59_999);
        assert_eq!((p[1].timestamp_ms, p[1].count, p[1].sum), (60_000, 1, 2.0));
    }

    #[test]
    fn increase_is_counter_reset_aware_and_crosses_bucket_edges() {
        // 10 -> 15 (+5), 15 -> 3 reset (+3), 3 -> 4 (+1) across the edge.
        let s = [(30_000, 15.0), (50_000, 3.0), (70_000, 4.0)];
        let p = summarise(&s, Some((20_000, 10.0)), MIN);
        assert_eq!(p[0].increase, 8.0);
        assert_eq!(p[1].increase, 1.0);
        let hour = merge(&p, 60 * MIN);
        assert_eq!(hour.len(), 1);
        assert_eq!(hour[0].increase, 9.0);
        assert_eq!(hour[0].count, 3);
        assert_eq!(hour[0].last, 4.0);
    }

    /// A counter scraped every 10 minutes: each minute bucket holds one sample and its
    /// increase is the step from the previous scrape, so an hour adds up.
    #[test]
    fn slow_scrapes_still_count_towards_the_increase() {
        let s: Vec<(i64, f64)> = (0..7).map(|i| (i * 10 * MIN, i as f64 * 6.0)).collect();
        let minutes = summarise(&s[1..], Some(s[0]), MIN);
        assert!(minutes.iter().all(|p| p.increase == 6.0), "{minutes:?}");
        let hours = merge(&minutes, 60 * MIN);
        assert_eq!((hours[0].increase, hours[1].increase), (30.0, 6.0));
    }

    #[test]
    fn staleness_markers_are_skipped_and_break_the_increase() {
        let s = [(0, 1.0), (10_000, telltale_model::STALE_NAN), (20_000, 7.0)];
        let p = summarise(&s, None, MIN);
        assert_eq!(p[0].count, 2);
        assert_eq!(p[0].increase, 0.0);
    }

    #[test]
    fn previous_sample_too_old_does_not_count() {
        let p = summarise(&[(20 * MIN, 5.0)], Some((0, 1.0)), MIN);
        assert_eq!(p[0].increase, 0.0);
        let p = summarise(&[(15 * MIN, 5.0)], Some((0, 1.0)), MIN);
        assert_eq!(p[0].increase, 4.0);
    }

    #[test]
    fn points_keep_a_sketch_of_their_values_without_staleness_markers() {
        let stale = telltale_model::STALE_NAN;
        let s = [(0, 0.2), (15_000, stale), (30_000, 0.3), (61_000, f64::NAN)];
        let p = summarise(&s, None, MIN);
        assert_eq!(Sketch::decode(&p[0].sketch), Ok(Sketch::of([0.2, 0.3])));
        assert_eq!(Sketch::decode(&p[1].sketch), Ok(Sketch::of([f64::NAN])));
    }

    /// An hour point's sketch is the sketch of the hour's samples.
    #[test]
    fn merged_sketches_are_the_sketch_of_all_samples() {
        let s: Vec<(i64, f64)> = (0..240)
            .map(|i| (i * 15_000 + 500, 0.05 + ((i * 37) % 101) as f64 / 400.0))
            .collect();
        let hour = merge(&summarise(&s, None, MIN), 60 * MIN);
        assert_eq!(hour.len(), 1);
        let whole = Sketch::of(s.iter().map(|x| x.1));
        assert_eq!(Sketch::decode(&hour[0].sketch), Ok(whole));
    }

    /// A point rolled up before sketches existed makes its coarser point sketch-less:
    /// a sketch of part of the bucket would answer wrong quantiles.
    #[test]
    fn a_point_without_a_sketch_leaves_the_merge_without_one() {
        let s: Vec<(i64, f64)> = (0..6).map(|i| (i * 30_000, i as f64)).collect();
        let mut minutes = summarise(&s, None, MIN);
        minutes[1].sketch.clear();
        let hour = merge(&minutes, 60 * MIN);
        assert!(hour[0].sketch.is_empty());
        assert_eq!(hour[0].count, 6);
        // The next bucket starts afresh.
        let later = summarise(&[(61 * MIN, 1.0)], None, MIN);
        let both: Vec<Aggregate> = minutes.into_iter().chain(later).collect();
        let hours = merge(&both, 60 * MIN);
        assert!(hours[0].sketch.is_empty());
        assert_eq!(Sketch::decode(&hours[1].sketch), Ok(Sketch::of([1.0])));
    }

    #[test]
    fn negative_timestamps_floor() {
        assert_eq!(bucket_start(-1, MIN), -MIN);
        assert_eq!(bucket_start(0, MIN), 0);
    }
}
