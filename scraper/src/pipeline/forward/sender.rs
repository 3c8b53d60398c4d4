//! The sender task of a [`super::RemoteWriteForwarder`]: drains the queue in order.
//!
//! ```text
//!  wait: a full batch pending (max_samples_per_send) | batch_send_deadline since the
//!        first pending sample | stop
//!   -> oldest records, whole, up to max_samples_per_send samples
//!   -> joined protobuf parts, snappy -> POST (client.rs)
//!        2xx: sent | 5xx, 429 if retried, no answer: pause (Retry-After or backoff
//!        min_backoff doubling to max_backoff), same batch again | other 4xx: dropped
//!   -> commit the records (cursor, fsync) -> next batch
//! ```
//!
//! A batch is committed only once the remote took it (or refused it for good), so a
//! stop or a crash in between sends it again: delivery is at least once, in order.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::client::{RemoteClient, Verdict};
use super::forwarder::{Shared, samples_in};
use super::record;
use crate::error::Error;
use crate::queue::store::Record;

/// Runs until `stop` turns true (or the forwarder goes).
pub(super) async fn run(
    shared: Arc<Shared>,
    client: RemoteClient,
    mut stop: watch::Receiver<bool>,
) {
    let settings = shared.settings;
    let max = settings.max_samples_per_send as u64;
    let mut partial_since: Option<Instant> = None;
    let mut failing = false;
    loop {
        if *stop.borrow() {
            return;
        }
        let pending = shared.pending_samples.load(Ordering::SeqCst);
        if pending == 0 {
            partial_since = None;
            tokio::select! {
                _ = shared.notify.notified() => {}
                r = stop.changed() => if r.is_err() { return },
            }
            continue;
        }
        if pending < max {
            let since = *partial_since.get_or_insert_with(Instant::now);
            let deadline = since + settings.batch_send_deadline;
            if Instant::now() < deadline {
                tokio::select! {
                    _ = shared.notify.notified() => {}
                    _ = tokio::time::sleep_until(deadline.into()) => {}
                    r = stop.changed() => if r.is_err() { return },
                }
                continue;
            }
        }
        partial_since = None;
        let records = match read_batch(&shared, max).await {
            Ok(r) if r.is_empty() => {
                recount(&shared).await;
                continue;
            }
            Ok(r) => r,
            Err(Error::QueueCorrupt { path, message }) => {
                error!(%path, %message, "remote_write queue record unreadable: skipping the rest of its segment");
                skip_segment(&shared).await;
                continue;
            }
            Err(e) => {
                error!(error = %e, "cannot read the remote_write queue; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(settings.max_backoff) => {}
                    r = stop.changed() => if r.is_err() { return },
                }
                continue;
            }
        };
        if !send(&shared, &client, &records, &mut stop, &mut failing).await {
            return;
        }
        commit(&shared, records).await;
    }
}

/// The oldest records, whole, holding at most `max` samples (at least one record).
async fn read_batch(shared: &Arc<Shared>, max: u64) -> Result<Vec<Record>, Error> {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let mut total = 0u64;
        let (records, _more) = shared.lock().peek_while(|p| {
            let n = record::header(p).map_or(0, |h| h.samples as u64);
            if total > 0 && total + n > max {
                return false;
            }
            total += n;
            true
        })?;
        Ok(records)
    })
    .await
    .unwrap_or_else(|e| {
        Err(Error::Internal {
            message: format!("remote_write queue read task failed: {e}"),
        })
    })
}

