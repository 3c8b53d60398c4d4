//! Rollups: raw samples -> one point per bucket of the finest rollup tier kept -> one
//! point per bucket of each coarser tier kept, from the points of the next finer one
//! (1 m, 5 m: computed per hour window; 1 h, 1 d: per day window). A window is computed
//! once it is older than the out-of-order window below the newest sample; samples that
//! land in an already computed window later mark it dirty (in the write's own batch) and
//! it is computed again. Recomputed chunks carry a higher sequence number and win.
//! Samples and minute points that `delete_series` removed are left out of the input.

use telltale_model::is_stale_nan;
use telltale_storage_api::Aggregate;
use telltale_storage_api::histogram::rollup as histogram_rollup;
use telltale_storage_api::rollup::{self, INCREASE_LOOKBACK_MS, bucket_start};
use tracing::debug;

use super::tombstones::{bucket_deleted, covers};
use super::{BATCH_BYTES, Engine, MaintenanceState};
use crate::chunk::{aggregates, samples};
use crate::error::{Error, Result};
use crate::store::keys::{self, DAY_MS, day_of};
use crate::store::{Batch, ChunkReader, StoredChunk};
use crate::tier::Tier;

/// Series whose minute rollups are computed together (their head samples decoded at
/// once).
const ROLLUP_GROUP: usize = 1_000;

impl Engine {
    /// Computes due rollup windows: recomputations first, then new windows, at most
    /// [`crate::EngineOptions::rollup_windows_per_pass`] windows holding data. Returns
    /// how many windows were computed.
    pub fn rollup_pass(&self) -> Result<usize> {
        if !self.opts.rollups {
            return Ok(0);
        }
        let (Some(oldest), Some(newest)) = (self.oldest(), self.newest()) else {
            return Ok(0);
        };
        let mut st = self.maintaining();
        let mut budget = self.opts.rollup_windows_per_pass;
        let mut done = 0;
        let ready = newest.saturating_sub(self.opts.out_of_order_window.as_millis() as i64);
        let retention = &self.opts.retention;
        let tiers: Vec<Tier> = retention.rollups().iter().map(|(t, _)| *t).collect();

        for (i, &tier) in tiers.iter().enumerate() {
            let width = tier.window_ms();
            // A tier's windows are also the input of the coarser tiers: computed as far
            // back as any of them keeps data.
            let floor = tiers[i..]
                .iter()
                .map(|t| self.retention_floor(*t, newest))
                .min()
                .unwrap_or(i64::MIN);
            for start in self.store.dirty(tier)? {
                if budget == 0 {
                    break;
                }
                let n = if start < floor {
                    // Expired before it was recomputed: nothing to do.
                    let mut batch = self.store.batch();
                    batch.delete_dirty(tier, start);
                    self.store.write(batch, false)?;
                    0
                } else {
                    self.rollup_window(&mut st, tier, start, true)?
                };
                budget = budget.saturating_sub(n.min(1));
                done += n.min(1);
            }
            // A tier's windows wait for the windows of its source they are made of.
            let limit = match retention.source(tier) {
                Tier::Raw => ready,
                source => self.until(source).unwrap_or(i64::MIN),
            };
            let mut next = self
                .until(tier)
                .unwrap_or_else(|| bucket_start(oldest, width))
                .max(bucket_start(floor, width));
            while budget > 0 && next.saturating_add(width) <= limit {
                let end = next + width;
                // Writes from now on mark this window dirty if they land in it.
                {
                    let _w = self.writer();
                    self.set_until(tier, Some(end));
                }
                let n = self.rollup_window(&mut st, tier, next, false)?;
                if n > 0 {
                    budget -= 1;
                    done += 1;
                }
                next = end;
            }
            if let Some(until) = self.until(tier) {
                self.metrics
                    .rollup_until
                    .with_label_values(&[tier.name()])
                    .set(until.div_euclid(1000));
                self.metrics
                    .rollup_lag
                    .with_label_values(&[tier.name()])
                    .set(newest.saturating_sub(until).max(0) / 1000);
            }
        }
        Ok(done)
    }

    /// The start of the oldest day `tier` keeps, relative to the newest sample.
    fn retention_floor(&self, tier: Tier, newest: i64) -> i64 {
        self.opts.retention.of(tier).map_or(i64::MIN, |r| {
            day_of(newest.saturating_sub(r.as_millis() as i64)).saturating_mul(DAY_MS)
        })
    }

