//! [`DiskQueue`]: a [`SampleWriter`] that writes through to storage while it is
//! available and, when a write fails as unavailable, appends the batch to its segment
//! files (fsync) and acknowledges it; a background task replays the queued batches in
//! order once storage is back. While a backlog exists every new batch is queued behind
//! it, so a writer's batches reach storage in the order it wrote them. Replayed batches
//! carry a persistent identity ([`super::identity`]), so a storage that de-duplicates
//! takes each exactly once even when a crash repeats a replay.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use prost::Message;
use telltale_storage_api::pb::WriteRequest;
use telltale_storage_api::{BatchId, SampleWriter, TimeSeries};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use super::cursor::{self, Position};
use super::identity::{batch_id, load_or_create_writer};
use super::metrics::QueueMetrics;
use super::store::{AppendError, QueueStore, Record};
use crate::error::{Error, Result};

/// Settings of a [`DiskQueue`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueOptions {
    /// Most bytes the queue holds on disk; a batch that does not fit is refused with an
    /// error (and counted as dropped, reason `overflow`).
    pub max_bytes: u64,
    /// Size at which a new segment file is started.
    pub segment_bytes: u64,
    /// First pause between replay attempts while storage is down; doubled up to
    /// `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// Most queued batches replayed in one downstream write (in order, concatenated).
    pub replay_batches: usize,
    /// Most queued bytes replayed in one downstream write.
    pub replay_bytes: u64,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            max_bytes: 1 << 30,
            segment_bytes: 64 << 20,
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(5),
            replay_batches: 256,
            replay_bytes: 4 << 20,
        }
    }
}

/// The persistent queue in front of a writer. Dropping it stops the replay task; what is
/// queued stays on disk for the next [`DiskQueue::open`] of the directory.
pub struct DiskQueue {
    inner: Arc<Inner>,
    replayer: JoinHandle<()>,
}

struct Inner {
    store: Mutex<QueueStore>,
    dir: PathBuf,
    /// This queue's persistent writer id (see [`super::identity`]).
    writer: u64,
    /// The end of the group of records being replayed (persisted as `inflight` before
    /// it is first sent): until it is committed it is re-sent exactly, after a restart
    /// too, so storage sees the same batch number for the same records.
    group_end: Mutex<Option<Position>>,
    /// Mirror of the store's pending record count, read without the lock.
    pending: AtomicU64,
    downstream: Arc<dyn SampleWriter>,
    notify: Notify,
    metrics: QueueMetrics,
    options: QueueOptions,
}

impl DiskQueue {
    /// Opens the queue in `dir` (created if needed; batches left by a previous run are
    /// replayed first) in front of `downstream`, and starts the replay task. Must be
    /// called within a Tokio runtime.
    pub async fn open(
        dir: impl Into<PathBuf>,
        downstream: Arc<dyn SampleWriter>,
        options: QueueOptions,
        registry: &prometheus::Registry,
    ) -> Result<DiskQueue> {
        let dir = dir.into();
        let (segment_bytes, max_bytes) = (options.segment_bytes, options.max_bytes);
        let dir2 = dir.clone();
        let (store, writer, group_end) = tokio::task::spawn_blocking(move || {
            let (store, _recovered) = QueueStore::open(&dir2, segment_bytes, max_bytes)?;
            let writer = load_or_create_writer(&dir2).map_err(|e| Error::Internal {
                message: format!("disk queue writer id in {}: {e}", dir2.display()),
            })?;
            Ok::<_, Error>((store, writer, cursor::load_inflight(&dir2)))
        })
        .await
        .map_err(|e| Error::Internal {
            message: format!("disk queue open task failed: {e}"),
        })??;
        let metrics = QueueMetrics::new(registry);
        let inner = Arc::new(Inner {
            pending: AtomicU64::new(store.pending_records()),
            store: Mutex::new(store),
            dir,
            writer,
            group_end: Mutex::new(group_end),
            downstream,
            notify: Notify::new(),
            metrics,
            options,
        });
        inner.update_gauges(&inner.lock());
        let replayer = tokio::spawn(replay(inner.clone()));
        Ok(DiskQueue { inner, replayer })
    }

    /// Batches waiting on disk.
    pub fn pending_batches(&self) -> u64 {
        self.inner.pending.load(Ordering::SeqCst)
    }

    /// Bytes waiting on disk.
    pub fn pending_bytes(&self) -> u64 {
        self.inner.lock().pending_bytes()
    }

    /// The writer id replayed batches are sent under.
    pub fn writer_id(&self) -> u64 {
        self.inner.writer
    }
}

impl Drop for DiskQueue {
    fn drop(&mut self) {
        self.replayer.abort();
    }
}

