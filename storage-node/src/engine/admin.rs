//! Prometheus's TSDB admin operations on the engine: `delete_series` and
//! `clean_tombstones` as log records ([`crate::admin_record`]) applied like writes, and
//! snapshots of the stored data.
//!
//! ```text
//!  prepare_delete(selectors, start, end) -> DeleteSeries{ids, [min_t, max_t]} -> log
//!  apply: tombstones (series id + intervals) in the entry's batch -> every read masks
//!  prepare_clean_tombstones() -> CleanTombstones -> log
//!  apply: head flushed; chunks (raw, 1m, 1h) holding deleted data rewritten without it;
//!         tombstones dropped. Answers are the same before and after.
//! ```
//!
//! Both are deterministic: a delete names its series by id and carries its interval;
//! a clean depends only on the tombstones and chunks the earlier records built. Replaying
//! either (after a crash, or a follower catching up) changes nothing more.

use std::path::Path;

use tracing::info;

use super::tombstones::{Interval, Tombstones, bucket_deleted, covers, overlaps};
use super::{BATCH_BYTES, Engine, WriterState};
use crate::admin_record::AdminRecord;
use crate::chunk::{aggregates, histograms, samples};
use crate::error::{Error, Result};
use crate::matcher::Selector;
use crate::store::keys::{self, day_of};
use crate::store::{Batch, StoredChunk};
use crate::tier::Tier;

impl Engine {
    /// The log record deleting the data of the series matching any of `selectors` within
    /// `[start, end]`, or `None` when nothing matches (nothing to log). The series are
    /// named by id and the interval is clamped to the data held, as Prometheus's head
    /// deletes "only until the current values and not beyond": samples written later
    /// than the newest one held now are not deleted. An empty range (`start > end`)
    /// deletes nothing, as in Prometheus.
    pub fn prepare_delete(
        &self,
        selectors: &[Selector],
        start: i64,
        end: i64,
    ) -> Result<Option<Vec<u8>>> {
        let (Some(oldest), Some(newest)) = (self.oldest(), self.newest()) else {
            return Ok(None);
        };
        let (min_t, max_t) = (start.max(oldest), end.min(newest));
        if min_t > max_t || selectors.is_empty() {
            return Ok(None);
        }
        let mut series: Vec<u64> = self
            .find(selectors, min_t, max_t)?
            .into_iter()
            .map(|f| f.id)
            .collect();
        if series.is_empty() {
            return Ok(None);
        }
        series.sort_unstable();
        Ok(Some(
            AdminRecord::DeleteSeries {
                min_t,
                max_t,
                series,
            }
            .encode(),
        ))
    }

    /// The log record removing deleted data for good and dropping the tombstones.
    pub fn prepare_clean_tombstones(&self) -> Vec<u8> {
        AdminRecord::CleanTombstones.encode()
    }

    /// Series with tombstones not cleaned yet.
    pub fn tombstoned_series(&self) -> usize {
        self.tombstones().len()
    }

    /// Applies an admin record as entry `seq` (called by [`Engine::apply`]).
    pub(super) fn apply_admin(
        &self,
        seq: u64,
        record: AdminRecord,
        meta: Option<&[u8]>,
    ) -> Result<()> {
        let finish = |w: &mut WriterState| {
            w.applied_seq = seq;
            if let Some(meta) = meta {
                w.applied_meta = meta.to_vec();
            }
        };
        match record {
            AdminRecord::DeleteSeries {
                min_t,
                max_t,
                series,
            } => {
                let mut w = self.writer();
                if seq <= w.applied_seq {
                    return Ok(());
                }
                self.delete_locked(&w, (min_t, max_t), &series)?;
                finish(&mut w);
            }
            AdminRecord::CleanTombstones => {
                // The background work's lock order (maintenance, flush, writer): no
                // rollup runs on chunks being rewritten, no flush writes the head after.
                let _maintaining = self.maintaining();
                let _flushing = self
                    .flushing
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut w = self.writer();
                if seq <= w.applied_seq {
                    return Ok(());
                }
                self.clean_locked(&w)?;
                finish(&mut w);
            }
            AdminRecord::ColdMoved { tier, day, entry } => {
                let _maintaining = self.maintaining();
                let mut w = self.writer();
                if seq <= w.applied_seq {
                    return Ok(());
                }
                self.apply_cold_moved(tier, day, entry)?;
                finish(&mut w);
            }
        }
        Ok(())
    }

