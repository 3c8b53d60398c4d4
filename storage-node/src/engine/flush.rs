//! Flushing: the head is frozen between two writes (a cheap move), its samples are
//! cut into one chunk per (series, day) and written in batches of at most
//! [`BATCH_BYTES`](super::BATCH_BYTES), the last of them synced with the applied state (sequence
//! number, the applier's metadata, writer sessions): the durable point the applier's
//! log may be purged up to. Readers see the frozen head until the chunks are on disk.
//!
//! Batches keep the flush's memory small: one batch of a whole head (about 30 MB at
//! 50,000 series) was, with the memtable it is copied into, a quarter of the process's
//! peak during ingest. A crash between batches leaves chunks without the durable point
//! that covers them; the log replays their samples into the head, the next flush writes
//! them again (under the same keys when the head ends at the same write, else as
//! overlapping chunks, which reads merge), and nothing is lost or counted twice.

use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, warn};

use super::{BATCH_BYTES, Engine, WriterState};
use crate::chunk::{histograms, samples};
use crate::error::Result;
use crate::hashing::IdMap;
use crate::head::Frozen;
use crate::store::Batch;
use crate::store::keys::{self, day_of};
use crate::tier::Tier;

impl Engine {
    /// Writes every sample of the head to chunks and moves the durable point. Writes wait only
    /// while the head is swapped out, not while chunks are encoded and written.
    pub fn flush(&self) -> Result<()> {
        let mut last = self.flushing.lock().unwrap_or_else(|e| e.into_inner());
        let timer = self.metrics.flush_duration.start_timer();
        let result = self.flush_inner();
        timer.observe_duration();
        let label = if result.is_ok() { "ok" } else { "error" };
        self.metrics.flushes.with_label_values(&[label]).inc();
        if let Err(e) = &result {
            warn!(error = %e, "flush failed; the head stays frozen and is retried");
        }
        *last = Instant::now();
        result
    }

    /// Whether a flush is due: the interval passed or the head is large.
    pub(super) fn flush_due(&self) -> bool {
        let last = *self.flushing.lock().unwrap_or_else(|e| e.into_inner());
        last.elapsed() >= self.opts.flush_interval
            || self.head().samples >= self.opts.head_max_samples
    }

    fn flush_inner(&self) -> Result<()> {
        // A frozen head left by a failed flush is written first.
        let previous = self.frozen();
        if !previous.is_empty() {
            self.write_frozen(&previous)?;
        }
        let frozen = {
            let w = self.writer();
            self.freeze(&w)
        };
        self.write_frozen(&frozen)
    }

    /// Swaps the head out (readers see it as frozen) as of the state `w` holds; called
    /// with the writer lock held, so no write is half in.
    pub(super) fn freeze(&self, w: &WriterState) -> Arc<Frozen> {
        let mut head = self.head_mut();
        // Sized for as many series as the last head: growing a map of 50,000 series
        // step by step holds the old table beside the new one at each step.
        let capacity = head.series.len();
        let series = std::mem::replace(
            &mut head.series,
            IdMap::with_capacity_and_hasher(capacity, Default::default()),
        );
        let histograms = std::mem::take(&mut head.histograms);
        head.samples = 0;
        let frozen = Arc::new(Frozen {
            seq: w.applied_seq,
            series,
            histograms,
            max_ts: w.max_ts,
            min_ts: w.min_ts,
            meta: w.applied_meta.clone(),
            sessions: w.sessions.clone(),
            exemplars: self.exemplars_if_changed(),
        });
        self.set_frozen(frozen.clone());
        self.metrics.head_series.set(0);
        self.metrics.head_samples.set(0);
        frozen
    }

    pub(super) fn write_frozen(&self, frozen: &Frozen) -> Result<()> {
        let (batch, chunks) = self.write_chunks(frozen, BATCH_BYTES)?;
        self.finish_flush(frozen, batch, chunks)
    }

