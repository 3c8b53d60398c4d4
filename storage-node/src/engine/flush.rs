//! Flushing: the head is frozen between two writes (a cheap move), its samples are
//! cut into one chunk per (series, day) and written with the applied state (sequence
//! number, the applier's metadata, writer sessions) in one synced batch: the durable
//! point the applier's log may be purged up to. Readers see the frozen head until the
//! chunks are on disk.

use std::sync::Arc;
use std::time::Instant;

use tracing::{debug, warn};

use super::{Engine, WriterState};
use crate::chunk::samples;
use crate::error::Result;
use crate::head::Frozen;
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
        if !previous.series.is_empty() {
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
        let series = std::mem::take(&mut head.series);
        head.samples = 0;
        let frozen = Arc::new(Frozen {
            seq: w.applied_seq,
            series,
            max_ts: w.max_ts,
            min_ts: w.min_ts,
            meta: w.applied_meta.clone(),
            sessions: w.sessions.clone(),
        });
        self.set_frozen(frozen.clone());
        self.metrics.head_series.set(0);
        self.metrics.head_samples.set(0);
        frozen
    }

    pub(super) fn write_frozen(&self, frozen: &Frozen) -> Result<()> {
        let mut batch = self.store.batch();
        let mut chunks = 0usize;
        for (id, series) in &frozen.series {
            let all = series.samples();
            for run in all.chunk_by(|a, b| day_of(a.0) == day_of(b.0)) {
                let bounds = (run[0].0, run[run.len() - 1].0);
                batch.put_chunk(
                    Tier::Raw,
                    day_of(bounds.0),
                    *id,
                    bounds,
                    frozen.seq,
                    &samples::encode(run),
                );
                chunks += 1;
            }
        }
        batch.put_meta_u64(keys::META_FLUSHED_SEQ, frozen.seq);
        batch.put_meta_bytes(keys::META_FLUSHED_META, &frozen.meta);
        batch.put_meta_bytes(keys::META_SESSIONS, &frozen.sessions.encode());
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
