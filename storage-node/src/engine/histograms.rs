//! Reading native histogram samples: a series' histogram samples live in chunks of
//! their own (stored under `keys::histogram_chunk_id`, held in the head's
//! `HistogramHead`s), answered beside its float chunks as `Encoding::Histograms`
//! chunks, with the same rules as floats: chunks inside the bounds that overlap nothing
//! pass through as stored, the rest is decoded, merged (the later write wins) and
//! encoded again; deleted intervals are masked.
//!
//! Databases that never had a histogram (`Engine::has_histograms`) skip all of this.

use std::collections::HashMap;
use std::sync::Arc;

use telltale_storage_api::FloatHistogram;
use telltale_storage_api::histogram::rollup as histogram_rollup;
use telltale_storage_api::rollup::INCREASE_LOOKBACK_MS;

use super::Engine;
use super::read::Merge;
use super::rollup::put_points;
use super::select::{ChunkData, Encoding, RunCodec, corrupt, merged_chunks};
use super::tombstones::{Interval, covers, overlaps};
use crate::chunk::histograms;
use crate::error::Result;
use crate::store::keys::{self, day_of};
use crate::store::{Batch, ChunkReader, StoredChunk};
use crate::tier::Tier;

/// Histogram samples of one series, with the priority of their source.
pub(crate) type HistogramMerge = Merge<Arc<FloatHistogram>>;

impl Engine {
    /// What the head and the frozen head hold of the histogram samples of `ids`
    /// within `[start, end]` (taken under the head lock, as `memory_parts`).
    pub(crate) fn memory_histograms(
        &self,
        ids: impl Iterator<Item = u64>,
        start: i64,
        end: i64,
    ) -> HashMap<u64, HistogramMerge> {
        let head = self.head();
        let frozen = self.frozen();
        let mut out = HashMap::new();
        if head.histograms.is_empty() && frozen.histograms.is_empty() {
            return out;
        }
        for id in ids {
            let mut merge = HistogramMerge::default();
            if let Some(s) = frozen.histograms.get(&id) {
                merge.push(frozen.seq, s.samples_in(start, end));
            }
            if let Some(s) = head.histograms.get(&id) {
                merge.push(u64::MAX, s.samples_in(start, end));
            }
            if merge.span().is_some() {
                out.insert(id, merge);
            }
        }
        out
    }
}

