//! [`Maintenance`]: the background thread that flushes the head, computes rollups and
//! enforces retention, so none of it runs on a write's path.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::warn;

use super::Engine;

/// How often maintenance refreshes the disk and head-size gauges.
const GAUGES_EVERY: Duration = Duration::from_secs(10);

/// Runs the engine's background work until dropped (or the engine is gone).
#[derive(Debug)]
pub struct Maintenance {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts the background work, checking every `tick` whether a flush, rollup or
    /// retention step is due. Dropping the handle stops it (after the step in progress).
    pub fn start_maintenance(self: &Arc<Self>, tick: Duration) -> Maintenance {
        let (tx, rx) = mpsc::channel::<()>();
        let engine: Weak<Engine> = Arc::downgrade(self);
        let thread = std::thread::Builder::new()
            .name("storage-maintenance".into())
            .spawn(move || {
                loop {
                    match rx.recv_timeout(tick) {
                        Err(RecvTimeoutError::Timeout) => {}
                        _ => return,
                    }
                    let Some(engine) = engine.upgrade() else {
                        return;
                    };
                    engine.maintenance_step();
                }
            })
            .expect("spawning a thread");
        Maintenance {
            stop: Some(tx),
            thread: Some(thread),
        }
    }

    /// One round of background work; failures are logged and retried next round.
    pub fn maintenance_step(&self) {
        if self.flush_due() {
            // Logged (and counted) by flush itself.
            let _ = self.flush();
        }
        if let Err(e) = self.rollup_pass() {
            warn!(error = %e, "rollup pass failed");
        }
        if let Err(e) = self.enforce_retention() {
            warn!(error = %e, "retention pass failed");
        }
        self.compact_moved();
        // The head's size is a walk over every series in it (about a millisecond per
        // 100,000): refreshed as often as a scrape would read it, not every round.
        let due = {
            let mut st = self.maintaining();
            let due = st.gauges_at.is_none_or(|at| at.elapsed() >= GAUGES_EVERY);
            if due {
                st.gauges_at = Some(Instant::now());
            }
            due
        };
        if due {
            self.update_disk_metrics();
        }
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