    fn delete_locked(&self, w: &WriterState, interval: Interval, series: &[u64]) -> Result<()> {
        let mut tombstones = Tombstones::clone(&self.tombstones());
        let mut batch = self.store.batch();
        for &id in series {
            if id >= w.next_series_id {
                return Err(Error::Corrupt {
                    what: "admin log record",
                    detail: format!("deletes series {id}, which is not stored"),
                });
            }
            batch.put_tombstones(id, tombstones.add(id, interval));
        }
        // Not synced: the log holds the record until a flush makes it durable.
        self.store.write(batch, false)?;
        self.set_tombstones(tombstones);
        // Settled data changed: result caches forget the interval.
        self.late.record(interval.0, interval.1);
        info!(
            series = series.len(),
            min_t = interval.0,
            max_t = interval.1,
            "series deleted (tombstones written)"
        );
        Ok(())
    }

    /// Flushes the head, then rewrites every chunk that holds deleted data without it and
    /// drops the tombstones (their removal in the last batch: a crash before it leaves
    /// them, and the replayed record cleans again).
    fn clean_locked(&self, w: &WriterState) -> Result<()> {
        let tombstones = self.tombstones();
        if tombstones.is_empty() {
            return Ok(());
        }
        let previous = self.frozen();
        if !previous.is_empty() {
            self.write_frozen(&previous)?;
        }
        let frozen = self.freeze(w);
        self.write_frozen(&frozen)?;

        let mut work: Vec<(i64, u64, &[Interval])> = Vec::new();
        for (id, intervals) in tombstones.iter() {
            let (Some(first), Some(last)) = (intervals.first(), intervals.last()) else {
                continue;
            };
            for day in self.store.indexed_days(day_of(first.0), day_of(last.1))? {
                work.push((day, id, intervals));
            }
        }
        work.sort_unstable_by_key(|(day, id, _)| (*day, *id));
        let mut batch = self.store.batch();
        let mut rewritten = 0usize;
        for tier in Tier::ALL {
            // Cold objects are immutable: only local chunks are rewritten, and the
            // tombstones over cold days stay (below) to keep masking them.
            let mut reader = self.store.chunk_reader_uncached(tier).local_only();
            for &(day, id, intervals) in &work {
                let (lo, hi) = (intervals[0].0, intervals[intervals.len() - 1].1);
                // A rollup point before `lo` may cover deleted samples in its bucket.
                let from = lo.saturating_sub(tier.width_ms());
                for c in reader.chunk_list(day, id, (from, hi))? {
                    if rewrite_chunk(&mut batch, tier, (day, id), &c, intervals)? {
                        rewritten += 1;
                    }
                }
                if batch.bytes() >= BATCH_BYTES {
                    let full = std::mem::replace(&mut batch, self.store.batch());
                    self.store.write(full, false)?;
                }
            }
        }
        if self.has_histograms() {
            let mut reader = self.store.chunk_reader_uncached(Tier::Raw).local_only();
            for &(day, id, intervals) in &work {
                let (lo, hi) = (intervals[0].0, intervals[intervals.len() - 1].1);
                let chunk_id = keys::histogram_chunk_id(id);
                for c in reader.chunk_list(day, chunk_id, (lo, hi))? {
                    if rewrite_chunk(&mut batch, Tier::Raw, (day, chunk_id), &c, intervals)? {
                        rewritten += 1;
                    }
                }
            }
        }
        let cold_days = self.store.cold().days();
        let mut kept = Tombstones::default();
        for (id, intervals) in tombstones.iter() {
            let over_cold = intervals
                .iter()
                .any(|(lo, hi)| cold_days.range(day_of(*lo)..=day_of(*hi)).next().is_some());
            if over_cold {
                kept.insert(id, intervals.to_vec());
            } else {
                batch.delete_tombstones(id);
            }
        }
        self.store.write(batch, false)?;
        self.set_tombstones(kept);
        info!(
            series = tombstones.len(),
            chunks = rewritten,
            "tombstones cleaned"
        );
        Ok(())
    }

