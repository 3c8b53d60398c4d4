//! Select: every selection of a query in one pass, each matching series answered as the
//! chunks it is stored in — raw Gorilla chunks or rollup chunks — trimmed to the
//! selection's bounds, not as decoded samples. The reader decodes them as it goes.
//!
//! A stored chunk inside the bounds that overlaps no other data of the series is passed
//! through as it is. Whatever overlaps (out-of-order writes, backfill, recomputed rollup
//! windows, the head) or crosses a bound is decoded, merged (the later write wins) and
//! encoded again, cut wherever a passed-through chunk lies, so the chunks of a series are
//! always in time order and never overlap. The request's budget of series and samples is
//! checked while reading: an over-budget select stops before it has read everything.
//! Data that `delete_series` removed is masked from each series' answer
//! ([`super::tombstones`]).

use std::collections::HashMap;
use std::sync::Arc;

use telltale_storage_api::Aggregate;

use super::Engine;
use super::histograms::{histogram_chunks, mask_histogram_chunk};
use super::read::{Found, Merge};
use super::tombstones::{Interval, bucket_deleted, covers, overlaps};
use crate::chunk::bits::read_uvarint;
use crate::chunk::{aggregates, samples};
use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::matcher::Selector;
use crate::store::StoredChunk;
use crate::store::keys;
use crate::tier::Tier;

/// One selection: the series matching `selector` with data in `[start, end]` of `tier`
/// (a rollup tier: points whose bucket starts in the bounds).
#[derive(Debug, Clone)]
pub struct SelectionSpec {
    pub selector: Selector,
    pub start: i64,
    pub end: i64,
    pub tier: Tier,
}

/// The selections of one query and its budget (0: unlimited).
#[derive(Debug, Clone, Default)]
pub struct SelectSpec {
    pub selections: Vec<SelectionSpec>,
    pub max_series: u64,
    pub max_samples: u64,
}

/// How a chunk's bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Raw samples ([`crate::chunk::samples`]).
    Samples,
    /// Rollup points ([`crate::chunk::aggregates`]).
    Points,
    /// Native histogram samples ([`crate::chunk::histograms`]).
    Histograms,
}

/// Compressed data of one series: `count` samples or points in `[min_t, max_t]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkData {
    pub min_t: i64,
    pub max_t: i64,
    pub count: u32,
    pub encoding: Encoding,
    pub data: Vec<u8>,
}

/// One series of a selection and its chunks (time-ordered, non-overlapping).
#[derive(Debug, Clone)]
pub struct SeriesData {
    pub selection: u32,
    pub labels: Arc<LabelSet>,
    pub chunks: Vec<ChunkData>,
}

/// What a select may still answer.
struct Budget {
    max_series: u64,
    max_samples: u64,
    series: u64,
    samples: u64,
}

impl Budget {
    /// Fails when `ahead` more samples (a lower bound of what is being read) would
    /// already go over the budget, so an over-budget read stops early.
    fn check_ahead(&self, ahead: u64) -> Result<()> {
        if self.max_samples > 0 && self.samples.saturating_add(ahead) > self.max_samples {
            return Err(Error::OverBudget {
                what: "samples",
                limit: self.max_samples,
            });
        }
        Ok(())
    }

    fn spend(&mut self, samples: u64) -> Result<()> {
        self.series += 1;
        self.samples += samples;
        if self.max_series > 0 && self.series > self.max_series {
            return Err(Error::OverBudget {
                what: "series",
                limit: self.max_series,
            });
        }
        if self.max_samples > 0 && self.samples > self.max_samples {
            return Err(Error::OverBudget {
                what: "samples",
                limit: self.max_samples,
            });
        }
        Ok(())
    }
}