    /// Computes one window of `tier` for every series with data in it; returns the
    /// number of series that had data (0 for an empty window).
    fn rollup_window(
        &self,
        st: &mut MaintenanceState,
        tier: Tier,
        start: i64,
        dirty: bool,
    ) -> Result<usize> {
        let day = day_of(start);
        let end = start + tier.window_ms();
        let ids = self.store.all_postings(day)?;
        st.rollup_seq += 1;
        let seq = st.rollup_seq;
        let mut batch = self.store.batch();
        let mut series = 0;
        match self.opts.retention.source(tier) {
            Tier::Raw => {
                for group in ids.chunks(ROLLUP_GROUP) {
                    series += self.raw_rollups(&mut batch, tier, group, (day, start, end), seq)?;
                    if self.has_histograms() {
                        series += self.raw_histogram_rollups(
                            &mut batch,
                            tier,
                            group,
                            (day, start, end),
                            seq,
                        )?;
                    }
                    if batch.bytes() >= BATCH_BYTES {
                        // Not synced, and cut between series: each series' compaction
                        // (its merged chunk and the removal of its parts) stays in one
                        // batch. A crash before the window's last batch leaves the
                        // window due, and it is computed again.
                        let full = std::mem::replace(&mut batch, self.store.batch());
                        self.store.write(full, false)?;
                    }
                }
            }
            source => {
                let mut reader = self.store.chunk_reader_uncached(source);
                let tombstones = self.tombstones();
                for &id in &ids {
                    let mut finer = self.rollup_points(&mut reader, id, &[day], start, end - 1)?;
                    if let Some(deleted) = tombstones.get(id) {
                        let width = source.width_ms();
                        finer.retain(|p| !bucket_deleted(deleted, p.timestamp_ms, width));
                    }
                    let points = rollup::merge(&finer, tier.width_ms());
                    series += usize::from(put_points(&mut batch, tier, (day, id), seq, &points));
                }
                if self.has_histograms() {
                    // Histogram series' points, under their histogram chunk ids.
                    let mut reader = self.store.chunk_reader_uncached(source);
                    for &id in &ids {
                        let chunk_id = keys::histogram_chunk_id(id);
                        let mut finer =
                            self.rollup_points(&mut reader, chunk_id, &[day], start, end - 1)?;
                        if finer.is_empty() {
                            continue;
                        }
                        if let Some(deleted) = tombstones.get(id) {
                            let width = source.width_ms();
                            finer.retain(|p| !bucket_deleted(deleted, p.timestamp_ms, width));
                        }
                        let points = histogram_rollup::merge(&finer, tier.width_ms());
                        series += usize::from(put_points(
                            &mut batch,
                            tier,
                            (day, chunk_id),
                            seq,
                            &points,
                        ));
                    }
                }
            }
        }
        // A recomputed window changes the input of the coarser tier's window holding it.
        if dirty
            && let Some(next) = self.opts.retention.next(tier)
            && self.until(next).is_some_and(|u| start < u)
        {
            batch.put_dirty(next, bucket_start(start, next.window_ms()));
        }
        batch.put_meta_u64(keys::META_ROLLUP_SEQ, seq);
        if dirty {
            batch.delete_dirty(tier, start);
        } else if let Some(key) = keys::until_key(tier) {
            batch.put_meta_i64(key, end);
        }
        // Not synced: a window lost in a crash is computed again from its source.
        self.store.write(batch, false)?;
        if dirty {
            // Recomputed because late samples landed in it: its points changed.
            self.late.record(start, end - 1);
        }
        let kind = if dirty { "dirty" } else { "new" };
        if series > 0 {
            self.metrics
                .rollup_windows
                .with_label_values(&[tier.name(), kind])
                .inc();
            debug!(
                tier = tier.name(),
                start, series, kind, "rollup window computed"
            );
        }
        Ok(series)
    }
}

impl Engine {
    /// The rollups of `tier` (the finest kept) of the series `ids` for the window
    /// `[start, end)` of `day`, and the compaction of their raw chunks in it, into
    /// `batch`. Returns the number of series with data.
    ///
    /// Chunks are read through one uncached reader per day (the look-back of the
    /// window's first bucket may reach into the day before), the series in id order,
    /// and each series' chunks are read once for both; the head's samples are taken for
    /// the group only, so a window of 50,000 series never holds them all decoded.
    fn raw_rollups(
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
        let mut memory = self.memory_samples(ids.iter().copied(), from, end - 1);
        let tombstones = self.tombstones();
        let mut buf = Vec::new();
        let mut series = 0;
        for &id in ids {
            let mut merge = memory.remove(&id).unwrap_or_default();
            let mut in_window: Vec<StoredChunk> = Vec::new();
            for (d, reader) in &mut readers {
                let chunks = reader.chunk_list(*d, id, (from, end - 1))?;
                for c in &chunks {
                    buf.clear();
                    samples::decode_into(&c.data, &mut buf).map_err(|e| Error::Corrupt {
                        what: "raw chunk",
                        detail: format!("series {id} day {d}: {e}"),
                    })?;
                    merge.push(
                        c.seq,
                        buf.iter().copied().filter(|(t, _)| (from..end).contains(t)),
                    );
                }
                if *d == day {
                    in_window = chunks;
                }
            }
            let mut raw = merge.finish();
            if let Some(deleted) = tombstones.get(id) {
                // Deleted samples never enter a rollup.
                raw.retain(|(t, _)| !covers(deleted, *t));
            }
            let split = raw.partition_point(|(t, _)| *t < start);
            let prev = raw[..split]
                .iter()
                .rev()
                .find(|(_, v)| !is_stale_nan(*v))
                .copied();
            let points = rollup::summarise(&raw[split..], prev, tier.width_ms());
            in_window.retain(|c| c.end >= start);
            self.compact_raw_window(batch, (day, id), (start, end), &in_window)?;
            series += usize::from(put_points(batch, tier, (day, id), seq, &points));
        }
        Ok(series)
    }
}

/// Puts the rollup `points` of series `id` in `day` of `tier` as one chunk; false when
/// there are none.
pub(super) fn put_points(
    batch: &mut Batch<'_>,
    tier: Tier,
    (day, id): (i64, u64),
    seq: u64,
    points: &[Aggregate],
) -> bool {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return false;
    };
    let bounds = (first.timestamp_ms, last.timestamp_ms);
    batch.put_chunk(tier, day, id, bounds, seq, &aggregates::encode(points));
    true
}
