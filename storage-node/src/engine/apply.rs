//! The write path, one for every caller: [`Engine::prepare`] turns a request into a log
//! record (series the engine stores named by id, new ones by validated labels), the
//! caller makes it durable in its own log (Raft), and [`Engine::apply`] turns the record
//! into one atomic batch (new series, postings of new (series, day) pairs, backfill
//! chunks, rollup windows made dirty); then the head takes the recent samples.
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

use telltale_storage_api::rollup::bucket_start;
use telltale_storage_api::{BatchId, FloatHistogram, SharedSample, TimeSeries};
use tracing::debug;

use super::{Engine, WriterState};
use crate::admin_record::AdminRecord;
use crate::chunk::{histograms, samples};
use crate::command::{
    ExemplarsWriter, HistogramsWriter, RecordItems, RecordSeries, RecordWriter, decode_log_record,
};
use crate::error::{Error, Result};
use crate::head::Head;
use crate::index::{canonical_pairs, pairs_hash};
use crate::labels::{LabelSet, render_labels};
use crate::store::keys::{self, day_of};
use crate::tier::Tier;

/// How a series of a write is known when it is applied.
pub(crate) enum Key<'a> {
    /// Found in the index: its id (its labels are looked up only for new postings).
    Known(u64),
    /// Validated labels not found yet (another write may create it first).
    New(&'a LabelSet),
}

/// One series of a write, ready to apply: samples in time order (equal timestamps in
/// write order, so the last one wins). `V` is a float value or a native histogram.
pub(crate) struct Item<'a, V = f64> {
    pub key: Key<'a>,
    pub samples: &'a [(i64, V)],
}

/// What the one apply path needs to know of a kind of sample value: where the head
/// keeps it and how its chunks are stored. Floats and native histograms share every
/// rule of the write path (head or backfill, postings, late writes, dirty rollups).
pub(crate) trait SampleValue: Clone {
    /// Native histograms (reads look for their chunks once one was written).
    const HISTOGRAM: bool;
    /// The oldest sample, the newest in-order sample and the indexed day of series
    /// `id` in the head.
    fn head_state(head: &Head, id: u64) -> (Option<i64>, Option<i64>, Option<i64>);
    fn append(head: &mut Head, id: u64, t: i64, v: Self, day: i64);
    /// The id the series' chunks of this kind are stored under.
    fn chunk_id(id: u64) -> u64;
    fn encode(run: &[(i64, Self)]) -> Vec<u8>;
}

impl SampleValue for f64 {
    const HISTOGRAM: bool = false;

    fn head_state(head: &Head, id: u64) -> (Option<i64>, Option<i64>, Option<i64>) {
        match head.series.get(&id) {
            Some(h) => (h.min_ts(), h.chunk.bounds().map(|b| b.1), h.indexed_day),
            None => (None, None, None),
        }
    }

    fn append(head: &mut Head, id: u64, t: i64, v: f64, day: i64) {
        head.append(id, t, v, day);
    }

    fn chunk_id(id: u64) -> u64 {
        id
    }

    fn encode(run: &[(i64, f64)]) -> Vec<u8> {
        samples::encode(run)
    }
}

impl SampleValue for Arc<FloatHistogram> {
    const HISTOGRAM: bool = true;

    fn head_state(head: &Head, id: u64) -> (Option<i64>, Option<i64>, Option<i64>) {
        match head.histograms.get(&id) {
            Some(h) => (h.min_ts(), h.chunk.bounds().map(|b| b.1), h.indexed_day),
            None => (None, None, None),
        }
    }

    fn append(head: &mut Head, id: u64, t: i64, v: Self, day: i64) {
        head.append_histogram(id, t, v, day);
    }

    fn chunk_id(id: u64) -> u64 {
        keys::histogram_chunk_id(id)
    }

    fn encode(run: &[(i64, Self)]) -> Vec<u8> {
        histograms::encode(run)
    }
}

/// A write prepared against the engine's index ([`Engine::prepare`]): the log record of
/// the one apply path ([`Engine::apply`]), naming every series the engine already stores
/// by its id and new series by their validated labels.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedWrite {
    pub record: Vec<u8>,
    pub samples: u64,
    /// Exemplars the record carries (the exemplar store may still refuse some).
    pub exemplars: u64,
    /// Native histogram samples the record carries (also counted in `samples`).
    pub histograms: u64,
}

