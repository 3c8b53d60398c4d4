//! Splitting a range query's steps into fixed intervals aligned to multiples of the
//! interval length (so consecutive queries over a moving window share them), and
//! putting the pieces back together.

use std::collections::HashMap;

use crate::labels::Labels;
use crate::value::Series;

/// The interval length for `step`: a multiple of the step, at least `target_ms` and at
/// least 60 steps (so a long step does not make one fetch per step).
pub(crate) fn interval_for(step: i64, target_ms: i64) -> i64 {
    let steps = (target_ms.max(1) + step - 1) / step;
    step.saturating_mul(steps.max(60))
}

/// One interval a range query touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    /// `k * interval`: the cache key's interval part.
    pub interval_start: i64,
    /// The first and last step of the whole interval (steps at the query's phase).
    pub full: (i64, i64),
    /// The steps of the interval the query asks for.
    pub wanted: (i64, i64),
}

/// The intervals the steps `start, start + step, ..., <= end` fall into, in time order.
pub(crate) fn pieces(start: i64, end: i64, step: i64, interval: i64) -> Vec<Piece> {
    let last = start + (end - start) / step * step;
    let mut out = Vec::new();
    let mut k = start.div_euclid(interval);
    loop {
        let lo = k * interval;
        let first = lo + (start - lo).rem_euclid(step);
        let full = (first, first + (interval / step - 1) * step);
        if full.0 > last {
            break;
        }
        out.push(Piece {
            interval_start: lo,
            full,
            wanted: (full.0.max(start), full.1.min(last)),
        });
        k += 1;
    }
    out
}

/// The points of `series` at times in `[from, to]` (series left without points dropped).
pub(crate) fn slice(series: &[Series], from: i64, to: i64) -> Vec<Series> {
    series
        .iter()
        .filter_map(|s| {
            let a = s.points.partition_point(|p| p.0 < from);
            let b = s.points.partition_point(|p| p.0 <= to);
            let c = s.histograms.partition_point(|p| p.0 < from);
            let d = s.histograms.partition_point(|p| p.0 <= to);
            (a < b || c < d).then(|| Series {
                metric: s.metric.clone(),
                points: s.points[a..b].to_vec(),
                histograms: s.histograms[c..d].to_vec(),
            })
        })
        .collect()
}

/// Pieces in time order merged into one matrix, series sorted by labels (as an
/// evaluation of the whole range sorts them).
pub(crate) fn merge(parts: Vec<Vec<Series>>) -> Vec<Series> {
    let mut by_labels: HashMap<Labels, Series> = HashMap::new();
    for part in parts {
        for s in part {
            let entry = by_labels.entry(s.metric).or_default();
            entry.points.extend(s.points);
            entry.histograms.extend(s.histograms);
        }
    }
    let mut out: Vec<Series> = by_labels
        .into_iter()
        .map(|(metric, s)| Series { metric, ..s })
        .collect();
    out.sort_by(|a, b| a.metric.cmp(&b.metric));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_step_multiples_of_at_least_sixty_steps() {
        assert_eq!(interval_for(15_000, 3_600_000), 3_600_000);
        assert_eq!(interval_for(7_000, 3_600_000), 3_605_000);
        assert_eq!(interval_for(3_600_000, 3_600_000), 60 * 3_600_000);
    }

    #[test]
    fn pieces_cover_every_step_once() {
        for (start, end, step, interval) in [
            (0, 1000, 10, 100),
            (5, 997, 10, 100),
            (-55, 300, 7, 70),
            (1234, 1234, 3, 30),
            (100, 199, 100, 6000),
        ] {
            let ps = pieces(start, end, step, interval);
            let mut steps = Vec::new();
            for p in &ps {
                assert_eq!(p.interval_start.rem_euclid(interval), 0);
                assert!(p.full.0 >= p.interval_start && p.full.1 < p.interval_start + interval);
                assert_eq!((p.full.0 - start).rem_euclid(step), 0);
                let mut t = p.wanted.0;
                while t <= p.wanted.1 {
                    steps.push(t);
                    t += step;
                }
            }
            let expected: Vec<i64> = (0..)
                .map(|i| start + i * step)
                .take_while(|t| *t <= end)
                .collect();
            assert_eq!(steps, expected, "{start} {end} {step} {interval}");
        }
    }

    #[test]
    fn slices_merge_back_to_the_whole() {
        let a = Labels::from(vec![("a".to_string(), "1".to_string())]);
        let b = Labels::from(vec![("a".to_string(), "2".to_string())]);
        let whole = vec![
            Series::floats(a.clone(), vec![(1, 1.0), (2, 2.0), (5, 5.0)]),
            Series {
                metric: b,
                points: vec![(4, 4.0)],
                histograms: vec![(
                    3,
                    std::sync::Arc::new(crate::value::FloatHistogram::default()),
                )],
            },
        ];
        let parts = vec![
            slice(&whole, 0, 2),
            slice(&whole, 3, 4),
            slice(&whole, 5, 9),
        ];
        assert_eq!(parts[0].len(), 1);
        assert_eq!(merge(parts), whole);
    }
}
