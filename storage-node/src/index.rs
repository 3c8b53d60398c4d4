//! [`SeriesIndex`]: the in-memory map between series ids and label sets, loaded at open
//! and kept in step with every committed write.

use std::collections::HashMap;
use std::sync::Arc;

use crate::labels::LabelSet;

/// Both directions of id <-> labels for every stored series.
#[derive(Debug, Default)]
pub struct SeriesIndex {
    by_id: HashMap<u64, Arc<LabelSet>>,
    by_labels: HashMap<Arc<LabelSet>, u64>,
}

impl SeriesIndex {
    /// Adds a series; the caller guarantees neither the id nor the labels are present.
    pub fn insert(&mut self, id: u64, labels: Arc<LabelSet>) {
        self.by_labels.insert(labels.clone(), id);
        self.by_id.insert(id, labels);
    }

    pub fn id_of(&self, labels: &LabelSet) -> Option<u64> {
        self.by_labels.get(labels).copied()
    }

    pub fn labels_of(&self, id: u64) -> Option<&Arc<LabelSet>> {
        self.by_id.get(&id)
    }

    /// Every `(id, labels)`, in no particular order.
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

#[cfg(test)]
mod tests {
    use telltale_storage_api::Label;

    use super::*;

    #[test]
    fn finds_both_ways() {
        let set = Arc::new(LabelSet::from_labels(&[Label::new("__name__", "up")]).unwrap());
        let mut index = SeriesIndex::default();
        assert!(index.is_empty());
        index.insert(7, set.clone());
        assert_eq!(index.id_of(&set), Some(7));
        assert_eq!(index.labels_of(7), Some(&set));
        assert_eq!(index.labels_of(8), None);
        assert_eq!(index.len(), 1);
    }
}