impl PreparedWrite {
    /// Whether the record carries nothing to apply (no samples, no exemplars; histogram
    /// samples are counted in `samples`).
    pub fn is_empty(&self) -> bool {
        self.samples == 0 && self.exemplars == 0
    }
}

/// How a prepared record names a series.
enum Named {
    Id(u64),
    Labels(LabelSet),
}

/// What applying a write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Samples written (0 for a duplicate batch).
    pub samples: u64,
    /// Exemplars the exemplar store took (added, or a no-op repeat of the newest).
    pub exemplars: u64,
    /// The batch had been applied before: nothing changed.
    pub duplicate: bool,
}

impl Engine {
    /// Turns `series` into the log record [`Engine::apply`] takes. Series the engine stores
    /// are found by a hash of their labels and named by id (no label set is built or
    /// validated for them: that was done when they were created); new series are
    /// validated. One invalid series rejects the whole write with
    /// [`crate::Error::InvalidSeries`]. Samples are sorted per series (duplicates keep
    /// their request order, so the last one wins); series without samples are left out.
    ///
    /// Ids stay valid for any later apply: series are never deleted and ids never reused,
    /// and a record is applied after every write that stored the series it names.
    pub fn prepare(&self, series: &[TimeSeries]) -> Result<PreparedWrite> {
        self.counted(self.prepare_record(series))
    }

    /// [`Engine::prepare`] for samples whose label sets the writer shares
    /// ([`telltale_storage_api::shared`]): a series this engine filed before is named by
    /// the id it left in the label set ([`SeriesLabels::storage_ref`], valid for as long
    /// as this engine is open: ids are never reused); another is found by its
    /// precomputed hash and its labels compared in place. A write of series the engine
    /// holds copies no label. One sample per entry; new series are validated as in
    /// `prepare`.
    ///
    /// [`SeriesLabels::storage_ref`]: telltale_storage_api::SeriesLabels::storage_ref
    pub fn prepare_shared(&self, samples: &[SharedSample]) -> Result<PreparedWrite> {
        self.counted(self.prepare_shared_record(samples))
    }

    fn counted(&self, prepared: Result<PreparedWrite>) -> Result<PreparedWrite> {
        if let Err(e) = &prepared {
            // A rejected request never reaches `apply`: counted here.
            self.metrics
                .write_requests
                .with_label_values(&[e.metric_label()])
                .inc();
        }
        prepared
    }

    fn prepare_record(&self, series: &[TimeSeries]) -> Result<PreparedWrite> {
        let mut record = RecordWriter::new(series.iter().filter(|s| !s.samples.is_empty()).count());
        let mut exemplars = ExemplarsWriter::default();
        let mut exemplar_count = 0u64;
        let mut histograms = HistogramsWriter::default();
        let mut histogram_count = 0u64;
        let mut sorted_histograms = Vec::new();
        let mut samples: Vec<(i64, f64)> = Vec::new();
        let mut total = 0u64;
        let index = self.index();
        for (i, ts) in series.iter().enumerate() {
            let pairs = canonical_pairs(&ts.labels);
            let named = match index.find_pairs(pairs_hash(&pairs), &pairs) {
                Some(id) => Named::Id(id),
                None => Named::Labels(LabelSet::from_labels(&ts.labels).map_err(|reason| {
                    Error::InvalidSeries {
                        index: i,
                        labels: render_labels(&ts.labels),
                        reason,
                    }
                })?),
            };
            if !ts.exemplars.is_empty() {
                let given = super::exemplars::request_exemplars(ts);
                exemplar_count += given.len() as u64;
                match &named {
                    Named::Id(id) => exemplars.known(*id, &given),
                    Named::Labels(labels) => exemplars.series(labels.iter(), &given),
                }
            }
            if !ts.histograms.is_empty() {
                let valid = |h: &telltale_storage_api::pb::Histogram| {
                    FloatHistogram::from_proto(h)
                        .and_then(|x| x.validate_counts(false))
                        .map_err(|e| Error::InvalidSeries {
                            index: i,
                            labels: render_labels(&ts.labels),
                            reason: format!("native histogram at {}: {e}", h.timestamp_ms),
                        })
                };
                for h in &ts.histograms {
                    valid(h)?;
                }
                let given: &[telltale_storage_api::pb::Histogram] =
                    if ts.histograms.is_sorted_by_key(|h| h.timestamp_ms) {
                        &ts.histograms
                    } else {
                        sorted_histograms.clone_from(&ts.histograms);
                        sorted_histograms.sort_by_key(|h| h.timestamp_ms);
                        &sorted_histograms
                    };
                histogram_count += given.len() as u64;
                match &named {
                    Named::Id(id) => histograms.known(*id, given),
                    Named::Labels(labels) => histograms.series(labels.iter(), given),
                }
            }
            if ts.samples.is_empty() {
                continue;
            }
            samples.clear();
            samples.extend(ts.samples.iter().map(|s| (s.timestamp_ms, s.value)));
            if !samples.is_sorted_by_key(|s| s.0) {
                // Stable: duplicates stay in request order.
                samples.sort_by_key(|(t, _)| *t);
            }
            total += samples.len() as u64;
            match &named {
                Named::Id(id) => record.known(*id, &samples),
                Named::Labels(labels) => record.series(labels.iter(), &samples),
            }
        }
        Ok(PreparedWrite {
            record: record.finish_with_histograms(exemplars, histograms),
            samples: total + histogram_count,
            exemplars: exemplar_count,
            histograms: histogram_count,
        })
    }

