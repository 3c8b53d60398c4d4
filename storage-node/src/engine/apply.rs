//! The write path: a [`WriteCommand`] becomes one atomic batch (log record, new series,
//! postings of new (series, day) pairs, backfill chunks, rollup windows made dirty),
//! then the head takes the recent samples.
//!
//! Which samples go to the head is decided from the state the commands built, never from
//! the clock, so replaying the log (or a Raft log) gives the same result. A sample goes
//! to the head when it is inside the out-of-order window below the newest sample, or
//! not older than the series' oldest sample in the head; otherwise it is backfill,
//! written straight to its day. A backfilled timestamp is therefore never also in the
//! head, and "the later write wins" holds across the head and the chunks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use telltale_storage_api::TimeSeries;
use telltale_storage_api::rollup::bucket_start;
use tracing::debug;

use super::{Engine, WriterState};
use crate::chunk::samples;
use crate::command::WriteCommand;
use crate::error::Result;
use crate::labels::LabelSet;
use crate::store::keys::{self, day_of};
use crate::tier::Tier;

const HOUR_MS: i64 = 3_600_000;

impl Engine {
    /// Appends `series` and returns the number of samples written; returns only once
    /// they are durable (the log record is synced to disk).
    ///
    /// The request is all or nothing: one invalid series rejects it with
    /// [`crate::Error::InvalidSeries`] and nothing is written. A series without samples
    /// is validated but not created. For duplicate timestamps the last sample wins, both
    /// within a request and against samples already stored.
    pub fn write(&self, series: Vec<TimeSeries>) -> Result<u64> {
        let timer = self.metrics.write_duration.start_timer();
        let result = WriteCommand::validate(series).and_then(|cmd| {
            if cmd.series.is_empty() {
                return Ok(0);
            }
            let record = cmd.encode();
            let mut w = self.writer();
            let seq = w.applied_seq + 1;
            self.apply_locked(&mut w, seq, &cmd, Some(&record), true)
        });
        timer.observe_duration();
        let label = match &result {
            Ok(_) => "ok",
            Err(e) => e.metric_label(),
        };
        self.metrics
            .write_requests
            .with_label_values(&[label])
            .inc();
        result
    }

    /// Applies `cmd` as write number `seq` without writing a log record: for a caller
    /// that keeps its own durable log (the Raft state machine). `meta` is the caller's
    /// opaque state as of `seq` (e.g. its last log id), kept with the applied state and
    /// persisted with each flush ([`Engine::durable`]). A command at or below
    /// [`Engine::applied_seq`] was applied already and is skipped, so re-delivery
    /// changes nothing.
    pub fn apply(&self, seq: u64, cmd: &WriteCommand, meta: &[u8]) -> Result<u64> {
        let mut w = self.writer();
        if seq <= w.applied_seq {
            return Ok(0);
        }
        let n = if cmd.series.is_empty() {
            w.applied_seq = seq;
            0
        } else {
            self.apply_locked(&mut w, seq, cmd, None, false)?
        };
        w.applied_meta = meta.to_vec();
        Ok(n)
    }

    /// Advances the applied state over an entry that carries no samples (a Raft blank or
    /// membership entry).
    pub fn apply_meta(&self, seq: u64, meta: &[u8]) -> Result<()> {
        let mut w = self.writer();
        if seq > w.applied_seq {
            w.applied_seq = seq;
            w.applied_meta = meta.to_vec();
        }
        Ok(())
    }

