//! [`SeriesCache`]: what each series a target exposes became the last time it was scraped
//! (its label set after target labels and metric relabeling, or dropped), keyed by the
//! series' text as exposed (name and label set, [`ParsedSample::series`]). An unchanged
//! series is looked up by that borrowed text and skips label parsing, merging,
//! relabeling and the label limit on every later scrape: nothing is allocated for it, as
//! with Prometheus's scrape cache.
//!
//! [`ParsedSample::series`]: crate::pull::text::ParsedSample::series Entries of series
//! absent from a scrape are evicted after it; the whole cache is dropped when the
//! target's rules change.
//!
//! Exposed series that become the same final label set (relabeling that collapses
//! labels, the same labels in another order) share one [`Series`]: a final series is
//! one object for as long as the cache lives, and the scrape's bookkeeping (which
//! scrape wrote it last, [`Series::mark_written`]) is kept on it instead of in maps.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rustc_hash::FxHashMap;
use telltale_storage_api::SeriesLabels;

use crate::pull::labels::{LabelPairs, to_storage_labels};
use crate::pull::limits::Limits;

/// A series' final label set, in the storage contract's canonical form and hashed once:
/// the key of a scrape's series maps, and shared with every sample written for it
/// ([`SharedSample`](telltale_storage_api::SharedSample)), down to storage's index.
#[derive(Debug)]
pub struct Series {
    pub labels: Arc<SeriesLabels>,
    /// The label limit this label set breaks, if any.
    pub label_error: Option<String>,
    /// The number of the scrape that last wrote the series (0: none yet), as counted by
    /// the target's batch builder, its only writer.
    written_in: AtomicU64,
    /// Whether that scrape wrote it at the scrape's time (tracked for staleness) rather
    /// than with its own exposition timestamp.
    tracked: AtomicBool,
}

impl Series {
    pub fn new(labels: LabelPairs, limits: &Limits) -> Self {
        Series {
            label_error: limits.check_labels(&labels).err(),
            labels: Arc::new(SeriesLabels::new(to_storage_labels(&labels))),
            written_in: AtomicU64::new(0),
            tracked: AtomicBool::new(false),
        }
    }

    /// Records that scrape `scrape` writes the series; returns the scrape that wrote it
    /// before (`scrape` itself when this is a second sample of it in one scrape).
    pub fn mark_written(&self, scrape: u64, tracked: bool) -> u64 {
        let before = self.written_in.swap(scrape, Ordering::Relaxed);
        if before != scrape {
            self.tracked.store(tracked, Ordering::Relaxed);
        }
        before
    }

    /// True when scrape `scrape` wrote the series at the scrape's time.
    pub fn tracked_in(&self, scrape: u64) -> bool {
        self.written_in.load(Ordering::Relaxed) == scrape && self.tracked.load(Ordering::Relaxed)
    }
}

/// A shared [`Series`]: hashes as its precomputed hash, equal by label set.
#[derive(Clone, Debug)]
pub struct SeriesKey(pub Arc<Series>);

impl Hash for SeriesKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.labels.hash());
    }
}

impl PartialEq for SeriesKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.labels == other.0.labels
    }
}

impl Eq for SeriesKey {}

/// What an exposed series became: `None` when relabeling dropped it (or left it nameless).
type Outcome = Option<SeriesKey>;

#[derive(Debug)]
struct Entry {
    outcome: Outcome,
    /// The scrape that last saw the series.
    seen: u64,
}

/// See the module documentation.
#[derive(Debug, Default)]
pub struct SeriesCache {
    /// By the series' text as exposed.
    entries: FxHashMap<Box<str>, Entry>,
    /// Every final series the entries lead to, once each (by label set).
    finals: FxHashMap<SeriesKey, ()>,
    scrape: u64,
    /// The target labels, `honor_labels` and limits the entries were computed under.
    rules: Option<(LabelPairs, bool, Limits)>,
}

impl SeriesCache {
    /// Starts a scrape under these rules; entries computed under other rules are dropped.
    /// True when they were: the final series of this scrape are new objects then, equal
    /// to but not the same as the ones before.
    pub fn begin(
        &mut self,
        target_labels: &[(String, String)],
        honor_labels: bool,
        limits: Limits,
    ) -> bool {
        self.scrape += 1;
        let same = self.rules.as_ref().is_some_and(|(labels, honor, l)| {
            labels == target_labels && *honor == honor_labels && *l == limits
        });
        if !same {
            self.entries.clear();
            self.finals.clear();
            self.rules = Some((target_labels.to_vec(), honor_labels, limits));
        }
        !same
    }