    /// Writes a consistent copy of the stored data into `dir` (which must not exist), a
    /// database [`Engine::open`] opens: with the head flushed first when `with_head`,
    /// else as of the last flush (samples only in memory left out). Returns the applied
    /// sequence number it holds.
    pub fn checkpoint_into(&self, dir: &Path, with_head: bool) -> Result<u64> {
        if with_head {
            return Ok(self.snapshot(dir)?.0);
        }
        let _flushing = self
            .flushing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.store.checkpoint(dir)?;
        Ok(self.durable().0)
    }

    /// Prepares and applies a delete as the next entry, without a log: for tests and
    /// tools that drive an engine alone.
    pub fn delete_series(&self, selectors: &[Selector], start: i64, end: i64) -> Result<()> {
        if let Some(record) = self.prepare_delete(selectors, start, end)? {
            self.apply(self.applied_seq() + 1, None, &record, None)?;
        }
        Ok(())
    }

    /// [`Engine::delete_series`] for `clean_tombstones`.
    pub fn clean_tombstones(&self) -> Result<()> {
        let record = self.prepare_clean_tombstones();
        self.apply(self.applied_seq() + 1, None, &record, None)?;
        Ok(())
    }
}

/// Puts chunk `c` of series `id` in `day` of `tier` into `batch` without the data
/// `intervals` delete (removed, or written again under its new start and its own
/// sequence number, so merges between chunks are unchanged); false when it held none.
fn rewrite_chunk(
    batch: &mut Batch<'_>,
    tier: Tier,
    (day, id): (i64, u64),
    c: &StoredChunk,
    intervals: &[Interval],
) -> Result<bool> {
    let width = tier.width_ms();
    if !overlaps(intervals, c.start, c.end.saturating_add((width - 1).max(0))) {
        return Ok(false);
    }
    let kept = match tier {
        Tier::Raw if id & keys::HISTOGRAM_ID_BIT != 0 => {
            let mut all = Vec::new();
            histograms::decode_into(&c.data, &mut all).map_err(|e| corrupt(tier, id, day, e))?;
            let before = all.len();
            all.retain(|(t, _)| !covers(intervals, *t));
            if all.len() == before {
                return Ok(false);
            }
            all.first()
                .zip(all.last())
                .map(|(f, l)| ((f.0, l.0), histograms::encode(&all)))
        }
        Tier::Raw => {
            let mut all = Vec::new();
            samples::decode_into(&c.data, &mut all).map_err(|e| corrupt(tier, id, day, e))?;
            let before = all.len();
            all.retain(|(t, _)| !covers(intervals, *t));
            if all.len() == before {
                return Ok(false);
            }
            all.first()
                .zip(all.last())
                .map(|(f, l)| ((f.0, l.0), samples::encode(&all)))
        }
        _ => {
            let mut all = Vec::new();
            aggregates::decode_into(&c.data, &mut all).map_err(|e| corrupt(tier, id, day, e))?;
            let before = all.len();
            all.retain(|p| !bucket_deleted(intervals, p.timestamp_ms, width));
            if all.len() == before {
                return Ok(false);
            }
            all.first()
                .zip(all.last())
                .map(|(f, l)| ((f.timestamp_ms, l.timestamp_ms), aggregates::encode(&all)))
        }
    };
    batch.delete_chunk(tier, day, id, c.start, c.seq);
    if let Some((bounds, data)) = kept {
        batch.put_chunk(tier, day, id, bounds, c.seq, &data);
    }
    Ok(true)
}

fn corrupt(tier: Tier, id: u64, day: i64, e: impl std::fmt::Display) -> Error {
    Error::Corrupt {
        what: "chunk",
        detail: format!("{} series {id} day {day}: {e}", tier.name()),
    }
}