#[async_trait::async_trait]
impl SampleWriter for DiskQueue {
    async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        if self.inner.pending.load(Ordering::SeqCst) == 0 {
            // Borrowed: the batch stays here for the queue should the write fail.
            match self.inner.downstream.write_borrowed(&series).await {
                Ok(n) => return Ok(n),
                Err(e) if e.is_invalid_request() => return Err(e),
                Err(e) => debug!(error = %e, "storage write failed; queueing the batch on disk"),
            }
        }
        self.inner.clone().enqueue(series).await
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, QueueStore> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The end of the group in flight, if it starts at `first` (the oldest unreplayed
    /// record); a stale end (the group was committed) is forgotten.
    fn group_in_flight(&self, first: Position) -> Option<Position> {
        let mut end = self.group_end.lock().unwrap_or_else(|p| p.into_inner());
        if end.is_some_and(|e| e <= first) {
            *end = None;
        }
        *end
    }

    fn set_group_end(&self, end: Option<Position>) {
        *self.group_end.lock().unwrap_or_else(|p| p.into_inner()) = end;
    }

    fn update_gauges(&self, store: &QueueStore) {
        self.pending
            .store(store.pending_records(), Ordering::SeqCst);
        self.metrics
            .pending_batches
            .set(store.pending_records() as i64);
        self.metrics.pending_bytes.set(store.pending_bytes() as i64);
    }

    async fn enqueue(
        self: Arc<Self>,
        series: Vec<TimeSeries>,
    ) -> telltale_storage_api::Result<u64> {
        let samples: u64 = series
            .iter()
            .map(|s| (s.samples.len() + s.histograms.len()) as u64)
            .sum();
        let this = self.clone();
        let appended = tokio::task::spawn_blocking(move || {
            let payload = WriteRequest { series }.encode_to_vec();
            let mut store = this.lock();
            let r = store.append(&payload);
            this.update_gauges(&store);
            r
        })
        .await
        .unwrap_or_else(|e| {
            Err(AppendError::Io(Error::Internal {
                message: format!("disk queue append task failed: {e}"),
            }))
        });
        match appended {
            Ok(()) => {
                self.metrics.enqueued_samples_total.inc_by(samples);
                self.notify.notify_one();
                Ok(samples)
            }
            Err(AppendError::Full {
                pending,
                needed,
                limit,
            }) => {
                self.metrics
                    .dropped_samples_total
                    .with_label_values(&["overflow"])
                    .inc_by(samples);
                warn!(pending, limit, samples, "disk queue full: batch dropped");
                Err(telltale_storage_api::Error::Status {
                    code: tonic::Code::ResourceExhausted,
                    message: format!(
                        "storage unavailable and disk queue full ({pending} of {limit} bytes used, batch needs {needed}): {samples} samples dropped"
                    ),
                })
            }
            Err(AppendError::Io(e)) => {
                self.metrics
                    .dropped_samples_total
                    .with_label_values(&["io"])
                    .inc_by(samples);
                error!(error = %e, samples, "cannot append to the disk queue: batch dropped");
                Err(telltale_storage_api::Error::Status {
                    code: tonic::Code::Unavailable,
                    message: format!("storage unavailable and the disk queue failed: {e}"),
                })
            }
        }
    }
}

async fn replay(inner: Arc<Inner>) {
    let mut backoff = inner.options.retry_min;
    let mut down_logged = false;
    loop {
        let peeked = {
            let inner = inner.clone();
            tokio::task::spawn_blocking(move || {
                let mut store = inner.lock();
                let first = store.peek_many(1, u64::MAX)?;
                match first.first().and_then(|r| inner.group_in_flight(r.at)) {
                    // The group in flight, exactly: read on to its end.
                    Some(end) => {
                        let mut records = store.peek_many(usize::MAX, u64::MAX)?;
                        let keep = records.iter().take_while(|r| r.next <= end).count();
                        records.truncate(keep.max(1));
                        Ok((records, true))
                    }
                    None if first.is_empty() => Ok((first, false)),
                    None => store
                        .peek_many(inner.options.replay_batches, inner.options.replay_bytes)
                        .map(|r| (r, false)),
                }
            })
            .await
        };
        let (records, in_flight) = match peeked {
            Ok(Ok((r, _))) if r.is_empty() => {
                inner.notify.notified().await;
                continue;
            }
            Ok(Ok(r)) => r,
            Ok(Err(e @ Error::QueueCorrupt { .. })) => {
                error!(error = %e, "disk queue record unreadable: skipping the rest of its segment");
                let inner2 = inner.clone();
                let lost = tokio::task::spawn_blocking(move || {
                    let mut store = inner2.lock();
                    let lost = store.skip_segment();
                    inner2.update_gauges(&store);
                    lost
                })
                .await
                .unwrap_or(0);
                warn!(batches = lost, "queued batches lost to corruption");
                continue;
            }
            Ok(Err(e)) => {
                error!(error = %e, "cannot read the disk queue; retrying");
                tokio::time::sleep(inner.options.retry_max).await;
                continue;
            }
            Err(e) => {
                error!(error = %e, "disk queue read task failed; retrying");
                tokio::time::sleep(inner.options.retry_max).await;
                continue;
            }
        };
        let Some(last) = records.last() else { continue };
        let (id, end) = (batch_id(inner.writer, last.at), last.next);
        if !in_flight {
            // A new group: its end is durable before any of it is sent.
            if let Err(e) = persist_inflight(&inner.dir, end).await {
                error!(error = %e, "cannot persist the disk queue's replay group; retrying");
                tokio::time::sleep(inner.options.retry_max).await;
                continue;
            }
            inner.set_group_end(Some(end));
        }
        let mut batches: Vec<(BatchId, Vec<TimeSeries>)> = Vec::with_capacity(records.len());
        for r in &records {
            match WriteRequest::decode(r.payload.as_slice()) {
                Ok(req) => batches.push((batch_id(inner.writer, r.at), req.series)),
                // The CRC matched, so this is a bug rather than a disk fault.
                Err(e) => error!(error = %e, "queued batch does not decode; dropping it"),
            }
        }
        let merged: Vec<TimeSeries> = batches.iter().flat_map(|b| b.1.iter().cloned()).collect();
        let samples: u64 = merged
            .iter()
            .map(|s| (s.samples.len() + s.histograms.len()) as u64)
            .sum();
        loop {
            match inner.downstream.write_identified(merged.clone(), id).await {
                Ok(_) => {
                    inner.metrics.replayed_samples_total.inc_by(samples);
                    if down_logged {
                        info!("storage is back; replaying the disk queue");
                        down_logged = false;
                    }
                    backoff = inner.options.retry_min;
                    break;
                }
                Err(e) if e.is_invalid_request() => {
                    // Find the batches storage refuses; write the others, in order.
                    replay_one_by_one(&inner, std::mem::take(&mut batches)).await;
                    break;
                }
                Err(e) => {
                    if !down_logged {
                        warn!(error = %e, "storage still unavailable; the disk queue waits");
                        down_logged = true;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(inner.options.retry_max);
                }
            }
        }
        commit(&inner, records).await;
        inner.set_group_end(None);
    }
}

/// Writes queued batches one at a time (each under its own batch number, all at or
/// below the group's), dropping (and counting) those storage refuses as invalid and
/// retrying the others while storage is unavailable.
async fn replay_one_by_one(inner: &Arc<Inner>, batches: Vec<(BatchId, Vec<TimeSeries>)>) {
    for (id, series) in batches {
        let samples: u64 = series
            .iter()
            .map(|s| (s.samples.len() + s.histograms.len()) as u64)
            .sum();
        let mut backoff = inner.options.retry_min;
        loop {
            match inner.downstream.write_identified(series.clone(), id).await {
                Ok(_) => {
                    inner.metrics.replayed_samples_total.inc_by(samples);
                    break;
                }
                Err(e) if e.is_invalid_request() => {
                    inner
                        .metrics
                        .dropped_samples_total
                        .with_label_values(&["rejected"])
                        .inc_by(samples);
                    error!(error = %e, samples, "storage refused a queued batch; dropping it");
                    break;
                }
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(inner.options.retry_max);
                }
            }
        }
    }
}

async fn persist_inflight(dir: &Path, end: Position) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || cursor::store_inflight(&dir, end))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))
}

/// Marks the group replayed. The cursor must be durable before the next group is
/// defined (a restart re-sends exactly the group after the cursor), so a failed cursor
/// write is retried until it succeeds.
async fn commit(inner: &Arc<Inner>, records: Vec<Record>) {
    let Some(next) = records.last().map(|r| r.next) else {
        return;
    };
    let inner2 = inner.clone();
    let done = tokio::task::spawn_blocking(move || {
        let mut store = inner2.lock();
        let r = store.commit_many(&records);
        inner2.update_gauges(&store);
        r
    })
    .await;
    let mut failed = match done {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e.to_string(),
        Err(e) => format!("disk queue commit task failed: {e}"),
    };
    loop {
        error!(error = %failed, "cannot persist the disk queue cursor; retrying");
        tokio::time::sleep(inner.options.retry_max).await;
        let dir = inner.dir.clone();
        match tokio::task::spawn_blocking(move || cursor::store(&dir, next)).await {
            Ok(Ok(())) => return,
            Ok(Err(e)) => failed = e.to_string(),
            Err(e) => failed = e.to_string(),
        }
    }
}
