//! Series written again and again by the same writer — a scrape target's series — carry
//! their label set once: [`SeriesLabels`] holds it in canonical form with its hash, built
//! when the writer first sees the series, and every [`SharedSample`] of it points there.
//! A storage in the same process finds the series by the hash and compares the labels
//! in place ([`crate::SampleWriter::write_shared`]): no label is copied, re-sorted or
//! re-hashed between a parsed scrape and the head. Writers over the network convert to
//! [`TimeSeries`] ([`to_time_series`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Label, Sample, TimeSeries};

/// The stable 64-bit hash of canonical `(name, value)` pairs (sorted by name, no empty
/// values): the hash storage indexes series by, and the one writers key their own maps
/// with, so equal label sets hash equally wherever they are held.
pub fn label_hash<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3Default::new();
    for (n, v) in pairs {
        h.update(n.as_bytes());
        h.update(&[0xff]);
        h.update(v.as_bytes());
        h.update(&[0xfe]);
    }
    h.digest()
}

/// True when `labels` are canonical: sorted by name (duplicates are left for storage to
/// reject) and without empty values.
pub fn is_canonical(labels: &[Label]) -> bool {
    labels.is_sorted_by(|a, b| a.name <= b.name) && labels.iter().all(|l| !l.value.is_empty())
}