impl Engine {
    /// Answers every selection of `spec`, series by series to `emit` (per selection in
    /// label order), within the budget.
    pub fn select_chunks(
        &self,
        spec: &SelectSpec,
        emit: &mut dyn FnMut(SeriesData) -> Result<()>,
    ) -> Result<()> {
        let timer = self.metrics.select_duration.start_timer();
        let tombstones = self.tombstones();
        let mut budget = Budget {
            max_series: spec.max_series,
            max_samples: spec.max_samples,
            series: 0,
            samples: 0,
        };
        for (i, sel) in spec.selections.iter().enumerate() {
            if sel.start > sel.end {
                return Err(Error::InvalidTimeRange {
                    start_ms: sel.start,
                    end_ms: sel.end,
                });
            }
            let found = self.find(std::slice::from_ref(&sel.selector), sel.start, sel.end)?;
            let mut memory = match sel.tier {
                Tier::Raw => self.memory_parts(found.iter().map(|f| f.id), sel.start, sel.end),
                _ => Default::default(),
            };
            let all_stored = self.stored(sel.tier, &found, sel.start, sel.end, &budget, false)?;
            let histograms = self.has_histograms();
            let (mut memory_histograms, mut stored_histograms) = if histograms {
                let memory = match sel.tier {
                    Tier::Raw => {
                        self.memory_histograms(found.iter().map(|f| f.id), sel.start, sel.end)
                    }
                    _ => Default::default(),
                };
                let stored = self.stored(sel.tier, &found, sel.start, sel.end, &budget, true)?;
                (memory, stored)
            } else {
                Default::default()
            };
            stored_histograms.resize_with(found.len(), Vec::new);
            for ((f, mut stored), stored_histograms) in
                found.into_iter().zip(all_stored).zip(stored_histograms)
            {
                let chunks = match sel.tier {
                    Tier::Raw => {
                        let merge = match memory.remove(&f.id) {
                            Some(MemoryPart::Chunk(c)) => {
                                stored.push(c);
                                None
                            }
                            Some(MemoryPart::Samples(m)) => Some(m),
                            None => None,
                        };
                        raw_chunks(stored, merge, sel.start, sel.end)?
                    }
                    _ => rollup_chunks(stored, sel.start, sel.end)?,
                };
                let chunks = if histograms {
                    let memory = memory_histograms.remove(&f.id);
                    let of_histograms = match sel.tier {
                        Tier::Raw => {
                            histogram_chunks(stored_histograms, memory, sel.start, sel.end)?
                        }
                        _ => rollup_chunks(stored_histograms, sel.start, sel.end)?,
                    };
                    with_histograms(chunks, of_histograms)
                } else {
                    chunks
                };
                let chunks = match tombstones.get(f.id) {
                    Some(deleted) => mask_chunks(chunks, deleted, sel.tier)?,
                    None => chunks,
                };
                if chunks.is_empty() {
                    continue;
                }
                budget.spend(chunks.iter().map(|c| u64::from(c.count)).sum())?;
                emit(SeriesData {
                    selection: i as u32,
                    labels: f.labels,
                    chunks,
                })?;
            }
        }
        timer.observe_duration();
        Ok(())
    }

