//! The result cache of range queries: answers of completed past intervals, reused by
//! later range queries over the same expression and step.
//!
//! ```text
//!  query_range(expr, start, end, step)
//!     |  steps grouped by interval: [k*I, (k+1)*I), I a multiple of the step
//!     v
//!   interval settled? (every selection ends before now - max freshness and before
//!     newest sample - out-of-order window; rollup reads before the tier is complete)
//!     |-- yes: ResultCache (key: planned expression, step, phase, lookback, interval)
//!     |          hit -> reuse; miss -> evaluate the whole interval, keep it
//!     `-- no:  evaluate (the newest intervals, never kept)
//!   merged by series, in time order
//! ```
//!
//! Invalidation: storage numbers its late writes (samples behind the out-of-order window,
//! recomputed rollup windows, retention drops) and reports the recent ones in `Info`
//! (`LateWrites`). Every entry remembers the generation storage was at before its data
//! was read and the time range it read; a late write with a later generation over that
//! range drops it. A new epoch (storage restarted), a gap in the reported writes, or an
//! `Info` without `late_writes` (a merged, sharded answer) empties the cache or keeps it
//! off. Memory is bounded by a byte budget with least-recently-used eviction.

/// The cache's self-metrics.
pub(crate) mod metrics;
/// Splitting a range query by interval and merging the pieces.
pub(crate) mod split;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use telltale_storage_api::{LateWrite, LateWrites};

use crate::value::Series;
use metrics::CacheMetrics;

/// Result cache settings (the cache is off when `max_bytes` is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheOptions {
    /// Memory budget for cached intervals, in bytes; 0 turns the cache off.
    pub max_bytes: usize,
    /// Intervals newer than `now - max_freshness_ms` are never cached (data may still
    /// arrive for them).
    pub max_freshness_ms: i64,
    /// Target interval length; the actual interval is the next multiple of the step (and
    /// at least 60 steps).
    pub interval_ms: i64,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_bytes: 0,
            max_freshness_ms: 10 * 60 * 1000,
            interval_ms: 60 * 60 * 1000,
        }
    }
}

/// What identifies a cached interval: the query part (normalised, planned expression,
/// step, step phase, lookback) and the interval's start.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct EntryKey {
    pub query: Arc<str>,
    pub interval_start: i64,
}

/// Where storage stood when an interval's data was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation {
    pub epoch: u64,
    pub generation: u64,
}

struct Entry {
    series: Arc<Vec<Series>>,
    bytes: usize,
    /// Inclusive time range the interval's selections read.
    read: (i64, i64),
    generation: u64,
    tick: u64,
}

#[derive(Default)]
struct State {
    epoch: u64,
    /// The newest late-write generation applied to the entries.
    seen: u64,
    /// The late writes last reported (to check entries computed before they were seen).
    recent: Vec<LateWrite>,
    entries: HashMap<EntryKey, Entry>,
    /// Least recently used first.
    lru: BTreeMap<u64, EntryKey>,
    tick: u64,
    bytes: usize,
}

/// Cached intervals of range queries, bounded in bytes.
pub(crate) struct ResultCache {
    opts: CacheOptions,
    state: Mutex<State>,
    metrics: CacheMetrics,
}

fn overlaps(w: &LateWrite, read: (i64, i64)) -> bool {
    w.min_ms <= read.1 && read.0 <= w.max_ms
}

impl ResultCache {
    pub(crate) fn new(opts: CacheOptions, registry: &prometheus::Registry) -> Self {
        ResultCache {
            opts,
            state: Mutex::new(State::default()),
            metrics: CacheMetrics::new(registry),
        }
    }

