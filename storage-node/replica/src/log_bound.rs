//! [`LogBound`]: the Raft log's bytes since the last snapshot held under
//! `log_max_bytes` at all times, not only on average. openraft bounds the log in entries
//! (`snapshot_every`); this bounds it in bytes, in two steps:
//!
//! - a snapshot (an engine flush, after which the log before it is purged) is asked for
//!   once the entries since the last one hold half the bound, so the writes that arrive
//!   while the flush runs still fit;
//! - a write waits before it is proposed while the entries since the last snapshot and
//!   the writes already admitted would pass the bound, until a snapshot makes room, and
//!   fails as unavailable (the writer retries, as remote_write senders do) if none comes
//!   within [`ADMIT_TIMEOUT`]. A single entry larger than the bound is admitted alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use openraft::{Raft, ServerState};
use tokio::sync::Notify;

use crate::error::{Error, Result};
use crate::log_store::LogStore;
use crate::metrics::ReplicaMetrics;
use crate::snapshots::Snapshots;
use crate::types::TypeConfig;

/// How often the log's size is checked when no write asks sooner.
const LOG_CHECK: Duration = Duration::from_secs(1);
/// How long a write waits for room in the log before it fails.
pub const ADMIT_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a waiting write looks again.
const RECHECK: Duration = Duration::from_millis(5);
/// Bytes a log entry adds to its command (its log id and the writer's batch id).
const ENTRY_OVERHEAD: u64 = 64;

/// The write gate and the snapshot trigger of one replica's log.
pub struct LogBound {
    raft: Raft<TypeConfig>,
    log: LogStore,
    /// 0: unbounded in bytes.
    max: u64,
    /// Bytes of the writes admitted and not yet answered.
    in_flight: AtomicU64,
    /// Wakes the trigger when a write finds the log full.
    full: Notify,
    metrics: Arc<ReplicaMetrics>,
}

/// An admitted write's share of the bound, given back when dropped.
pub struct Admitted<'a> {
    bound: &'a LogBound,
    bytes: u64,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.bound.in_flight.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

impl LogBound {
    pub fn new(
        raft: Raft<TypeConfig>,
        log: LogStore,
        max: u64,
        metrics: Arc<ReplicaMetrics>,
    ) -> Arc<Self> {
        Arc::new(LogBound {
            raft,
            log,
            max,
            in_flight: AtomicU64::new(0),
            full: Notify::new(),
            metrics,
        })
    }

    fn snapshot_index(&self) -> u64 {
        self.raft.metrics().borrow().snapshot.map_or(0, |l| l.index)
    }

    /// Bytes of the log's entries after the last snapshot.
    pub fn since_snapshot(&self) -> u64 {
        self.log.bytes_after(self.snapshot_index())
    }

    /// Waits until a command of `command_bytes` fits under the bound, and holds its
    /// share until the returned guard is dropped (when the write is answered).
    pub async fn admit(&self, command_bytes: usize) -> Result<Admitted<'_>> {
        let bytes = command_bytes as u64 + ENTRY_OVERHEAD;
        if self.max == 0 {
            return Ok(self.hold(bytes));
        }
        let deadline = tokio::time::Instant::now() + ADMIT_TIMEOUT;
        let mut waited = false;
        loop {
            let held = self.since_snapshot();
            let admitted =
                self.in_flight
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |in_flight| {
                        let total = held + in_flight;
                        (total == 0 || total + bytes <= self.max).then_some(in_flight + bytes)
                    });
            if admitted.is_ok() {
                return Ok(Admitted { bound: self, bytes });
            }
            self.full.notify_one();
            if !waited {
                waited = true;
                self.metrics.log_full_waits.inc();
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::LogFull {
                    held,
                    max: self.max,
                    waited: ADMIT_TIMEOUT,
                });
            }
            tokio::time::sleep(RECHECK).await;
        }
    }

    fn hold(&self, bytes: u64) -> Admitted<'_> {
        self.in_flight.fetch_add(bytes, Ordering::AcqRel);
        Admitted { bound: self, bytes }
    }

    /// Asks for a snapshot once the entries since the last one hold half the bound (or
    /// a write waits for room); reports the log's size; removes checkpoints no follower
    /// needs any more. Ends when Raft shuts down.
    pub fn spawn(self: &Arc<Self>, snapshots: Arc<Snapshots>) {
        let bound = self.clone();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let mut ticks = 0u64;
            let mut asked_at: Option<u64> = None;
            loop {
                // A write waiting for room asks for a snapshot of whatever the log holds.
                let waiting = tokio::select! {
                    _ = tokio::time::sleep(LOG_CHECK) => {
                        ticks += 1;
                        false
                    }
                    _ = bound.full.notified() => true,
                };
                let size = bound.log.size();
                metrics.log_entries.set(size.entries as i64);
                metrics.log_bytes.set(size.bytes as i64);
                let (state, snapshot, applied) = {
                    let metrics = bound.raft.metrics();
                    let m = metrics.borrow();
                    (
                        m.state,
                        m.snapshot.map_or(0, |l| l.index),
                        m.last_applied.map_or(0, |l| l.index),
                    )
                };
                if state == ServerState::Shutdown {
                    return;
                }
                // Asked once per snapshot: the next ask waits until that one is built.
                let pending = asked_at.is_some_and(|at| snapshot < at);
                if bound.max > 0
                    && !pending
                    && applied > snapshot
                    && (waiting || bound.log.bytes_after(snapshot) >= bound.max / 2)
                {
                    metrics.log_snapshots.inc();
                    asked_at = Some(applied);
                    if bound.raft.trigger().snapshot().await.is_err() {
                        return;
                    }
                }
                if ticks > 0 && ticks.is_multiple_of(30) {
                    ticks = 0;
                    let s = snapshots.clone();
                    let _ = tokio::task::spawn_blocking(move || s.cleanup()).await;
                }
            }
        });
    }
}
