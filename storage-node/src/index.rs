//! [`SeriesIndex`]: the in-memory map between series ids and label sets, loaded at open
//! and kept in step with every committed write. Labels are found by their hash, so a
//! write can find a known series from borrowed labels without building a label set.

use std::sync::Arc;

use crate::hashing::{IdMap, label_hash};
use crate::labels::LabelSet;
use telltale_storage_api::SeriesLabels;

/// Ids sharing one label hash (almost always one).
#[derive(Debug)]
enum Ids {
    One(u64),
    Many(Vec<u64>),
}

/// Both directions of id <-> labels for every stored series.
#[derive(Debug, Default)]
pub struct SeriesIndex {
    by_id: IdMap<Arc<LabelSet>>,
    by_hash: IdMap<Ids>,
}

impl SeriesIndex {
    /// Adds a series; the caller guarantees neither the id nor the labels are present.
    pub fn insert(&mut self, id: u64, labels: Arc<LabelSet>) {
        let hash = labels.hash_key();
        match self.by_hash.get_mut(&hash) {
            None => {
                self.by_hash.insert(hash, Ids::One(id));
            }
            Some(Ids::One(other)) => {
                let other = *other;
                self.by_hash.insert(hash, Ids::Many(vec![other, id]));
            }
            Some(Ids::Many(ids)) => ids.push(id),
        }
        self.by_id.insert(id, labels);
    }

    pub fn id_of(&self, labels: &LabelSet) -> Option<u64> {
        self.find(labels.hash_key(), |candidate| candidate == labels)
    }

    /// The id of the series whose labels are the canonical `pairs` with hash `hash`.
    pub fn find_pairs(&self, hash: u64, pairs: &[(&str, &str)]) -> Option<u64> {
        self.find(hash, |candidate| candidate.iter().eq(pairs.iter().copied()))
    }

    /// The id of the series with these shared labels (found by their precomputed hash).
    pub fn find_shared(&self, series: &SeriesLabels) -> Option<u64> {
        self.find(series.hash(), |candidate| {
            candidate.iter().eq(series.pairs())
        })
    }

    fn find(&self, hash: u64, same: impl Fn(&LabelSet) -> bool) -> Option<u64> {
        let check = |id: &u64| self.by_id.get(id).is_some_and(|l| same(l));
        match self.by_hash.get(&hash)? {
            Ids::One(id) => check(id).then_some(*id),
            Ids::Many(ids) => ids.iter().copied().find(|id| check(id)),
        }
    }

    pub fn labels_of(&self, id: u64) -> Option<&Arc<LabelSet>> {
        self.by_id.get(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = (u64, &Arc<LabelSet>)> {
        self.by_id.iter().map(|(id, l)| (*id, l))
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

/// The canonical pairs of raw labels if they are already valid-looking enough to look
/// up: sorted by name, empty values dropped. Validation proper happens only for series
/// not found.
pub fn canonical_pairs(labels: &[telltale_storage_api::Label]) -> Vec<(&str, &str)> {
    let mut pairs: Vec<(&str, &str)> = labels
        .iter()
        .filter(|l| !l.value.is_empty())
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    pairs
}

/// [`label_hash`] of canonical pairs.
pub fn pairs_hash(pairs: &[(&str, &str)]) -> u64 {
    label_hash(pairs.iter().copied())
}

#[cfg(test)]
mod tests {
    use telltale_storage_api::Label;

    use super::*;

    #[test]
    fn finds_both_ways_and_from_raw_labels() {
        let raw = [
            Label::new("job", "x"),
            Label::new("__name__", "up"),
            Label::new("e", ""),
        ];
        let set = Arc::new(LabelSet::from_labels(&raw).unwrap());
        let mut index = SeriesIndex::default();
        assert!(index.is_empty());
        index.insert(7, set.clone());
        assert_eq!(index.id_of(&set), Some(7));
        assert_eq!(index.labels_of(7), Some(&set));
        assert_eq!(index.labels_of(8), None);
        let pairs = canonical_pairs(&raw);
        assert_eq!(index.find_pairs(pairs_hash(&pairs), &pairs), Some(7));
        let raw_other = [Label::new("__name__", "up")];
        let other = canonical_pairs(&raw_other);
        assert_eq!(index.find_pairs(pairs_hash(&other), &other), None);
        assert_eq!(index.len(), 1);
    }
}