    pub(crate) fn options(&self) -> &CacheOptions {
        &self.opts
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies storage's late writes: drops the entries they touch (everything on a new
    /// epoch or when some were missed). Returns the generation new entries are read at.
    pub(crate) fn observe(&self, late: &LateWrites) -> Generation {
        let mut st = self.state();
        let now = Generation {
            epoch: late.epoch,
            generation: late.generation,
        };
        if st.epoch != late.epoch {
            self.clear(&mut st);
            st.epoch = late.epoch;
        } else if late.generation < st.seen {
            // An older report overtaken by a newer one (concurrent queries): entries read
            // at this generation are checked against the newer list when kept.
            return now;
        } else if late.generation > st.seen {
            let first = late.recent.first().map_or(u64::MAX, |w| w.generation);
            if first > st.seen + 1 {
                self.clear(&mut st);
            } else {
                let seen = st.seen;
                let doomed: Vec<EntryKey> = st
                    .entries
                    .iter()
                    .filter(|(_, e)| {
                        late.recent
                            .iter()
                            .any(|w| w.generation > seen.max(e.generation) && overlaps(w, e.read))
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in doomed {
                    self.remove(&mut st, &k);
                    self.metrics.invalidations.inc();
                }
            }
        }
        st.seen = late.generation;
        st.recent = late.recent.clone();
        now
    }

    /// The cached interval under `key`, if any.
    pub(crate) fn get(&self, key: &EntryKey) -> Option<Arc<Vec<Series>>> {
        let mut st = self.state();
        st.tick += 1;
        let tick = st.tick;
        let Some(e) = st.entries.get_mut(key) else {
            self.metrics.misses.inc();
            return None;
        };
        let old = std::mem::replace(&mut e.tick, tick);
        let series = e.series.clone();
        st.lru.remove(&old);
        st.lru.insert(tick, key.clone());
        self.metrics.hits.inc();
        Some(series)
    }

    /// Keeps an interval's series, read at `at` over the time range `read`, unless a late
    /// write storage reported since then touches that range, or it exceeds the budget.
    pub(crate) fn insert(
        &self,
        key: EntryKey,
        series: Vec<Series>,
        read: (i64, i64),
        at: Generation,
    ) {
        let bytes = size_of_series(&series) + key.query.len() + 128;
        if bytes > self.opts.max_bytes {
            return;
        }
        let mut st = self.state();
        if at.epoch != st.epoch {
            return;
        }
        if at.generation < st.seen {
            // Late writes were seen after this data was read: are they all listed, and do
            // any of them touch it?
            let first = st.recent.first().map_or(u64::MAX, |w| w.generation);
            if first > at.generation + 1
                || st
                    .recent
                    .iter()
                    .any(|w| w.generation > at.generation && overlaps(w, read))
            {
                return;
            }
        }
        self.remove(&mut st, &key);
        while st.bytes + bytes > self.opts.max_bytes {
            let Some((_, oldest)) = st.lru.pop_first() else {
                break;
            };
            if let Some(e) = st.entries.remove(&oldest) {
                st.bytes -= e.bytes;
                self.metrics.evictions.inc();
            }
        }
        st.tick += 1;
        let tick = st.tick;
        st.lru.insert(tick, key.clone());
        st.bytes += bytes;
        st.entries.insert(
            key,
            Entry {
                series: Arc::new(series),
                bytes,
                read,
                generation: at.generation,
                tick,
            },
        );
        self.publish(&st);
    }

    fn remove(&self, st: &mut State, key: &EntryKey) {
        if let Some(e) = st.entries.remove(key) {
            st.lru.remove(&e.tick);
            st.bytes -= e.bytes;
        }
        self.publish(st);
    }

    fn clear(&self, st: &mut State) {
        if !st.entries.is_empty() {
            self.metrics.invalidations.inc_by(st.entries.len() as u64);
        }
        st.entries.clear();
        st.lru.clear();
        st.bytes = 0;
        st.recent.clear();
        self.publish(st);
    }

    fn publish(&self, st: &State) {
        self.metrics.bytes.set(st.bytes as i64);
        self.metrics.entries.set(st.entries.len() as i64);
    }

    /// Entries held (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.state().entries.len()
    }
}

/// Approximate heap bytes of cached series.
fn size_of_series(series: &[Series]) -> usize {
    series
        .iter()
        .map(|s| {
            let labels: usize = s.metric.iter().map(|(n, v)| n.len() + v.len() + 48).sum();
            let histograms: usize = s
                .histograms
                .iter()
                .map(|(_, h)| 96 + 8 * (h.bucket_count() + h.custom_values.len()))
                .sum();
            labels + s.points.len() * 16 + histograms + 64
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    fn cache(max_bytes: usize) -> ResultCache {
        ResultCache::new(
            CacheOptions {
                max_bytes,
                ..CacheOptions::default()
            },
            &prometheus::Registry::new(),
        )
    }

    fn key(i: i64) -> EntryKey {
        EntryKey {
            query: Arc::from("q"),
            interval_start: i,
        }
    }

    fn series(n: usize) -> Vec<Series> {
        vec![Series::floats(
            Labels::empty(),
            (0..n as i64).map(|t| (t, 1.0)).collect(),
        )]
    }

    fn late(epoch: u64, writes: &[(u64, i64, i64)]) -> LateWrites {
        LateWrites {
            epoch,
            generation: writes.last().map_or(0, |w| w.0),
            recent: writes
                .iter()
                .map(|&(generation, min_ms, max_ms)| LateWrite {
                    generation,
                    min_ms,
                    max_ms,
                })
                .collect(),
            out_of_order_window_ms: 0,
        }
    }

    #[test]
    fn late_writes_drop_only_the_intervals_they_touch() {
        let c = cache(1 << 20);
        let at = c.observe(&late(7, &[]));
        c.insert(key(0), series(3), (0, 99), at);
        c.insert(key(100), series(3), (100, 199), at);
        assert!(c.get(&key(0)).is_some());
        c.observe(&late(7, &[(1, 150, 150)]));
        assert!(c.get(&key(0)).is_some());
        assert!(c.get(&key(100)).is_none());
        // A new epoch (storage restarted) forgets everything.
        c.observe(&late(8, &[]));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn an_interval_read_before_a_late_write_it_missed_is_not_kept() {
        let c = cache(1 << 20);
        let before = c.observe(&late(1, &[]));
        // Another query saw a late write in [10, 20] before this one finished.
        c.observe(&late(1, &[(1, 10, 20)]));
        c.insert(key(0), series(1), (0, 99), before);
        assert!(c.get(&key(0)).is_none());
        c.insert(key(100), series(1), (100, 199), before);
        assert!(c.get(&key(100)).is_some());
    }

    #[test]
    fn missed_late_writes_clear_everything() {
        let c = cache(1 << 20);
        let at = c.observe(&late(1, &[(1, 0, 0)]));
        c.insert(key(0), series(1), (1000, 2000), at);
        // Generations 2 and 3 fell out of the reported list.
        c.observe(&late(1, &[(4, 5, 5)]));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn the_byte_budget_evicts_the_least_recently_used() {
        let one = size_of_series(&series(10)) + 1 + 128;
        let c = cache(one * 2);
        let at = c.observe(&late(1, &[]));
        c.insert(key(0), series(10), (0, 0), at);
        c.insert(key(1), series(10), (0, 0), at);
        assert!(c.get(&key(0)).is_some());
        c.insert(key(2), series(10), (0, 0), at);
        assert!(c.get(&key(1)).is_none(), "least recently used goes first");
        assert!(c.get(&key(0)).is_some());
        assert!(c.get(&key(2)).is_some());
        // Larger than the whole budget: not kept.
        c.insert(key(3), series(1000), (0, 0), at);
        assert!(c.get(&key(3)).is_none());
    }
}
