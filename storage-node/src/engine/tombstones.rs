//! Tombstones: the time intervals of series that `delete_series` removed
//! ([`Engine::apply`](super::Engine::apply) of an admin record, [`crate::admin_record`]).
//!
//! A tombstone is a series id and inclusive intervals. It is stored with the engine's
//! other state (RocksDB, written in the delete's own batch) and masks the series' data
//! on every read path until `clean_tombstones` rewrites the chunks without it and drops
//! it:
//!
//! - raw samples: a sample whose timestamp lies in an interval is not answered (head,
//!   frozen head and stored chunks alike, and samples written later into the interval);
//! - rollup points: a point whose bucket `[t, t + width)` overlaps an interval is not
//!   answered — it summarises deleted samples, and a bucket partly deleted gives no
//!   point rather than a point over part of its samples. Rollups computed later leave
//!   the deleted samples out of their input.
//!
//! Readers take the whole set as one `Arc` ([`Engine::tombstones`](super::Engine)): a
//! read sees the tombstones of one applied state, never half of a delete.

use std::collections::HashMap;

/// An inclusive time interval, in milliseconds.
pub type Interval = (i64, i64);

/// Deleted intervals per series: sorted, disjoint and not adjacent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tombstones {
    series: HashMap<u64, Vec<Interval>>,
}

impl Tombstones {
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Series with tombstones.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// The deleted intervals of series `id`.
    pub fn get(&self, id: u64) -> Option<&[Interval]> {
        self.series.get(&id).map(Vec::as_slice)
    }

    /// Every series with its intervals (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[Interval])> {
        self.series.iter().map(|(id, ivs)| (*id, ivs.as_slice()))
    }

    /// Adds `interval` to series `id` (merged with the intervals it touches) and returns
    /// the series' intervals after it.
    pub fn add(&mut self, id: u64, interval: Interval) -> &[Interval] {
        let ivs = self.series.entry(id).or_default();
        ivs.push(interval);
        *ivs = merged(std::mem::take(ivs));
        ivs
    }

    /// Sets the intervals of series `id` as stored (normalised).
    pub fn insert(&mut self, id: u64, intervals: Vec<Interval>) {
        let ivs = merged(intervals);
        if !ivs.is_empty() {
            self.series.insert(id, ivs);
        }
    }
}

/// `intervals` sorted, with overlapping and adjacent ones joined; empty ones dropped.
fn merged(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.retain(|(lo, hi)| lo <= hi);
    intervals.sort_unstable();
    let mut out: Vec<Interval> = Vec::with_capacity(intervals.len());
    for (lo, hi) in intervals {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

/// Whether `t` lies in one of `intervals` (sorted, disjoint).
pub fn covers(intervals: &[Interval], t: i64) -> bool {
    let i = intervals.partition_point(|(_, hi)| *hi < t);
    intervals.get(i).is_some_and(|(lo, _)| *lo <= t)
}

/// Whether `[lo, hi]` overlaps one of `intervals` (sorted, disjoint).
pub fn overlaps(intervals: &[Interval], lo: i64, hi: i64) -> bool {
    let i = intervals.partition_point(|(_, end)| *end < lo);
    intervals.get(i).is_some_and(|(start, _)| *start <= hi)
}

/// Whether a rollup point of bucket `[t, t + width)` summarises deleted samples.
pub fn bucket_deleted(intervals: &[Interval], t: i64, width: i64) -> bool {
    overlaps(
        intervals,
        t,
        t.saturating_add(width.max(1)).saturating_sub(1),
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn intervals_merge_and_answer_coverage() {
        let mut t = Tombstones::default();
        t.add(7, (10, 20));
        t.add(7, (30, 40));
        assert_eq!(t.get(7), Some(&[(10, 20), (30, 40)][..]));
        // Adjacent and overlapping intervals join.
        assert_eq!(t.add(7, (21, 29)), &[(10, 40)]);
        assert_eq!(t.add(7, (35, 50)), &[(10, 50)]);
        let ivs = t.get(7).unwrap();
        assert!(!covers(ivs, 9) && covers(ivs, 10) && covers(ivs, 50) && !covers(ivs, 51));
        assert!(overlaps(ivs, 0, 10) && overlaps(ivs, 50, 60) && !overlaps(ivs, 51, 60));
        assert!(bucket_deleted(ivs, 0, 11) && !bucket_deleted(ivs, 0, 10));
        assert!(t.get(8).is_none());
        t.insert(9, vec![(5, 4)]);
        assert!(t.get(9).is_none(), "an empty interval is no tombstone");
    }

    proptest! {
        #[test]
        fn coverage_is_the_union_of_what_was_added(
            added in proptest::collection::vec((-50i64..50, 0i64..20), 1..8),
            probes in proptest::collection::vec(-80i64..80, 1..40),
        ) {
            let mut t = Tombstones::default();
            for (lo, len) in &added {
                t.add(1, (*lo, lo + len));
            }
            let ivs = t.get(1).unwrap();
            for w in ivs.windows(2) {
                prop_assert!(w[0].1 + 1 < w[1].0, "not normalised: {ivs:?}");
            }
            for p in probes {
                let want = added.iter().any(|(lo, len)| *lo <= p && p <= lo + len);
                prop_assert_eq!(covers(ivs, p), want);
                let want_overlap = added.iter().any(|(lo, len)| *lo <= p + 3 && p <= lo + len);
                prop_assert_eq!(overlaps(ivs, p, p + 3), want_overlap);
            }
        }
    }
}