/// Sends one batch until the remote takes it or refuses it for good; false when told
/// to stop first (the batch stays queued).
async fn send(
    shared: &Shared,
    client: &RemoteClient,
    records: &[Record],
    stop: &mut watch::Receiver<bool>,
    failing: &mut bool,
) -> bool {
    let settings = shared.settings;
    let m = &shared.metrics;
    let samples = samples_in(records);
    let max_ts = records
        .iter()
        .filter_map(|r| record::header(&r.payload))
        .map(|h| h.max_timestamp_ms)
        .max()
        .unwrap_or(0);
    let mut raw = Vec::with_capacity(records.iter().map(|r| r.payload.len()).sum());
    for r in records {
        raw.extend_from_slice(record::body(&r.payload));
    }
    let compressed = match snap::raw::Encoder::new().compress_vec(&raw) {
        Ok(c) => c,
        Err(e) => {
            m.samples_failed_total.inc_by(samples);
            error!(error = %e, samples, "cannot compress a remote_write batch; dropped");
            return true;
        }
    };
    let mut backoff = settings.min_backoff;
    loop {
        let started = Instant::now();
        let verdict = client.send(compressed.clone()).await;
        m.sent_batch_duration_seconds
            .observe(started.elapsed().as_secs_f64());
        match verdict {
            Verdict::Sent => {
                m.samples_total.inc_by(samples);
                m.bytes_total.inc_by(compressed.len() as u64);
                let sent_s = max_ts as f64 / 1000.0;
                if sent_s > m.highest_sent_timestamp_seconds.get() {
                    m.highest_sent_timestamp_seconds.set(sent_s);
                }
                if *failing {
                    info!("remote_write endpoint takes batches again");
                    *failing = false;
                }
                return true;
            }
            Verdict::Drop { reason } => {
                m.samples_total.inc_by(samples);
                m.samples_failed_total.inc_by(samples);
                error!(%reason, samples, "non-recoverable error sending a remote_write batch; dropped");
                return true;
            }
            Verdict::Retry { reason, after } => {
                m.samples_retried_total.inc_by(samples);
                if *failing {
                    debug!(%reason, "remote_write send failed again");
                } else {
                    warn!(%reason, samples, "remote_write send failed; retrying with backoff");
                    *failing = true;
                }
                let pause = after.unwrap_or(backoff);
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() || stop.has_changed().is_err() {
                    return false;
                }
                backoff = (backoff * 2).min(settings.max_backoff);
            }
        }
    }
}

/// Marks the batch's records sent; those evicted meanwhile were settled by the eviction.
async fn commit(shared: &Arc<Shared>, records: Vec<Record>) {
    let shared = shared.clone();
    let done = tokio::task::spawn_blocking(move || {
        let mut store = shared.lock();
        let read = store.read_position();
        let live: Vec<Record> = records.into_iter().filter(|r| r.at >= read).collect();
        let r = store.commit_many(&live);
        shared.settle(samples_in(&live));
        shared.update_gauges(&store);
        r
    })
    .await;
    match done {
        Ok(Ok(())) => {}
        // In memory the records are sent; a restart before the next commit sends them
        // again.
        Ok(Err(e)) => error!(error = %e, "cannot persist the remote_write queue cursor"),
        Err(e) => error!(error = %e, "remote_write queue commit task failed"),
    }
}

/// Gives up on the rest of an unreadable segment, counting what it held as dropped.
async fn skip_segment(shared: &Arc<Shared>) {
    let shared2 = shared.clone();
    let before = shared.pending_samples.load(Ordering::SeqCst);
    let _ = tokio::task::spawn_blocking(move || shared2.lock().skip_segment()).await;
    let after = recount(shared).await;
    shared
        .metrics
        .samples_dropped_total
        .inc_by(before.saturating_sub(after));
}

/// Counts the pending samples again from the records' headers.
async fn recount(shared: &Arc<Shared>) -> u64 {
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        let store = shared.lock();
        let mut n = 0u64;
        if let Err(e) =
            store.visit_pending(|p| n += record::header(p).map_or(0, |h| h.samples as u64))
        {
            error!(error = %e, "cannot count the remote_write queue");
        }
        shared.pending_samples.store(n, Ordering::SeqCst);
        shared.update_gauges(&store);
        n
    })
    .await
    .unwrap_or(0)
}