    fn prepare_shared_record(&self, samples: &[SharedSample]) -> Result<PreparedWrite> {
        let mut record = RecordWriter::new(samples.len());
        let index = self.index();
        for (i, s) in samples.iter().enumerate() {
            let sample = [(s.timestamp_ms, s.value)];
            // Where this engine filed the series last time, else a lookup by hash.
            let known = s.series.storage_ref(self.identity).or_else(|| {
                let id = index.find_shared(&s.series)?;
                s.series.set_storage_ref(self.identity, id);
                Some(id)
            });
            match known {
                Some(id) => record.known(id, &sample),
                None => {
                    let given = s.series.to_labels();
                    let labels =
                        LabelSet::from_labels(&given).map_err(|reason| Error::InvalidSeries {
                            index: i,
                            labels: render_labels(&given),
                            reason,
                        })?;
                    record.series(labels.iter(), &sample);
                }
            }
        }
        Ok(PreparedWrite {
            record: record.finish(),
            samples: samples.len() as u64,
            exemplars: 0,
            histograms: 0,
        })
    }

    /// The one apply path: applies the log `record` ([`Engine::prepare`], or a record of
    /// an earlier release that named every series by labels, or an admin record:
    /// [`Engine::prepare_delete`], [`Engine::prepare_clean_tombstones`]) as write number `seq`,
    /// for a caller that keeps the log (the Raft state machine; a crash loses what was
    /// applied since the last flush, [`Engine::durable`], and the caller re-applies it).
    ///
    /// A write at or below [`Engine::applied_seq`] was applied already and is skipped, so
    /// re-delivery changes nothing; so is a `batch` its writer had applied before
    /// ([`sessions`](super::sessions)). `meta` replaces the caller's opaque state kept
    /// with the applied state (`None`: unchanged).
    pub fn apply(
        &self,
        seq: u64,
        batch: Option<BatchId>,
        record: &[u8],
        meta: Option<&[u8]>,
    ) -> Result<Applied> {
        // An admin record (`delete_series`, `clean_tombstones`): see `admin`.
        if let Some(admin) = AdminRecord::decode(record) {
            self.apply_admin(seq, admin?, meta)?;
            return Ok(Applied::default());
        }
        let mut w = self.writer();
        self.apply_in(&mut w, seq, batch, record, meta)
    }

    fn apply_in(
        &self,
        w: &mut WriterState,
        seq: u64,
        batch: Option<BatchId>,
        record: &[u8],
        meta: Option<&[u8]>,
    ) -> Result<Applied> {
        if seq <= w.applied_seq {
            return Ok(Applied::default());
        }
        if let Some(meta) = meta {
            w.applied_meta = meta.to_vec();
        }
        if let Some(batch) = batch {
            if w.sessions.is_duplicate(batch) {
                w.applied_seq = seq;
                return Ok(Applied {
                    samples: 0,
                    exemplars: 0,
                    duplicate: true,
                });
            }
            w.sessions.record(batch, seq);
        }
        let timer = self.metrics.write_duration.start_timer();
        let record = decode_log_record(record)?;
        let items = record_items(w.next_series_id, &record)?;
        let result = if items.is_empty() {
            w.applied_seq = seq;
            Ok(0)
        } else {
            self.apply_locked(w, seq, &items)
        };
        // Histogram samples after the floats: a series the float part created is known.
        let result = match result {
            Ok(floats) if !record.histograms().is_empty() => {
                let items = histogram_items(w.next_series_id, &record)?;
                self.apply_locked(w, seq, &items)
                    .map(|histograms| floats + histograms)
            }
            other => other,
        };
        // After the samples, so a series the record creates is named by its stored labels.
        let exemplars = match &result {
            Ok(_) => self.apply_exemplars(&record),
            Err(_) => 0,
        };
        timer.observe_duration();
        let label = match &result {
            Ok(_) => "ok",
            Err(e) => e.metric_label(),
        };
        self.metrics
            .write_requests
            .with_label_values(&[label])
            .inc();
        Ok(Applied {
            samples: result?,
            exemplars,
            duplicate: false,
        })
    }