    /// Whether series `f` has data in `[start, end]` in any tier once `deleted` is
    /// masked (the series API's check for a series with tombstones: decodes).
    pub(crate) fn has_data_masked(
        &self,
        f: &Found,
        start: i64,
        end: i64,
        deleted: &[Interval],
    ) -> Result<bool> {
        let unlimited = Budget {
            max_series: 0,
            max_samples: 0,
            series: 0,
            samples: 0,
        };
        if self.has_histograms() {
            let stored = self
                .stored(
                    Tier::Raw,
                    std::slice::from_ref(f),
                    start,
                    end,
                    &unlimited,
                    true,
                )?
                .pop()
                .unwrap_or_default();
            let memory = self
                .memory_histograms(std::iter::once(f.id), start, end)
                .remove(&f.id);
            let chunks = histogram_chunks(stored, memory, start, end)?;
            if !mask_chunks(chunks, deleted, Tier::Raw)?.is_empty() {
                return Ok(true);
            }
        }
        for tier in Tier::ALL {
            let mut stored = self
                .stored(tier, std::slice::from_ref(f), start, end, &unlimited, false)?
                .pop()
                .unwrap_or_default();
            let chunks = match tier {
                Tier::Raw => {
                    let memory = self
                        .memory_parts(std::iter::once(f.id), start, end)
                        .remove(&f.id);
                    let merge = match memory {
                        Some(MemoryPart::Chunk(c)) => {
                            stored.push(c);
                            None
                        }
                        Some(MemoryPart::Samples(m)) => Some(m),
                        None => None,
                    };
                    raw_chunks(stored, merge, start, end)?
                }
                _ => rollup_chunks(stored, start, end)?,
            };
            if !mask_chunks(chunks, deleted, tier)?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// What the head and the frozen head hold of `ids`: a series only the head holds,
    /// all in order, as the head's open chunk itself (its bytes are a stored chunk's,
    /// passed through when it lies inside the bounds, with the head's priority over disk
    /// where it overlaps them); anything else as samples within `[start, end]`. Taken
    /// under the head lock, under which a flush swaps head and frozen, so no sample is
    /// missed.
    fn memory_parts(
        &self,
        ids: impl Iterator<Item = u64>,
        start: i64,
        end: i64,
    ) -> HashMap<u64, MemoryPart> {
        let head = self.head();
        let frozen = self.frozen();
        let mut out = HashMap::new();
        for id in ids {
            let in_head = head.series.get(&id);
            let in_frozen = frozen.series.get(&id);
            if let (Some(s), None) = (in_head, in_frozen)
                && s.ooo.is_empty()
                && let Some((first, last)) = s.chunk.bounds()
            {
                if first <= end && last >= start {
                    out.insert(
                        id,
                        MemoryPart::Chunk(StoredChunk {
                            start: first,
                            end: last,
                            seq: u64::MAX,
                            data: s.chunk.encode(),
                        }),
                    );
                }
                continue;
            }
            let mut merge = Merge::default();
            if let Some(s) = in_frozen {
                merge.push(frozen.seq, s.samples_in(start, end));
            }
            if let Some(s) = in_head {
                merge.push(u64::MAX, s.samples_in(start, end));
            }
            if merge.span().is_some() {
                out.insert(id, MemoryPart::Samples(merge));
            }
        }
        out
    }

    /// The stored chunks of every series of `found` in `tier` that may hold data in
    /// `[start, end]`, in `found`'s order, read in key order (day, then series id)
    /// through one iterator. Stops with an error once the samples of chunks wholly
    /// inside the bounds (fewer than the select will answer) go over the budget.
    fn stored(
        &self,
        tier: Tier,
        found: &[Found],
        start: i64,
        end: i64,
        budget: &Budget,
        histograms: bool,
    ) -> Result<Vec<Vec<StoredChunk>>> {
        let (encoding, chunk_id): (_, fn(u64) -> u64) = match (tier, histograms) {
            (Tier::Raw, false) => (Encoding::Samples, |id| id),
            (Tier::Raw, true) => (Encoding::Histograms, keys::histogram_chunk_id),
            (_, false) => (Encoding::Points, |id| id),
            (_, true) => (Encoding::Points, keys::histogram_chunk_id),
        };
        let mut order: Vec<(i64, u64, usize)> = found
            .iter()
            .enumerate()
            .flat_map(|(i, f)| f.days.iter().map(move |&day| (day, chunk_id(f.id), i)))
            .collect();
        order.sort_unstable();
        let mut reader = self.store.chunk_reader(tier);
        let mut out = vec![Vec::new(); found.len()];
        let mut inside = 0u64;
        for (day, id, i) in order {
            let chunks = reader.chunk_list(day, id, (start, end))?;
            inside += chunks
                .iter()
                .filter(|c| c.start >= start && c.end <= end)
                .map(|c| u64::from(count_of(&c.data, encoding)))
                .sum::<u64>();
            budget.check_ahead(inside)?;
            out[i].extend(chunks);
        }
        Ok(out)
    }
}

/// A series' float and histogram chunks (raw, or rollup points) in one list, by time
/// (each kind on its own is time-ordered and not overlapping; a series that changed
/// kind within a chunk's span has chunks of both kinds overlapping there, which readers
/// merge by time).
fn with_histograms(mut chunks: Vec<ChunkData>, histograms: Vec<ChunkData>) -> Vec<ChunkData> {
    if histograms.is_empty() {
        return chunks;
    }
    chunks.extend(histograms);
    chunks.sort_by_key(|c| (c.min_t, c.max_t));
    chunks
}

/// What memory holds of one series for a select.
enum MemoryPart {
    /// The head's open chunk, as a chunk newer than every stored one.
    Chunk(StoredChunk),
    /// Samples within the bounds.
    Samples(Merge),
}

/// Which of `chunks` (sorted by start) pass through as stored: inside `[start, end]`
/// and overlapping neither another chunk nor `other` (the span of data held elsewhere).
pub(crate) fn pass_through(
    chunks: &[StoredChunk],
    start: i64,
    end: i64,
    other: Option<(i64, i64)>,
) -> Vec<bool> {
    let mut pass = vec![false; chunks.len()];
    let mut max_end_before = i64::MIN;
    for (i, c) in chunks.iter().enumerate() {
        let inside = c.start >= start && c.end <= end;
        let after_previous = i == 0 || max_end_before < c.start;
        let before_next = chunks.get(i + 1).is_none_or(|n| c.end < n.start);
        let clear_of_other = other.is_none_or(|(lo, hi)| hi < c.start || c.end < lo);
        pass[i] = inside && after_previous && before_next && clear_of_other;
        max_end_before = max_end_before.max(c.end);
    }
    pass
}

/// `chunks` of one series without the data `deleted` removes (see
/// [`super::tombstones`]): chunks clear of it as they are, the others decoded, filtered
/// and encoded again (dropped when nothing is left).
pub(crate) fn mask_chunks(
    chunks: Vec<ChunkData>,
    deleted: &[Interval],
    tier: Tier,
) -> Result<Vec<ChunkData>> {
    let width = tier.width_ms();
    let mut out = Vec::with_capacity(chunks.len());
    for c in chunks {
        if !overlaps(deleted, c.min_t, c.max_t.saturating_add((width - 1).max(0))) {
            out.push(c);
            continue;
        }
        match c.encoding {
            Encoding::Histograms => out.extend(mask_histogram_chunk(c, deleted)?),
            Encoding::Samples => {
                let mut kept = Vec::new();
                samples::decode_into(&c.data, &mut kept).map_err(|e| corrupt("raw chunk", e))?;
                kept.retain(|(t, _)| !covers(deleted, *t));
                if let (Some(first), Some(last)) = (kept.first(), kept.last()) {
                    out.push(ChunkData {
                        min_t: first.0,
                        max_t: last.0,
                        count: kept.len() as u32,
                        encoding: Encoding::Samples,
                        data: samples::encode(&kept),
                    });
                }
            }
            Encoding::Points => {
                let mut kept = Vec::new();
                aggregates::decode_into(&c.data, &mut kept)
                    .map_err(|e| corrupt("rollup chunk", e))?;
                kept.retain(|p| !bucket_deleted(deleted, p.timestamp_ms, width));
                if let (Some(first), Some(last)) = (kept.first(), kept.last()) {
                    out.push(ChunkData {
                        min_t: first.timestamp_ms,
                        max_t: last.timestamp_ms,
                        count: kept.len() as u32,
                        encoding: Encoding::Points,
                        data: aggregates::encode(&kept),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// How many samples or points a stored chunk holds, from its header.
fn count_of(data: &[u8], encoding: Encoding) -> u32 {
    match encoding {
        Encoding::Samples | Encoding::Histograms => {
            read_uvarint(data).map_or(0, |(n, _)| u32::try_from(n).unwrap_or(u32::MAX))
        }
        Encoding::Points => aggregates::count(data).unwrap_or(0),
    }
}

pub(crate) fn corrupt(what: &'static str, e: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        what,
        detail: e.to_string(),
    }
}

/// The raw chunks of one series: `stored` (from disk) and `memory` (head and frozen
/// samples already within the bounds).
pub(crate) fn raw_chunks(
    stored: Vec<StoredChunk>,
    memory: Option<Merge>,
    start: i64,
    end: i64,
) -> Result<Vec<ChunkData>> {
    merged_chunks(
        stored,
        memory,
        (start, end),
        RunCodec {
            what: "raw chunk",
            encoding: Encoding::Samples,
            decode: samples::decode_into,
            encode: samples::encode,
        },
    )
}

/// Decodes a chunk's samples of one kind, appending them.
pub(crate) type DecodeRun<V> =
    fn(&[u8], &mut Vec<(i64, V)>) -> std::result::Result<(), crate::chunk::Error>;

/// How the samples of one kind of raw chunk are decoded and encoded.
pub(crate) struct RunCodec<V> {
    pub what: &'static str,
    pub encoding: Encoding,
    pub decode: DecodeRun<V>,
    pub encode: fn(&[(i64, V)]) -> Vec<u8>,
}

/// The chunks of one series of one kind of sample: `stored` (from disk) and `memory`
/// (head and frozen samples within the bounds) trimmed to `[start, end]`; stored chunks
/// that overlap nothing pass through, the rest is merged (the later write wins).
pub(crate) fn merged_chunks<V>(
    mut stored: Vec<StoredChunk>,
    memory: Option<Merge<V>>,
    (start, end): (i64, i64),
    codec: RunCodec<V>,
) -> Result<Vec<ChunkData>> {
    stored.sort_by_key(|c| (c.start, c.end));
    let memory = memory.unwrap_or_default();
    let pass = pass_through(&stored, start, end, memory.span());
    let mut merge = memory;
    let mut buf = Vec::new();
    for (c, passes) in stored.iter().zip(&pass) {
        if !passes {
            buf.clear();
            (codec.decode)(&c.data, &mut buf).map_err(|e| corrupt(codec.what, e))?;
            merge.push(
                c.seq,
                buf.drain(..).filter(|(t, _)| (start..=end).contains(t)),
            );
        }
    }
    let merged = merge.finish();
    Ok(interleave(
        stored
            .into_iter()
            .zip(pass)
            .filter(|(_, p)| *p)
            .map(|(c, _)| c),
        &merged,
        |t| t.0,
        |run| ChunkData {
            min_t: run[0].0,
            max_t: run[run.len() - 1].0,
            count: run.len() as u32,
            encoding: codec.encoding,
            data: (codec.encode)(run),
        },
        codec.encoding,
    ))
}

/// The rollup chunks of one series: recomputed windows overlap the chunks they replace
/// (the higher sequence number wins per bucket).
pub(crate) fn rollup_chunks(
    mut stored: Vec<StoredChunk>,
    start: i64,
    end: i64,
) -> Result<Vec<ChunkData>> {
    stored.sort_by_key(|c| (c.start, c.end));
    let pass = pass_through(&stored, start, end, None);
    let mut all: Vec<(u64, Aggregate)> = Vec::new();
    let mut buf = Vec::new();
    for (c, passes) in stored.iter().zip(&pass) {
        if !passes {
            buf.clear();
            aggregates::decode_into(&c.data, &mut buf).map_err(|e| corrupt("rollup chunk", e))?;
            all.extend(
                buf.drain(..)
                    .filter(|p| (start..=end).contains(&p.timestamp_ms))
                    .map(|p| (c.seq, p)),
            );
        }
    }
    all.sort_by_key(|(seq, p)| (p.timestamp_ms, *seq));
    let mut merged: Vec<Aggregate> = Vec::with_capacity(all.len());
    for (_, p) in all {
        match merged.last_mut() {
            Some(last) if last.timestamp_ms == p.timestamp_ms => *last = p,
            _ => merged.push(p),
        }
    }
    Ok(interleave(
        stored
            .into_iter()
            .zip(pass)
            .filter(|(_, p)| *p)
            .map(|(c, _)| c),
        &merged,
        |p| p.timestamp_ms,
        |run| ChunkData {
            min_t: run[0].timestamp_ms,
            max_t: run[run.len() - 1].timestamp_ms,
            count: run.len() as u32,
            encoding: Encoding::Points,
            data: aggregates::encode(run),
        },
        Encoding::Points,
    ))
}

/// Chunks in time order: the passed-through ones as stored, and `merged` (which lies
/// outside all of them) encoded in runs cut at each of them.
pub(crate) fn interleave<T>(
    passed: impl Iterator<Item = StoredChunk>,
    merged: &[T],
    time: impl Fn(&T) -> i64,
    encode: impl Fn(&[T]) -> ChunkData,
    encoding: Encoding,
) -> Vec<ChunkData> {
    let mut out = Vec::new();
    let mut rest = merged;
    for c in passed {
        let before = rest.partition_point(|x| time(x) < c.start);
        if before > 0 {
            out.push(encode(&rest[..before]));
            rest = &rest[before..];
        }
        out.push(ChunkData {
            min_t: c.start,
            max_t: c.end,
            count: count_of(&c.data, encoding),
            encoding,
            data: c.data,
        });
    }
    if !rest.is_empty() {
        out.push(encode(rest));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(points: &[(i64, f64)], seq: u64) -> StoredChunk {
        StoredChunk {
            start: points[0].0,
            end: points[points.len() - 1].0,
            seq,
            data: samples::encode(points),
        }
    }

    fn decoded(chunks: &[ChunkData]) -> Vec<(i64, f64)> {
        let mut out = Vec::new();
        for c in chunks {
            samples::decode_into(&c.data, &mut out).unwrap();
        }
        out
    }

    #[test]
    fn disjoint_chunks_pass_through_and_the_rest_is_merged_around_them() {
        let a = stored(&[(10, 1.0), (20, 2.0)], 1);
        let b = stored(&[(30, 3.0), (40, 4.0)], 2);
        // Overlaps c2: both decoded; the later write (seq 5) wins at 60.
        let c1 = stored(&[(50, 5.0), (60, 6.0)], 3);
        let c2 = stored(&[(60, 66.0), (70, 7.0)], 5);
        let d = stored(&[(80, 8.0)], 4);
        let mut memory = Merge::default();
        memory.push(u64::MAX, [(90, 9.0), (95, 9.5)]);
        let chunks = raw_chunks(
            vec![d.clone(), c2, a.clone(), c1, b.clone()],
            Some(memory),
            i64::MIN,
            i64::MAX,
        )
        .unwrap();
        assert_eq!(chunks[0].data, a.data, "passed through unchanged");
        assert_eq!(chunks[1].data, b.data);
        assert_eq!(
            (chunks[2].min_t, chunks[2].max_t, chunks[2].count),
            (50, 70, 3)
        );
        assert_eq!(chunks[3].data, d.data);
        assert_eq!((chunks[4].min_t, chunks[4].count), (90, 2));
        assert_eq!(
            decoded(&chunks),
            vec![
                (10, 1.0),
                (20, 2.0),
                (30, 3.0),
                (40, 4.0),
                (50, 5.0),
                (60, 66.0),
                (70, 7.0),
                (80, 8.0),
                (90, 9.0),
                (95, 9.5)
            ]
        );
        for w in chunks.windows(2) {
            assert!(w[0].max_t < w[1].min_t, "chunks overlap: {chunks:?}");
        }
    }

    #[test]
    fn chunks_are_trimmed_to_the_bounds() {
        let a = stored(&[(10, 1.0), (20, 2.0), (30, 3.0)], 1);
        let b = stored(&[(40, 4.0)], 2);
        let chunks = raw_chunks(vec![a, b.clone()], None, 15, 45).unwrap();
        assert_eq!(decoded(&chunks), vec![(20, 2.0), (30, 3.0), (40, 4.0)]);
        assert_eq!(chunks[1].data, b.data);
        // Memory interleaved with a passed-through chunk is cut around it.
        let mut memory = Merge::default();
        memory.push(u64::MAX, [(5, 0.5)]);
        let chunks = raw_chunks(vec![stored(&[(10, 1.0)], 1)], Some(memory), 0, 100).unwrap();
        assert_eq!(decoded(&chunks), vec![(5, 0.5), (10, 1.0)]);
        assert!(raw_chunks(vec![], None, 0, 1).unwrap().is_empty());
    }

    #[test]
    fn passed_through_rollup_chunks_keep_their_count() {
        let samples: Vec<(i64, f64)> = (0..30).map(|i| (i * 10_000, i as f64)).collect();
        let points = telltale_storage_api::rollup::summarise(&samples, None, 60_000);
        let chunk = StoredChunk {
            start: points[0].timestamp_ms,
            end: points[points.len() - 1].timestamp_ms,
            seq: 1,
            data: aggregates::encode(&points),
        };
        let out = rollup_chunks(vec![chunk.clone()], i64::MIN, i64::MAX).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, chunk.data, "passed through");
        assert_eq!(out[0].count, points.len() as u32);
    }

    #[test]
    fn budget_counts_series_and_samples() {
        let mut b = Budget {
            max_series: 2,
            max_samples: 10,
            series: 0,
            samples: 0,
        };
        b.spend(4).unwrap();
        b.spend(6).unwrap();
        assert!(matches!(
            b.spend(0),
            Err(Error::OverBudget {
                what: "series",
                limit: 2
            })
        ));
        let mut b = Budget {
            max_series: 0,
            max_samples: 3,
            series: 0,
            samples: 0,
        };
        assert!(matches!(
            b.spend(4),
            Err(Error::OverBudget {
                what: "samples",
                limit: 3
            })
        ));
    }
}