impl Engine {
    /// The finest rollup tier's points of the histogram samples of series `ids` for
    /// the window `[start, end)` of `day` (as `raw_rollups` for floats), into `batch`.
    /// Returns the number of series with histogram samples in the window.
    pub(super) fn raw_histogram_rollups(
        &self,
        batch: &mut Batch<'_>,
        tier: Tier,
        ids: &[u64],
        (day, start, end): (i64, i64, i64),
        seq: u64,
    ) -> Result<usize> {
        let from = start - INCREASE_LOOKBACK_MS;
        let mut readers: Vec<(i64, ChunkReader<'_>)> = (day_of(from)..=day)
            .map(|d| (d, self.store.chunk_reader_uncached(Tier::Raw)))
            .collect();
        let mut memory = self.memory_histograms(ids.iter().copied(), from, end - 1);
        let tombstones = self.tombstones();
        let mut buf = Vec::new();
        let mut series = 0;
        for &id in ids {
            let chunk_id = keys::histogram_chunk_id(id);
            let mut merge = memory.remove(&id).unwrap_or_default();
            for (d, reader) in &mut readers {
                for c in reader.chunk_list(*d, chunk_id, (from, end - 1))? {
                    buf.clear();
                    histograms::decode_into(&c.data, &mut buf)
                        .map_err(|e| corrupt("histogram chunk", e))?;
                    merge.push(
                        c.seq,
                        buf.drain(..).filter(|(t, _)| (from..end).contains(t)),
                    );
                }
            }
            let mut raw = merge.finish();
            if let Some(deleted) = tombstones.get(id) {
                raw.retain(|(t, _)| !covers(deleted, *t));
            }
            let split = raw.partition_point(|(t, _)| *t < start);
            if split == raw.len() {
                continue;
            }
            let prev = raw[..split]
                .iter()
                .rev()
                .find(|(_, h)| !h.is_stale())
                .cloned();
            let points = histogram_rollup::summarise(&raw[split..], prev, tier.width_ms());
            series += usize::from(put_points(batch, tier, (day, chunk_id), seq, &points));
        }
        Ok(series)
    }
}

/// The histogram chunks of one series: `stored` (from disk) and `memory`, within
/// `[start, end]`, time-ordered and not overlapping.
pub(crate) fn histogram_chunks(
    stored: Vec<StoredChunk>,
    memory: Option<HistogramMerge>,
    start: i64,
    end: i64,
) -> Result<Vec<ChunkData>> {
    merged_chunks(
        stored,
        memory,
        (start, end),
        RunCodec {
            what: "histogram chunk",
            encoding: Encoding::Histograms,
            decode: histograms::decode_into,
            encode: histograms::encode,
        },
    )
}

fn encode_run(run: &[(i64, Arc<FloatHistogram>)]) -> ChunkData {
    ChunkData {
        min_t: run[0].0,
        max_t: run[run.len() - 1].0,
        count: run.len() as u32,
        encoding: Encoding::Histograms,
        data: histograms::encode(run),
    }
}

/// A histogram chunk without the samples `deleted` removes (None: nothing left).
pub(crate) fn mask_histogram_chunk(
    c: ChunkData,
    deleted: &[Interval],
) -> Result<Option<ChunkData>> {
    if !overlaps(deleted, c.min_t, c.max_t) {
        return Ok(Some(c));
    }
    let mut kept = Vec::new();
    histograms::decode_into(&c.data, &mut kept).map_err(|e| corrupt("histogram chunk", e))?;
    kept.retain(|(t, _)| !covers(deleted, *t));
    Ok((!kept.is_empty()).then(|| encode_run(&kept)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(count: f64) -> Arc<FloatHistogram> {
        let mut h = FloatHistogram {
            count,
            sum: count * 2.0,
            ..FloatHistogram::default()
        };
        h.set_positive([(1, count)]);
        Arc::new(h)
    }

    fn stored(samples: &[(i64, f64)], seq: u64) -> StoredChunk {
        let run: Vec<(i64, Arc<FloatHistogram>)> =
            samples.iter().map(|&(t, c)| (t, h(c))).collect();
        StoredChunk {
            start: run[0].0,
            end: run[run.len() - 1].0,
            seq,
            data: histograms::encode(&run),
        }
    }

    fn counts(chunks: &[ChunkData]) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        for c in chunks {
            assert_eq!(c.encoding, Encoding::Histograms);
            histograms::decode_into(&c.data, &mut out).unwrap();
        }
        out.into_iter().map(|(t, h)| (t, h.count)).collect()
    }

    #[test]
    fn overlapping_chunks_merge_with_the_later_write_winning() {
        let a = stored(&[(10, 1.0), (20, 2.0)], 1);
        let b = stored(&[(20, 5.0), (30, 6.0)], 2);
        let c = stored(&[(50, 7.0)], 3);
        let mut memory = HistogramMerge::default();
        memory.push(u64::MAX, [(60, h(8.0))]);
        let chunks = histogram_chunks(vec![c.clone(), b, a], Some(memory), 0, 100).unwrap();
        assert_eq!(
            counts(&chunks),
            vec![(10, 1.0), (20, 5.0), (30, 6.0), (50, 7.0), (60, 8.0)]
        );
        assert!(chunks.iter().any(|x| x.data == c.data), "passed through");
        for w in chunks.windows(2) {
            assert!(w[0].max_t < w[1].min_t);
        }
        let trimmed = histogram_chunks(vec![c], None, 0, 40).unwrap();
        assert!(trimmed.is_empty());
    }

    #[test]
    fn deleted_samples_are_masked() {
        let c = stored(&[(10, 1.0), (20, 2.0), (30, 3.0)], 1);
        let chunk = histogram_chunks(vec![c], None, 0, 100).unwrap().remove(0);
        let kept = mask_histogram_chunk(chunk.clone(), &[(15, 25)])
            .unwrap()
            .unwrap();
        assert_eq!(counts(&[kept]), vec![(10, 1.0), (30, 3.0)]);
        assert!(mask_histogram_chunk(chunk, &[(0, 100)]).unwrap().is_none());
    }
}