    /// The final series of the exposed series `series` (its text as exposed), computed by
    /// `compute` when not cached.
    pub fn resolve(&mut self, series: &str, compute: impl FnOnce() -> Outcome) -> Outcome {
        if let Some(entry) = self.entries.get_mut(series) {
            entry.seen = self.scrape;
            return entry.outcome.clone();
        }
        let outcome = compute().map(|key| self.intern(key));
        self.entries.insert(
            series.into(),
            Entry {
                outcome: outcome.clone(),
                seen: self.scrape,
            },
        );
        outcome
    }

    /// The final series equal to `key` already known, or `key`, now known.
    fn intern(&mut self, key: SeriesKey) -> SeriesKey {
        match self.finals.get_key_value(&key) {
            Some((known, ())) => known.clone(),
            None => {
                self.finals.insert(key.clone(), ());
                key
            }
        }
    }

    /// Ends a scrape whose body was parsed: forgets the series it did not expose.
    pub fn end(&mut self) {
        let scrape = self.scrape;
        let before = self.entries.len();
        self.entries.retain(|_, e| e.seen == scrape);
        if self.entries.len() != before {
            // Final series no entry leads to any more (one the caller still holds goes
            // at a later eviction).
            self.finals.retain(|key, ()| Arc::strong_count(&key.0) > 1);
        }
    }

    /// Forgets everything (the target's metric relabeling changed).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.finals.clear();
        self.rules = None;
    }

    /// Exposed series cached.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pull::labels::tests::pairs;

    fn kept(name: &str) -> Outcome {
        let all = pairs(&[("__name__", name), ("x", "1")]);
        Some(SeriesKey(Arc::new(Series::new(all, &Limits::default()))))
    }

    #[test]
    fn computes_once_and_evicts_what_a_scrape_did_not_expose() {
        let mut cache = SeriesCache::default();
        let mut computed = 0;
        for round in 0..3 {
            cache.begin(&pairs(&[("job", "j")]), false, Limits::default());
            for name in ["a", "b"].iter().take(if round == 2 { 1 } else { 2 }) {
                let out = cache.resolve(&format!("{name}{{x=\"1\"}}"), || {
                    computed += 1;
                    kept(name)
                });
                assert_eq!(out.unwrap().0.labels.get("__name__"), Some(*name));
            }
            cache.end();
        }
        assert_eq!(computed, 2, "each series computed on its first scrape only");
        assert_eq!(cache.len(), 1, "b was not exposed by the last scrape");
    }

    #[test]
    fn other_rules_drop_the_entries() {
        let mut cache = SeriesCache::default();
        let mut computed = 0;
        let mut scrape = |cache: &mut SeriesCache, job: &str, limits: Limits| {
            cache.begin(&pairs(&[("job", job)]), false, limits);
            cache.resolve("a", || {
                computed += 1;
                kept("a")
            });
            cache.end();
        };
        scrape(&mut cache, "j", Limits::default());
        scrape(&mut cache, "j", Limits::default());
        scrape(&mut cache, "k", Limits::default());
        let limited = Limits {
            label_limit: 1,
            ..Limits::default()
        };
        scrape(&mut cache, "k", limited);
        cache.clear();
        scrape(&mut cache, "k", limited);
        assert_eq!(computed, 4);
    }

    #[test]
    fn keys_are_equal_by_label_set() {
        let a = SeriesKey(Arc::new(Series::new(
            pairs(&[("a", "1")]),
            &Limits::default(),
        )));
        let b = SeriesKey(Arc::new(Series::new(
            pairs(&[("a", "1")]),
            &Limits::default(),
        )));
        let c = SeriesKey(Arc::new(Series::new(
            pairs(&[("a", "2")]),
            &Limits::default(),
        )));
        assert_eq!(a, b);
        assert_ne!(a, c);
        let limited = Limits {
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            ..Limits::default()
        };
        assert!(
            Series::new(pairs(&[("a", "1")]), &limited)
                .label_error
                .is_none()
        );
    }
}
