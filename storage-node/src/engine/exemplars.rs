//! The engine's side of exemplars: the ones a record carries go into the ring
//! ([`crate::exemplars::ExemplarStore`]) as the record is applied, in log order (after
//! its samples, whether or not the series has any); the ring is encoded with each flush
//! (when it changed) and read by [`Engine::exemplars`].

use std::sync::{Arc, MutexGuard, PoisonError};

use telltale_storage_api::TimeSeries;
use tracing::debug;

use super::Engine;
use crate::command::{RecordItems, RecordSeries};
use crate::exemplars::{Exemplar, ExemplarStore, Outcome};
use crate::labels::LabelSet;
use crate::matcher::Selector;

impl Engine {
    /// The exemplars of the series matching any of `selectors` with timestamps in
    /// `[start, end]`, per series in label order, oldest first.
    pub fn exemplars(
        &self,
        selectors: &[Selector],
        start: i64,
        end: i64,
    ) -> Vec<(Arc<LabelSet>, Vec<Exemplar>)> {
        self.exemplar_store().select(start, end, selectors)
    }

    fn exemplar_store(&self) -> MutexGuard<'_, ExemplarStore> {
        self.exemplars
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The encoded ring, when exemplars were added since the last call (the flush's).
    pub(super) fn exemplars_if_changed(&self) -> Option<Vec<u8>> {
        let mut store = self.exemplar_store();
        store.take_changed().then(|| store.encode())
    }

    /// Adds the exemplars of an applied `record` (called under the writer lock, after
    /// its samples); returns how many the ring took (added, or equal to their series'
    /// newest: a no-op Prometheus counts as written). Deterministic: what is refused
    /// depends only on the ring, which only earlier records built.
    pub(super) fn apply_exemplars(&self, record: &RecordItems) -> u64 {
        if record.exemplars().is_empty() {
            return 0;
        }
        let index = self.index();
        let mut store = self.exemplar_store();
        let mut added = 0;
        for (series, exemplars) in record.exemplars() {
            let labels = match series {
                RecordSeries::Labels(labels) => match index.id_of(labels) {
                    // The one label set the index holds for it.
                    Some(id) => index.labels_of(id).cloned(),
                    None => Some(Arc::new(labels.clone())),
                },
                RecordSeries::Id(id) => index.labels_of(*id).cloned(),
            };
            let Some(labels) = labels else {
                debug!(?series, "exemplars of a series not stored; skipped");
                continue;
            };
            for e in exemplars {
                let outcome = store.add(&labels, e.clone());
                if matches!(outcome, Outcome::Added | Outcome::Duplicate) {
                    added += 1;
                }
                self.metrics
                    .exemplars
                    .with_label_values(&[outcome.label()])
                    .inc();
            }
        }
        self.metrics.exemplars_stored.set(store.len() as i64);
        added
    }
}

/// The exemplars of a request's series as the log record carries them.
pub(super) fn request_exemplars(ts: &TimeSeries) -> Vec<Exemplar> {
    ts.exemplars
        .iter()
        .map(|e| {
            Exemplar::new(
                e.labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                e.value,
                e.timestamp_ms,
            )
        })
        .collect()
}