    /// Writes the chunks of `frozen` in unsynced batches of about `limit` bytes and
    /// returns the last, unwritten one (and how many chunks there were).
    fn write_chunks(&self, frozen: &Frozen, limit: usize) -> Result<(Batch<'_>, usize)> {
        let mut batch = self.store.batch();
        let mut chunks = 0usize;
        for (id, series) in &frozen.series {
            match series.chunk.bounds() {
                // The open chunk's bytes are the stored chunk: a series without
                // out-of-order samples within one day is written as it is, not decoded
                // and encoded again.
                Some((first, last)) if series.ooo.is_empty() && day_of(first) == day_of(last) => {
                    let chunk = series.chunk.encode();
                    batch.put_chunk(
                        Tier::Raw,
                        day_of(first),
                        *id,
                        (first, last),
                        frozen.seq,
                        &chunk,
                    );
                    chunks += 1;
                }
                _ => {
                    let all = series.samples();
                    for run in all.chunk_by(|a, b| day_of(a.0) == day_of(b.0)) {
                        let bounds = (run[0].0, run[run.len() - 1].0);
                        let chunk = samples::encode(run);
                        batch.put_chunk(
                            Tier::Raw,
                            day_of(bounds.0),
                            *id,
                            bounds,
                            frozen.seq,
                            &chunk,
                        );
                        chunks += 1;
                    }
                }
            }
            if batch.bytes() >= limit {
                // Not synced: the last batch's sync makes every earlier one durable too
                // (one write-ahead log, written in order).
                let full = std::mem::replace(&mut batch, self.store.batch());
                self.store.write(full, false)?;
            }
        }
        for (id, series) in &frozen.histograms {
            let chunk_id = keys::histogram_chunk_id(*id);
            let all = series.samples();
            for run in all.chunk_by(|a, b| day_of(a.0) == day_of(b.0)) {
                let bounds = (run[0].0, run[run.len() - 1].0);
                let chunk = histograms::encode(run);
                batch.put_chunk(
                    Tier::Raw,
                    day_of(bounds.0),
                    chunk_id,
                    bounds,
                    frozen.seq,
                    &chunk,
                );
                chunks += 1;
            }
            if batch.bytes() >= limit {
                let full = std::mem::replace(&mut batch, self.store.batch());
                self.store.write(full, false)?;
            }
        }
        Ok((batch, chunks))
    }

