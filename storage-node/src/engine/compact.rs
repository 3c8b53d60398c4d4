//! Compaction of raw chunks: each flush of the head writes one chunk per (series, day)
//! covering what arrived since the previous flush, and flushes come as often as the Raft
//! log's size bound asks (a snapshot flushes the engine). So that chunk size does not
//! depend on how often that is, the chunks of a series that lie wholly inside an hour
//! window are rewritten as one chunk when the window is rolled up (the pass reads them
//! anyway), as Prometheus compacts its small blocks into larger ones.
//!
//! Only chunks whose time ranges are disjoint from every other chunk of the series
//! touching the window are merged: then no timestamp is held twice, and the merged chunk
//! (written with the highest sequence number of its parts) cannot change which write
//! wins anywhere. Overlapping chunks (out-of-order writes, backfill) are left as they are.

use super::Engine;
use crate::chunk::samples;
use crate::error::{Error, Result};
use crate::store::{Batch, StoredChunk};
use crate::tier::Tier;

/// What merging the raw chunks of one series in one window would do.
#[derive(Debug, PartialEq)]
pub(crate) struct Merged {
    /// The parts (start, seq) to delete.
    pub parts: Vec<(i64, u64)>,
    /// The merged chunk: its bounds, sequence number and samples.
    pub bounds: (i64, i64),
    pub seq: u64,
    pub samples: Vec<(i64, f64)>,
}

/// Decides the merge of `chunks` (every chunk of one series touching `[start, end)`, in
/// key order): the chunks wholly inside the window, when there are at least two and no
/// chunk touching the window overlaps another in time.
pub(crate) fn plan(chunks: &[StoredChunk], start: i64, end: i64) -> Option<Vec<&StoredChunk>> {
    let mut by_time: Vec<&StoredChunk> = chunks.iter().collect();
    by_time.sort_by_key(|c| (c.start, c.end));
    if by_time.windows(2).any(|w| w[1].start <= w[0].end) {
        return None;
    }
    let inside: Vec<&StoredChunk> = by_time
        .into_iter()
        .filter(|c| c.start >= start && c.end < end)
        .collect();
    (inside.len() >= 2).then_some(inside)
}

/// Decodes and concatenates the planned parts (disjoint, in time order).
pub(crate) fn merge(parts: &[&StoredChunk]) -> std::result::Result<Merged, String> {
    let mut samples = Vec::new();
    for part in parts {
        samples::decode_into(&part.data, &mut samples).map_err(|e| e.to_string())?;
    }
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return Err("the parts hold no samples".into());
    };
    Ok(Merged {
        parts: parts.iter().map(|c| (c.start, c.seq)).collect(),
        bounds: (first.0, last.0),
        seq: parts.iter().map(|c| c.seq).max().unwrap_or_default(),
        samples,
    })
}

impl Engine {
    /// Merges the raw chunks of series `id` wholly inside the hour window starting at
    /// `start` of `day` into one, in `batch`. `chunks` are the series' raw chunks of `day`
    /// that may hold data within the window. Returns whether it did.
    pub(super) fn compact_raw_window(
        &self,
        batch: &mut Batch<'_>,
        (day, id): (i64, u64),
        (start, end): (i64, i64),
        chunks: &[StoredChunk],
    ) -> Result<bool> {
        let Some(parts) = plan(chunks, start, end) else {
            return Ok(false);
        };
        let merged = merge(&parts).map_err(|detail| Error::Corrupt {
            what: "raw chunk",
            detail: format!("series {id} day {day}: {detail}"),
        })?;
        let new_key = (merged.bounds.0, merged.seq);
        for (part_start, part_seq) in &merged.parts {
            if (*part_start, *part_seq) != new_key {
                batch.delete_chunk(Tier::Raw, day, id, *part_start, *part_seq);
            }
        }
        batch.put_chunk(
            Tier::Raw,
            day,
            id,
            merged.bounds,
            merged.seq,
            &samples::encode(&merged.samples),
        );
        self.metrics
            .chunks_compacted
            .inc_by(merged.parts.len() as u64);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(samples: &[(i64, f64)], seq: u64) -> StoredChunk {
        StoredChunk {
            start: samples[0].0,
            end: samples[samples.len() - 1].0,
            seq,
            data: samples::encode(samples),
        }
    }

    #[test]
    fn disjoint_chunks_inside_the_window_merge_and_straddlers_stay() {
        let straddler = chunk(&[(90, 1.0), (110, 2.0)], 1);
        let a = chunk(&[(120, 3.0), (130, 4.0)], 2);
        let b = chunk(&[(140, 5.0), (150, f64::NAN)], 3);
        let c = chunk(&[(160, 7.0)], 4);
        let chunks = vec![straddler.clone(), a.clone(), b.clone(), c.clone()];
        let parts = plan(&chunks, 100, 200).unwrap();
        assert_eq!(parts, vec![&a, &b, &c]);
        let merged = merge(&parts).unwrap();
        assert_eq!(merged.bounds, (120, 160));
        assert_eq!(merged.seq, 4);
        assert_eq!(merged.parts, vec![(120, 2), (140, 3), (160, 4)]);
        let times: Vec<i64> = merged.samples.iter().map(|s| s.0).collect();
        assert_eq!(times, vec![120, 130, 140, 150, 160]);
        assert!(merged.samples[3].1.is_nan());
    }

    #[test]
    fn overlapping_or_single_chunks_are_left_alone() {
        let a = chunk(&[(120, 3.0), (140, 4.0)], 2);
        let b = chunk(&[(130, 5.0), (150, 6.0)], 3);
        assert_eq!(plan(&[a.clone(), b], 100, 200), None, "overlap");
        assert_eq!(plan(std::slice::from_ref(&a), 100, 200), None, "one chunk");
        // A chunk overlapping a straddler blocks the merge too.
        let straddler = chunk(&[(90, 1.0), (125, 2.0)], 9);
        let c = chunk(&[(160, 7.0)], 4);
        assert_eq!(plan(&[straddler, a, c], 100, 200), None);
    }
}