    /// Prepares and applies `series` as the next write, without a log: for tests and
    /// tools that drive an engine directly (nothing is durable until a flush).
    pub fn apply_write(&self, series: &[TimeSeries]) -> Result<u64> {
        let prepared = self.prepare(series)?;
        // Numbered under the writer lock: concurrent callers each get their own write.
        let mut w = self.writer();
        let seq = w.applied_seq + 1;
        Ok(self
            .apply_in(&mut w, seq, None, &prepared.record, None)?
            .samples)
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

    pub(super) fn apply_locked<V: SampleValue>(
        &self,
        w: &mut WriterState,
        seq: u64,
        items: &[Item<'_, V>],
    ) -> Result<u64> {
        let window = self.opts.out_of_order_window.as_millis() as i64;
        // Samples before the finest rollup tier's progress make its window dirty.
        let finest = self.opts.retention.finest_rollup();
        let rolled_until = finest.and_then(|t| self.until(t));
        let mut batch = self.store.batch();
        let total_samples: usize = items.iter().map(|i| i.samples.len()).sum();
        let mut new_series: Vec<(u64, Arc<LabelSet>)> = Vec::new();
        let mut newly_indexed: Vec<(i64, u64)> = Vec::new();
        let mut to_head: Vec<(u64, i64, V)> = Vec::with_capacity(total_samples);
        let mut backfill: BTreeMap<(u64, i64), Vec<(i64, V)>> = BTreeMap::new();
        let mut dirty: HashSet<i64> = HashSet::new();
        let (mut max_ts, mut min_ts) = (w.max_ts, w.min_ts);
        let (mut out_of_order, mut backfilled) = (0u64, 0u64);
        // Samples older than the window below the newest one: changes to settled data.
        let mut late: Option<(i64, i64)> = None;
        // The days late samples land in (not every day between the oldest and newest:
        // samples may be years apart).
        let mut late_days: HashSet<i64> = HashSet::new();
        {
            let index = self.index();
            let head = self.head();
            let mut fresh: HashMap<&LabelSet, (u64, Arc<LabelSet>)> = HashMap::new();
            for item in items {
                // The labels of a series created by this write (the index has the others).
                let (id, created) = match item.key {
                    Key::Known(id) => (id, None),
                    Key::New(labels) => match index.id_of(labels) {
                        Some(id) => (id, None),
                        None => match fresh.get(labels) {
                            Some((id, l)) => (*id, Some(l.clone())),
                            None => {
                                let id = w.next_series_id + new_series.len() as u64;
                                let arc = Arc::new(labels.clone());
                                fresh.insert(labels, (id, arc.clone()));
                                new_series.push((id, arc.clone()));
                                batch.put_series(id, &arc);
                                (id, Some(arc))
                            }
                        },
                    },
                };
                let (mut head_min, mut head_max, head_day) = V::head_state(&head, id);
                // Samples are in time order: each day of this item is checked once.
                let mut checked_day = head_day.or_else(|| w.indexed_day.get(&id).copied());
                for (t, v) in item.samples {
                    let (t, v) = (*t, v.clone());
                    let day = day_of(t);
                    if checked_day != Some(day) {
                        if !self.store_indexed(w, day, id)? {
                            let labels = match &created {
                                Some(labels) => labels,
                                None => index.labels_of(id).ok_or_else(|| unknown_series(id))?,
                            };
                            batch.put_postings(day, id, labels);
                        }
                        newly_indexed.push((day, id));
                        checked_day = Some(day);
                    }
                    let recent = max_ts.is_none_or(|m| t >= m.saturating_sub(window));
                    if !recent {
                        late = Some(late.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))));
                        late_days.insert(day);
                    }
                    let inside = recent || head_min.is_some_and(|m| t >= m);
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
                    if let (Some(u), Some(tier)) = (rolled_until, finest)
                        && t < u
                    {
                        dirty.insert(bucket_start(t, tier.window_ms()));
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
            batch.put_chunk(
                Tier::Raw,
                day,
                V::chunk_id(id),
                bounds,
                seq,
                &V::encode(&run),
            );
        }
        if let Some(tier) = finest {
            for start in &dirty {
                batch.put_dirty(tier, *start);
            }
        }
        if !new_series.is_empty() {
            batch.put_meta_u64(
                keys::META_NEXT_SERIES_ID,
                w.next_series_id + new_series.len() as u64,
            );
        }
        let first_histograms = V::HISTOGRAM && !self.has_histograms();
        if first_histograms {
            batch.put_meta_u64(keys::META_HISTOGRAMS, 1);
        }
        // Not synced: the caller's log holds the write until a flush makes it durable.
        // A write of known series in their indexed day (a scrape, mostly) has nothing
        // for the store.
        if !batch.is_empty() {
            self.store.write(batch, false)?;
        }

        // Committed: publish.
        if first_histograms {
            self.has_histograms.store(true, Ordering::Release);
        }
        if !new_series.is_empty() {
            w.next_series_id += new_series.len() as u64;
            let mut index = self.index_mut();
            for (id, labels) in new_series {
                index.insert(id, labels);
            }
            self.metrics.series.set(index.len() as i64);
        }
        for (day, id) in newly_indexed {
            let known = w.indexed_day.entry(id).or_insert(day);
            *known = (*known).max(day);
        }
        let total = to_head.len() as u64 + backfilled;
        {
            let mut head = self.head_mut();
            for (id, t, v) in to_head {
                V::append(&mut head, id, t, v, day_of(t));
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
        if let Some((lo, hi)) = late {
            self.late.record(lo, hi);
            self.changed_days
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .extend(late_days);
        }
        self.metrics.samples_appended.inc_by(total);
        self.metrics.samples_out_of_order.inc_by(out_of_order);
        self.metrics.samples_backfilled.inc_by(backfilled);
        debug!(seq, samples = total, backfilled, "write applied");
        Ok(total)
    }

    /// Whether series `id` already has postings on `day` (the newest indexed day of
    /// each series is remembered in `w`; other days are looked up).
    fn store_indexed(&self, w: &WriterState, day: i64, id: u64) -> Result<bool> {
        match w.indexed_day.get(&id) {
            Some(known) if *known == day => Ok(true),
            None if id >= w.next_series_id => Ok(false),
            _ => self.store.indexed_on(day, id),
        }
    }
}

/// The items of a log record: series named by id resolve through the index (they were
/// stored by an earlier record, or the snapshot the database came from).
/// The items of a decoded record. Series ids are handed out in order and never reused
/// (series are never deleted), so every id below `next_series_id` is stored: checking
/// that costs no index lookup per series.
pub(super) fn record_items(next_series_id: u64, record: &RecordItems) -> Result<Vec<Item<'_>>> {
    record
        .iter()
        .map(|(series, samples)| {
            let key = match series {
                RecordSeries::Labels(labels) => Key::New(labels),
                RecordSeries::Id(id) if *id < next_series_id => Key::Known(*id),
                RecordSeries::Id(id) => return Err(unknown_series(*id)),
            };
            Ok(Item { key, samples })
        })
        .collect()
}

/// The native histogram items of a decoded record, as [`record_items`].
fn histogram_items(
    next_series_id: u64,
    record: &RecordItems,
) -> Result<Vec<Item<'_, Arc<FloatHistogram>>>> {
    record
        .histograms()
        .iter()
        .map(|(series, samples)| {
            let key = match series {
                RecordSeries::Labels(labels) => Key::New(labels),
                RecordSeries::Id(id) if *id < next_series_id => Key::Known(*id),
                RecordSeries::Id(id) => return Err(unknown_series(*id)),
            };
            Ok(Item { key, samples })
        })
        .collect()
}

/// A log record names series `id`, which is not stored.
fn unknown_series(id: u64) -> Error {
    Error::Corrupt {
        what: "log record",
        detail: format!("names series {id}, which is not stored"),
    }
}

/// Removes earlier samples with the same timestamp from a time-sorted run.
pub(crate) fn dedup_last<V: Clone>(run: &mut Vec<(i64, V)>) {
    let mut out: Vec<(i64, V)> = Vec::with_capacity(run.len());
    for (t, v) in run.drain(..) {
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = v,
            _ => out.push((t, v)),
        }
    }
    *run = out;
}