/// [`label_hash`] of raw labels, as storage would index them (an empty value is the same
/// as no label). Canonical labels (the common case) are hashed in place.
pub fn canonical_hash(labels: &[Label]) -> u64 {
    if is_canonical(labels) {
        return label_hash(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
    }
    let mut pairs: Vec<(&str, &str)> = labels
        .iter()
        .filter(|l| !l.value.is_empty())
        .map(|l| (l.name.as_str(), l.value.as_str()))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    label_hash(pairs.into_iter())
}

/// A series' labels in canonical form with their [`label_hash`]. Not validated: storage
/// validates the labels of a series it does not hold yet, as for any write.
///
/// It also remembers where a storage in the same process filed the series
/// ([`Self::storage_ref`]), as Prometheus's scrape cache keeps the head's series
/// reference: the next write of the series skips the index lookup; and a writer in front
/// of storage may keep a note of its own on it ([`Self::writer_note`]).
#[derive(Debug)]
pub struct SeriesLabels {
    /// Name, value, name, value, ... concatenated: one allocation for the whole set.
    data: Box<str>,
    /// The end of each name and value in `data`.
    ends: Box<[u32]>,
    hash: u64,
    /// The storage that last filed the series and its id there.
    filed: OwnedWord<FILED_VALUE_BITS>,
    /// The writer that last noted the series and its note.
    noted: OwnedWord<NOTE_VALUE_BITS>,
}

/// The bits of [`SeriesLabels`]'s filed word that hold the series id; the storage
/// identity takes the rest. A reference that does not fit is not kept (the storage
/// looks the series up instead).
const FILED_VALUE_BITS: u32 = 40;
/// The bits of a writer's note: milliseconds since the epoch fit for 8,900 years.
const NOTE_VALUE_BITS: u32 = 48;

/// One atomic word holding a value for one owner at a time: the owner's identity (unique
/// in the process, never 0) above `VALUE_BITS`, the value below; 0 when no owner. Read on
/// every write of a series, with no lock.
#[derive(Debug, Default)]
struct OwnedWord<const VALUE_BITS: u32>(AtomicU64);

impl<const VALUE_BITS: u32> OwnedWord<VALUE_BITS> {
    const MASK: u64 = (1 << VALUE_BITS) - 1;

    /// The value, if `owner` holds the word.
    fn get(&self, owner: u64) -> Option<u64> {
        let w = self.0.load(Ordering::Relaxed);
        (w != 0 && w >> VALUE_BITS == owner).then_some(w & Self::MASK)
    }

    /// Gives the word to `owner` with `value`; an owner or value too large is not kept.
    fn set(&self, owner: u64, value: u64) {
        if owner != 0 && owner >> (64 - VALUE_BITS) == 0 && value <= Self::MASK {
            self.0.store(owner << VALUE_BITS | value, Ordering::Relaxed);
        }
    }

    /// Empties the word if `owner` holds it.
    fn clear(&self, owner: u64) {
        let w = self.0.load(Ordering::Relaxed);
        if w != 0 && w >> VALUE_BITS == owner {
            let _ = self
                .0
                .compare_exchange(w, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

impl Clone for SeriesLabels {
    /// A copy of the labels; where storage filed them and writers' notes are not copied.
    fn clone(&self) -> Self {
        SeriesLabels {
            data: self.data.clone(),
            ends: self.ends.clone(),
            hash: self.hash,
            filed: OwnedWord::default(),
            noted: OwnedWord::default(),
        }
    }
}

impl PartialEq for SeriesLabels {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.ends == other.ends && self.data == other.data
    }
}

impl Eq for SeriesLabels {}

impl SeriesLabels {
    /// Canonicalises `labels` (empty values dropped, sorted by name, stable) and hashes
    /// them once.
    pub fn new(mut labels: Vec<Label>) -> Self {
        if !is_canonical(&labels) {
            labels.retain(|l| !l.value.is_empty());
            labels.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let hash = label_hash(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
        let mut data =
            String::with_capacity(labels.iter().map(|l| l.name.len() + l.value.len()).sum());
        let mut ends = Vec::with_capacity(labels.len() * 2);
        for l in &labels {
            data.push_str(&l.name);
            ends.push(data.len() as u32);
            data.push_str(&l.value);
            ends.push(data.len() as u32);
        }
        SeriesLabels {
            data: data.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            hash,
            filed: OwnedWord::default(),
            noted: OwnedWord::default(),
        }
    }

    /// The id storage `storage` (an identity unique in the process, never 0) gave this
    /// series when it last took it, if that storage was the last to take it.
    pub fn storage_ref(&self, storage: u64) -> Option<u64> {
        self.filed.get(storage)
    }

    /// Records that storage `storage` (never 0) holds this series as `id`: for storage,
    /// which must keep `id` valid for these labels as long as it keeps its identity. An
    /// identity or id too large to keep is not recorded.
    pub fn set_storage_ref(&self, storage: u64, id: u64) {
        self.filed.set(storage, id);
    }

    /// The note writer `writer` (an identity unique in the process, never 0) keeps on
    /// this series, if it was the last writer to note it.
    pub fn writer_note(&self, writer: u64) -> Option<u64> {
        self.noted.get(writer)
    }

    /// Records `note` (below 2^48) for writer `writer` (never 0, below 2^16), replacing
    /// any other writer's note; one out of range is not recorded.
    pub fn set_writer_note(&self, writer: u64, note: u64) {
        self.noted.set(writer, note);
    }

    /// Drops writer `writer`'s note, if it holds one.
    pub fn clear_writer_note(&self, writer: u64) {
        self.noted.clear(writer);
    }

    /// The labels as messages (a copy).
    pub fn to_labels(&self) -> Vec<Label> {
        self.pairs().map(|(n, v)| Label::new(n, v)).collect()
    }

    /// The labels as `(name, value)` pairs, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        let data = &*self.data;
        let mut start = 0usize;
        self.ends.chunks_exact(2).map(move |e| {
            let (name_end, value_end) = (e[0] as usize, e[1] as usize);
            let pair = (&data[start..name_end], &data[name_end..value_end]);
            start = value_end;
            pair
        })
    }

    /// Labels in the set.
    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The value of label `name`, if the series has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// [`label_hash`] of the labels.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

/// One sample of a series whose labels are shared.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedSample {
    pub series: Arc<SeriesLabels>,
    pub timestamp_ms: i64,
    pub value: f64,
}

/// The samples as messages, one series per sample (for writers that send them).
pub fn to_time_series(samples: &[SharedSample]) -> Vec<TimeSeries> {
    samples
        .iter()
        .map(|s| TimeSeries {
            labels: s.series.to_labels(),
            samples: vec![Sample {
                timestamp_ms: s.timestamp_ms,
                value: s.value,
            }],
            exemplars: Vec::new(),
            histograms: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn canonical_form_drops_empty_values_and_sorts() {
        let s = SeriesLabels::new(vec![
            Label::new("job", "a"),
            Label::new("zone", ""),
            Label::new("__name__", "up"),
        ]);
        let names: Vec<&str> = s.pairs().map(|p| p.0).collect();
        assert_eq!(names, ["__name__", "job"]);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.to_labels(),
            vec![Label::new("__name__", "up"), Label::new("job", "a")]
        );
        assert_eq!(s.get("job"), Some("a"));
        assert_eq!(s.get("zone"), None);
        assert_eq!(
            s.hash(),
            label_hash([("__name__", "up"), ("job", "a")].into_iter())
        );
    }

    #[test]
    fn a_storage_ref_belongs_to_one_storage_and_is_not_cloned() {
        let s = SeriesLabels::new(vec![Label::new("__name__", "up")]);
        assert_eq!(s.storage_ref(1), None);
        s.set_storage_ref(1, 42);
        assert_eq!(s.storage_ref(1), Some(42));
        assert_eq!(s.storage_ref(2), None);
        let copy = s.clone();
        assert_eq!(copy, s);
        assert_eq!(copy.storage_ref(1), None);
        s.set_storage_ref(2, 7);
        assert_eq!((s.storage_ref(1), s.storage_ref(2)), (None, Some(7)));
        // The largest reference that fits is kept whole; one that does not fit is not
        // kept (the last one stays), so no reference is ever cut short.
        let big_id = OwnedWord::<FILED_VALUE_BITS>::MASK;
        let big_storage = (1 << (64 - FILED_VALUE_BITS)) - 1;
        s.set_storage_ref(big_storage, big_id);
        assert_eq!(s.storage_ref(big_storage), Some(big_id));
        s.set_storage_ref(3, big_id + 1);
        s.set_storage_ref(big_storage + 1, 1);
        s.set_storage_ref(0, 5);
        assert_eq!(s.storage_ref(big_storage), Some(big_id));
        assert_eq!((s.storage_ref(3), s.storage_ref(0)), (None, None));
    }

    /// A writer's note is its own: another writer's replaces it, clearing leaves another
    /// writer's note alone, a copy has none, and the storage's reference is apart.
    #[test]
    fn a_writer_note_belongs_to_one_writer() {
        let s = SeriesLabels::new(vec![Label::new("__name__", "up")]);
        s.set_storage_ref(9, 99);
        assert_eq!(s.writer_note(1), None);
        s.set_writer_note(1, 1_700_000_000_000);
        assert_eq!(s.writer_note(1), Some(1_700_000_000_000));
        assert_eq!((s.writer_note(2), s.clone().writer_note(1)), (None, None));
        s.clear_writer_note(2);
        assert_eq!(s.writer_note(1), Some(1_700_000_000_000));
        s.set_writer_note(2, 5);
        assert_eq!((s.writer_note(1), s.writer_note(2)), (None, Some(5)));
        s.clear_writer_note(2);
        assert_eq!(s.writer_note(2), None);
        s.set_writer_note(1 << 16, 5);
        s.set_writer_note(3, 1 << 48);
        assert_eq!((s.writer_note(1 << 16), s.writer_note(3)), (None, None));
        assert_eq!(s.storage_ref(9), Some(99));
    }

    #[test]
    fn the_hash_separates_names_from_values() {
        assert_ne!(
            label_hash([("ab", "c")].into_iter()),
            label_hash([("a", "bc")].into_iter())
        );
    }

    proptest! {
        /// Any order and any empty labels hash as the canonical set does.
        #[test]
        fn hash_is_that_of_the_canonical_set(
            pairs in proptest::collection::btree_map("[a-z_]{1,6}", "[a-z]{0,3}", 0..8),
            seed in any::<u64>(),
        ) {
            let mut labels: Vec<Label> =
                pairs.iter().map(|(n, v)| Label::new(n.clone(), v.clone())).collect();
            let canonical: Vec<(&str, &str)> = pairs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            let expected = label_hash(canonical.iter().copied());
            // A seeded rotation and reversal: not sorted any more.
            if !labels.is_empty() {
                let k = (seed as usize) % labels.len();
                labels.rotate_left(k);
                if seed % 2 == 1 {
                    labels.reverse();
                }
            }
            prop_assert_eq!(canonical_hash(&labels), expected);
            prop_assert_eq!(SeriesLabels::new(labels).hash(), expected);
        }
    }
}
