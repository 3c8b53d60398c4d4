//! Late writes: changes to data a reader may already treat as settled, numbered so a
//! result cache can tell which of its answers they touch.
//!
//! "Late" is measured against the writes, not the clock: a sample older than the
//! out-of-order window below the newest sample seen so far (wherever it is stored), a
//! rollup window recomputed because such a sample landed in it, and a retention drop.
//! Data newer than `newest - out_of_order_window` may change without notice, so a cache
//! keeps only answers over older data (see `InfoResponse.late_writes`).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use telltale_storage_api::{LateWrite, LateWrites};

/// How many of the most recent late writes are reported; a reader further behind
/// forgets everything.
pub const LATE_WRITES_KEPT: usize = 256;

/// The numbered late writes of this process (the numbering restarts with a new epoch
/// when the engine is opened again).
#[derive(Debug)]
pub(crate) struct LateWriteLog {
    epoch: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    generation: u64,
    recent: VecDeque<LateWrite>,
}

impl LateWriteLog {
    pub(crate) fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        LateWriteLog {
            // Distinct per open: the time, mixed with the process id for two engines
            // opened in the same nanosecond in different processes.
            epoch: (nanos ^ (u64::from(std::process::id()) << 48)).max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// Records that data in `[min_ms, max_ms]` changed.
    pub(crate) fn record(&self, min_ms: i64, max_ms: i64) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.generation += 1;
        let generation = st.generation;
        if st.recent.len() == LATE_WRITES_KEPT {
            st.recent.pop_front();
        }
        st.recent.push_back(LateWrite {
            generation,
            min_ms,
            max_ms,
        });
    }

    /// The report for `InfoResponse.late_writes`.
    pub(crate) fn report(&self, out_of_order_window_ms: i64) -> LateWrites {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        LateWrites {
            epoch: self.epoch,
            generation: st.generation,
            recent: st.recent.iter().cloned().collect(),
            out_of_order_window_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_writes_and_keeps_the_most_recent() {
        let log = LateWriteLog::new();
        assert_eq!(log.report(5).generation, 0);
        for i in 0..(LATE_WRITES_KEPT as i64 + 10) {
            log.record(i, i + 1);
        }
        let r = log.report(5);
        assert_eq!(r.generation, LATE_WRITES_KEPT as u64 + 10);
        assert_eq!(r.recent.len(), LATE_WRITES_KEPT);
        assert_eq!(r.recent[0].generation, 11);
        assert_eq!(r.recent[0].min_ms, 10);
        assert_eq!(r.recent.last().map(|w| w.generation), Some(r.generation));
        assert_eq!(r.out_of_order_window_ms, 5);
        assert_ne!(r.epoch, 0);
    }
}