    /// Writes the applied state of `frozen` with the last `batch` of its chunks, synced,
    /// and publishes the new durable point.
    fn finish_flush(&self, frozen: &Frozen, mut batch: Batch<'_>, chunks: usize) -> Result<()> {
        batch.put_meta_u64(keys::META_FLUSHED_SEQ, frozen.seq);
        batch.put_meta_bytes(keys::META_FLUSHED_META, &frozen.meta);
        batch.put_meta_bytes(keys::META_SESSIONS, &frozen.sessions.encode());
        if let Some(ring) = &frozen.exemplars {
            batch.put_meta_bytes(keys::META_EXEMPLARS, ring);
        }
        if let Some(m) = frozen.max_ts {
            batch.put_meta_i64(keys::META_MAX_TS, m);
        }
        if let Some(m) = frozen.min_ts {
            batch.put_meta_i64(keys::META_MIN_TS, m);
        }
        self.store.write(batch, true)?;
        self.set_frozen(Arc::new(Frozen::default()));
        *self.durable.lock().unwrap_or_else(|e| e.into_inner()) = (frozen.seq, frozen.meta.clone());
        self.metrics.flushed_seq.set(frozen.seq as i64);
        debug!(
            seq = frozen.seq,
            series = frozen.series.len(),
            chunks,
            "head flushed"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use prometheus::Registry;
    use telltale_storage_api::{Label, Sample, TimeSeries};

    use super::*;
    use crate::matcher::Selector;
    use crate::{Encoding, EngineOptions, SelectSpec, SelectionSpec};

    const SERIES: usize = 300;

    /// Series `s` of metric `m`.
    fn series(s: &str, samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: vec![Label::new("__name__", "m"), Label::new("s", s)],
            samples: samples
                .iter()
                .map(|&(timestamp_ms, value)| Sample {
                    timestamp_ms,
                    value,
                })
                .collect(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }

    /// Write `n` (from 0): one sample for each of the series, a minute apart.
    fn write(n: i64) -> Vec<TimeSeries> {
        (0..SERIES)
            .map(|s| {
                let sample = (1_700_000_000_000 + n * 60_000, (s as i64 * 1000 + n) as f64);
                series(&format!("{s:03}"), &[sample])
            })
            .collect()
    }

    fn open(dir: &std::path::Path) -> Engine {
        Engine::open(dir, EngineOptions::default(), &Registry::new()).unwrap()
    }

    /// A series of metric `m` as select returns it: its label `s`, how many chunks, the
    /// samples.
    type Selected = (String, usize, Vec<(i64, f64)>);

    /// Every series of metric `m`, in the order of `s`.
    fn selected(engine: &Engine) -> Vec<Selected> {
        let spec = SelectSpec {
            selections: vec![SelectionSpec {
                selector: Selector::from_proto(&[telltale_storage_api::Matcher::new(
                    telltale_storage_api::MatchOp::Equal,
                    "__name__",
                    "m",
                )])
                .unwrap(),
                start: 0,
                end: i64::MAX,
                tier: Tier::Raw,
            }],
            ..SelectSpec::default()
        };
        let mut out = Vec::new();
        engine
            .select_chunks(&spec, &mut |s| {
                let name = s.labels.iter().find(|(n, _)| *n == "s").unwrap().1;
                let mut all = Vec::new();
                for c in &s.chunks {
                    assert_eq!(c.encoding, Encoding::Samples);
                    samples::decode_into(&c.data, &mut all).unwrap();
                }
                out.push((name.to_string(), s.chunks.len(), all));
                Ok(())
            })
            .unwrap();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every series' samples, in the order of `s`.
    fn read(engine: &Engine) -> Vec<Vec<(i64, f64)>> {
        selected(engine).into_iter().map(|(_, _, s)| s).collect()
    }

    fn expected(writes: i64) -> Vec<Vec<(i64, f64)>> {
        (0..SERIES)
            .map(|s| {
                (0..writes)
                    .map(|n| (1_700_000_000_000 + n * 60_000, (s as i64 * 1000 + n) as f64))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_flush_cut_short_between_batches_loses_and_doubles_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        for n in 0..3 {
            engine.apply_write(&write(n)).unwrap();
        }
        let frozen = {
            let w = engine.writer();
            engine.freeze(&w)
        };
        // Batches of 1 KiB: the chunks of 300 series go out in many writes.
        let (last, chunks) = engine.write_chunks(&frozen, 1024).unwrap();
        assert_eq!(chunks, SERIES);
        assert!(last.bytes() < 2048, "full batches were written, not kept");
        // The crash: the last batch and the durable point are never written.
        drop(last);
        drop(frozen);
        drop(engine);

        let engine = open(dir.path());
        assert_eq!(engine.durable().0, 0, "no durable point moved");
        // Some chunks are on disk without it.
        assert!(read(&engine).iter().any(|s| !s.is_empty()));
        // The log replays its three writes, and a fourth comes: the next flush ends at a
        // later write, so its chunks overlap the orphans instead of replacing them.
        for n in 0..4 {
            engine.apply_write(&write(n)).unwrap();
        }
        assert_eq!(read(&engine), expected(4), "before the flush");
        engine.flush().unwrap();
        assert_eq!(engine.durable().0, 4);
        assert_eq!(read(&engine), expected(4), "after the flush");
        drop(engine);
        assert_eq!(read(&open(dir.path())), expected(4), "after a reopen");
    }

    #[test]
    fn in_order_single_day_chunks_pass_through_and_the_rest_are_cut_by_day() {
        let dir = tempfile::tempdir().unwrap();
        let engine = open(dir.path());
        let day = 86_400_000i64;
        let base = 19_000 * day;
        // "a" in order within a day; "b" gets an out-of-order sample; "c" spans midnight.
        engine
            .apply_write(&[
                series("a", &[(base + 1_000, 1.0), (base + 2_000, 2.0)]),
                series("b", &[(base + 1_000, 1.0), (base + 3_000, 3.0)]),
                series("c", &[(base + day - 1_000, 1.0), (base + day + 1_000, 2.0)]),
            ])
            .unwrap();
        engine
            .apply_write(&[series("b", &[(base + 2_000, 2.5)])])
            .unwrap();
        engine.flush().unwrap();
        drop(engine);
        let got = selected(&open(dir.path()));
        assert_eq!(
            got,
            vec![
                (
                    "a".to_string(),
                    1,
                    vec![(base + 1_000, 1.0), (base + 2_000, 2.0)]
                ),
                (
                    "b".to_string(),
                    1,
                    vec![
                        (base + 1_000, 1.0),
                        (base + 2_000, 2.5),
                        (base + 3_000, 3.0)
                    ]
                ),
                (
                    "c".to_string(),
                    2,
                    vec![(base + day - 1_000, 1.0), (base + day + 1_000, 2.0)]
                ),
            ]
        );
    }
}