    pub(super) fn apply_locked(
        &self,
        w: &mut WriterState,
        seq: u64,
        cmd: &WriteCommand,
        record: Option<&[u8]>,
        sync: bool,
    ) -> Result<u64> {
        let window = self.opts.out_of_order_window.as_millis() as i64;
        let minute_until = self.until(Tier::Minute);
        let mut batch = self.store.batch();
        if let Some(record) = record {
            batch.put_wal(seq, record);
        }
        let mut new_series: Vec<(u64, Arc<LabelSet>)> = Vec::new();
        let mut indexed: HashSet<(i64, u64)> = HashSet::new();
        let mut to_head: Vec<(u64, i64, f64)> = Vec::with_capacity(cmd.sample_count());
        let mut backfill: BTreeMap<(u64, i64), Vec<(i64, f64)>> = BTreeMap::new();
        let mut dirty: HashSet<i64> = HashSet::new();
        let (mut max_ts, mut min_ts) = (w.max_ts, w.min_ts);
        let (mut out_of_order, mut backfilled) = (0u64, 0u64);
        {
            let index = self.index();
            let head = self.head();
            let mut fresh: HashMap<&LabelSet, u64> = HashMap::new();
            for s in &cmd.series {
                let id = match index
                    .id_of(&s.labels)
                    .or_else(|| fresh.get(&s.labels).copied())
                {
                    Some(id) => id,
                    None => {
                        let id = w.next_series_id + new_series.len() as u64;
                        fresh.insert(&s.labels, id);
                        new_series.push((id, Arc::new(s.labels.clone())));
                        batch.put_series(id, &s.labels);
                        id
                    }
                };
                let mut head_min = head.min_ts(id);
                let mut head_max = head
                    .series
                    .get(&id)
                    .and_then(|h| h.chunk.bounds())
                    .map(|b| b.1);
                for &(t, v) in &s.samples {
                    let day = day_of(t);
                    if !indexed.contains(&(day, id)) {
                        if !self.is_indexed(w, day, id)? {
                            batch.put_postings(day, id, &s.labels);
                        }
                        indexed.insert((day, id));
                    }
                    let inside = max_ts.is_none_or(|m| t >= m.saturating_sub(window))
                        || head_min.is_some_and(|m| t >= m);
                    if inside {
                        if head_max.is_some_and(|m| t <= m) {
                            out_of_order += 1;
                        }
                        head_max = Some(head_max.map_or(t, |m| m.max(t)));
                        head_min = Some(head_min.map_or(t, |m| m.min(t)));
                        to_head.push((id, t, v));
                    } else {
                        backfilled += 1;
                        backfill.entry((id, day)).or_default().push((t, v));
                    }
                    if minute_until.is_some_and(|u| t < u) {
                        dirty.insert(bucket_start(t, HOUR_MS));
                    }
                    max_ts = Some(max_ts.map_or(t, |m| m.max(t)));
                    min_ts = Some(min_ts.map_or(t, |m| m.min(t)));
                }
            }
        }
        for ((id, day), mut run) in backfill {
            // Sorted per series already; keep the last of equal timestamps.
            dedup_last(&mut run);
            let bounds = (run[0].0, run[run.len() - 1].0);
            batch.put_chunk(Tier::Raw, day, id, bounds, seq, &samples::encode(&run));
        }
        for start in &dirty {
            batch.put_dirty(Tier::Minute, *start);
        }
        if !new_series.is_empty() {
            batch.put_meta_u64(
                keys::META_NEXT_SERIES_ID,
                w.next_series_id + new_series.len() as u64,
            );
        }
        self.store.write(batch, sync)?;

        // Committed: publish.
        if !new_series.is_empty() {
            w.next_series_id += new_series.len() as u64;
            let mut index = self.index_mut();
            for (id, labels) in new_series {
                index.insert(id, labels);
            }
            self.metrics.series.set(index.len() as i64);
        }
        for (day, id) in indexed {
            let known = w.indexed_day.entry(id).or_insert(day);
            *known = (*known).max(day);
        }
        let total = to_head.len() as u64 + backfilled;
        {
            let mut head = self.head_mut();
            for (id, t, v) in to_head {
                head.append(id, t, v);
            }
            self.metrics.head_series.set(head.series.len() as i64);
            self.metrics.head_samples.set(head.samples as i64);
        }
        w.applied_seq = seq;
        w.max_ts = max_ts;
        w.min_ts = min_ts;
        if let Some(m) = min_ts {
            self.min_ts.store(m, Ordering::Release);
        }
        if let Some(m) = max_ts {
            self.max_ts.store(m, Ordering::Release);
            self.metrics.newest_sample.set(m.div_euclid(1000));
        }
        self.metrics.samples_appended.inc_by(total);
        self.metrics.samples_out_of_order.inc_by(out_of_order);
        self.metrics.samples_backfilled.inc_by(backfilled);
        debug!(seq, samples = total, backfilled, "write applied");
        Ok(total)
    }

    /// Whether series `id` already has postings on `day`: the newest indexed day is
    /// remembered per series; any other day is looked up.
    fn is_indexed(&self, w: &WriterState, day: i64, id: u64) -> Result<bool> {
        match w.indexed_day.get(&id) {
            Some(known) if *known == day => Ok(true),
            _ => self.store.indexed_on(day, id),
        }
    }
}

/// Removes earlier samples with the same timestamp from a time-sorted run.
pub(crate) fn dedup_last(run: &mut Vec<(i64, f64)>) {
    let mut out: Vec<(i64, f64)> = Vec::with_capacity(run.len());
    for &(t, v) in run.iter() {
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = v,
            _ => out.push((t, v)),
        }
    }
    *run = out;
}
