//! [`ExemplarStore`]: the exemplars of a replica, in one bounded ring with the semantics
//! of Prometheus's circular exemplar storage (`tsdb/exemplar.go`): a fixed number of
//! slots shared by every series, the oldest exemplar overwritten first, each series'
//! exemplars linked oldest to newest through the ring. An exemplar is refused when its
//! labels pass 128 UTF-8 characters (names and values together), when it is not newer
//! than its series' newest one (out of order), and ignored when it equals that one (a
//! duplicate, as a scrape repeats an unchanged exemplar). Pure: the engine applies
//! exemplars in log order, so every replica holds the same ring.
//!
//! The ring persists as one value written with each flush (the engine's durable point):
//! [`ExemplarStore::encode`] lists the exemplars oldest first, and [`ExemplarStore::decode`]
//! adds them again in that order, into a ring of the configured size (a smaller one keeps
//! the newest, as Prometheus does when the limit shrinks).

use std::collections::HashMap;
use std::sync::Arc;

use crate::chunk::bits::{put_uvarint, put_varint, read_uvarint, unzigzag};
use crate::labels::LabelSet;
use crate::matcher::Selector;

/// Most UTF-8 characters of an exemplar's label names and values together (OpenMetrics;
/// Prometheus's `exemplar.ExemplarMaxLabelSetLength`).
pub const MAX_LABEL_CHARS: usize = 128;

/// One exemplar: its own labels (sorted by name), value and time in milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    pub labels: Vec<(String, String)>,
    pub value: f64,
    pub ts: i64,
}

impl Exemplar {
    /// An exemplar with its labels sorted by name.
    pub fn new(mut labels: Vec<(String, String)>, value: f64, ts: i64) -> Self {
        if !labels.is_sorted() {
            labels.sort();
        }
        Exemplar { labels, value, ts }
    }

    /// Characters of the label names and values (quotes, `=` and commas not counted).
    pub fn label_chars(&self) -> usize {
        self.labels
            .iter()
            .map(|(n, v)| n.chars().count() + v.chars().count())
            .sum()
    }
}

/// What [`ExemplarStore::add`] did with an exemplar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Added,
    /// Equal to the series' newest exemplar: nothing changed.
    Duplicate,
    /// Not newer than the series' newest exemplar: refused.
    OutOfOrder,
    /// Labels longer than [`MAX_LABEL_CHARS`]: refused.
    LabelLength,
    /// The store holds no exemplars (a limit of 0).
    Disabled,
}

impl Outcome {
    /// The metric label of the outcome.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Added => "added",
            Outcome::Duplicate => "duplicate",
            Outcome::OutOfOrder => "out_of_order",
            Outcome::LabelLength => "label_length",
            Outcome::Disabled => "disabled",
        }
    }
}

struct Slot {
    series: Arc<LabelSet>,
    exemplar: Exemplar,
    /// The series' next newer exemplar.
    next: Option<usize>,
}

#[derive(Clone, Copy)]
struct Entry {
    oldest: usize,
    newest: usize,
}

/// The ring of exemplars (see the module documentation).
pub struct ExemplarStore {
    capacity: usize,
    /// Grows to `capacity`, then is overwritten from `next` on.
    slots: Vec<Slot>,
    next: usize,
    index: HashMap<Arc<LabelSet>, Entry>,
    /// Whether anything was added since the last [`ExemplarStore::take_changed`].
    changed: bool,
}

impl ExemplarStore {
    /// An empty store of `capacity` exemplars (0: exemplars disabled).
    pub fn new(capacity: usize) -> Self {
        ExemplarStore {
            capacity,
            slots: Vec::new(),
            next: 0,
            index: HashMap::new(),
            changed: false,
        }
    }

    /// Exemplars held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Adds an exemplar of `series`, overwriting the oldest exemplar of the ring when it
    /// is full.
    pub fn add(&mut self, series: &Arc<LabelSet>, exemplar: Exemplar) -> Outcome {
        if self.capacity == 0 {
            return Outcome::Disabled;
        }
        if exemplar.label_chars() > MAX_LABEL_CHARS {
            return Outcome::LabelLength;
        }
        if let Some(entry) = self.index.get(series.as_ref()) {
            let newest = &self.slots[entry.newest].exemplar;
            if *newest == exemplar {
                return Outcome::Duplicate;
            }
            if exemplar.ts <= newest.ts {
                return Outcome::OutOfOrder;
            }
        }
        let at = self.next;
        let slot = Slot {
            series: series.clone(),
            exemplar,
            next: None,
        };
        if at < self.slots.len() {
            // Full: drop the oldest exemplar of the ring first (the oldest of its series).
            let old = &self.slots[at];
            match old.next {
                None => {
                    self.index.remove(old.series.as_ref());
                }
                Some(next) => {
                    if let Some(e) = self.index.get_mut(old.series.as_ref()) {
                        e.oldest = next;
                    }
                }
            }
            self.slots[at] = slot;
        } else {
            self.slots.push(slot);
        }
        match self.index.get_mut(series.as_ref()) {
            Some(entry) => {
                self.slots[entry.newest].next = Some(at);
                entry.newest = at;
            }
            None => {
                self.index.insert(
                    series.clone(),
                    Entry {
                        oldest: at,
                        newest: at,
                    },
                );
            }
        }
        self.next = (at + 1) % self.capacity;
        self.changed = true;
        Outcome::Added
    }

    /// The exemplars of the series matching any of `selectors` with timestamps in
    /// `[start, end]`: per series (ordered by labels), oldest first.
    pub fn select(
        &self,
        start: i64,
        end: i64,
        selectors: &[Selector],
    ) -> Vec<(Arc<LabelSet>, Vec<Exemplar>)> {
        let mut out = Vec::new();
        for (series, entry) in &self.index {
            if self.slots[entry.oldest].exemplar.ts > end
                || self.slots[entry.newest].exemplar.ts < start
                || !selectors.iter().any(|s| s.matches(series))
            {
                continue;
            }
            let mut found = Vec::new();
            let mut at = Some(entry.oldest);
            while let Some(i) = at {
                let slot = &self.slots[i];
                if slot.exemplar.ts > end {
                    break;
                }
                if slot.exemplar.ts >= start {
                    found.push(slot.exemplar.clone());
                }
                at = slot.next;
            }
            if !found.is_empty() {
                out.push((series.clone(), found));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Whether exemplars were added since the last call (so the ring needs writing).
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Every exemplar, oldest first, with its series:
    /// `version:u8 uvarint(series) { uvarint(labels) { uvarint(len) name uvarint(len)
    /// value } } uvarint(exemplars) { uvarint(series index) uvarint(labels) { ... }
    /// varint(t) f64 bits:u64le }`.
    pub fn encode(&self) -> Vec<u8> {
        let full = self.slots.len() == self.capacity;
        let order = (0..self.slots.len()).map(|i| {
            if full {
                (self.next + i) % self.slots.len()
            } else {
                i
            }
        });
        let mut series_at: HashMap<&LabelSet, u64> = HashMap::new();
        let mut series_bytes = Vec::new();
        let mut exemplar_bytes = Vec::new();
        for i in order {
            let slot = &self.slots[i];
            let n = series_at.len() as u64;
            let at = *series_at.entry(slot.series.as_ref()).or_insert_with(|| {
                put_pairs(&mut series_bytes, slot.series.iter());
                n
            });
            put_uvarint(&mut exemplar_bytes, at);
            let e = &slot.exemplar;
            put_pairs(
                &mut exemplar_bytes,
                e.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            );
            put_varint(&mut exemplar_bytes, e.ts);
            exemplar_bytes.extend_from_slice(&e.value.to_bits().to_le_bytes());
        }
        let mut out = vec![ENCODING_V1];
        put_uvarint(&mut out, series_at.len() as u64);
        out.extend_from_slice(&series_bytes);
        put_uvarint(&mut out, self.slots.len() as u64);
        out.extend_from_slice(&exemplar_bytes);
        out
    }

    /// A store of `capacity` holding what [`ExemplarStore::encode`] wrote (`None` when
    /// the bytes do not decode).
    pub fn decode(bytes: &[u8], capacity: usize) -> Option<Self> {
        let mut r = Reader(bytes);
        if r.byte()? != ENCODING_V1 {
            return None;
        }
        let n_series = r.uvarint()?;
        let mut series = Vec::with_capacity((n_series as usize).min(bytes.len()));
        for _ in 0..n_series {
            series.push(Arc::new(LabelSet::from_canonical(r.pairs()?)?));
        }
        let mut store = ExemplarStore::new(capacity);
        let n = r.uvarint()?;
        for _ in 0..n {
            let s = series.get(usize::try_from(r.uvarint()?).ok()?)?;
            let labels = r.pairs()?;
            let ts = unzigzag(r.uvarint()?);
            let value = f64::from_bits(u64::from_le_bytes(r.array()?));
            store.add(s, Exemplar { labels, value, ts });
        }
        store.changed = false;
        r.0.is_empty().then_some(store)
    }
}

const ENCODING_V1: u8 = 1;

/// `uvarint(pairs) { uvarint(len) name uvarint(len) value }`, the log record's layout.
pub(crate) fn put_pairs<'a>(
    out: &mut Vec<u8>,
    pairs: impl ExactSizeIterator<Item = (&'a str, &'a str)>,
) {
    put_uvarint(out, pairs.len() as u64);
    for (n, v) in pairs {
        put_uvarint(out, n.len() as u64);
        out.extend_from_slice(n.as_bytes());
        put_uvarint(out, v.len() as u64);
        out.extend_from_slice(v.as_bytes());
    }
}

/// Reads what the encoders here and in the log record wrote.
pub(crate) struct Reader<'a>(pub &'a [u8]);

impl Reader<'_> {
    pub fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    pub fn uvarint(&mut self) -> Option<u64> {
        let (v, used) = read_uvarint(self.0)?;
        self.0 = self.0.get(used..)?;
        Some(v)
    }

    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (v, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*v)
    }

    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.uvarint()?).ok()?;
        let (head, tail) = self.0.split_at_checked(len)?;
        self.0 = tail;
        String::from_utf8(head.to_vec()).ok()
    }

    pub fn pairs(&mut self) -> Option<Vec<(String, String)>> {
        let n = self.uvarint()?;
        let mut pairs = Vec::with_capacity((n as usize).min(64));
        for _ in 0..n {
            pairs.push((self.string()?, self.string()?));
        }
        Some(pairs)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use telltale_storage_api::{MatchOp, Matcher};

    use super::*;

    fn series(job: &str) -> Arc<LabelSet> {
        Arc::new(
            LabelSet::from_canonical(vec![
                ("__name__".into(), "m_total".into()),
                ("job".into(), job.into()),
            ])
            .unwrap(),
        )
    }

    fn ex(trace: &str, value: f64, ts: i64) -> Exemplar {
        Exemplar::new(vec![("trace_id".into(), trace.into())], value, ts)
    }

    fn all() -> Vec<Selector> {
        vec![Selector::from_proto(&[Matcher::new(MatchOp::Equal, "__name__", "m_total")]).unwrap()]
    }

    fn timestamps(store: &ExemplarStore) -> Vec<(String, Vec<i64>)> {
        store
            .select(i64::MIN, i64::MAX, &all())
            .into_iter()
            .map(|(s, e)| {
                (
                    s.get("job").unwrap_or("").to_string(),
                    e.iter().map(|e| e.ts).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn refuses_out_of_order_ignores_duplicates_and_long_labels() {
        let mut s = ExemplarStore::new(10);
        let a = series("a");
        assert_eq!(s.add(&a, ex("x", 1.0, 10)), Outcome::Added);
        assert_eq!(s.add(&a, ex("x", 1.0, 10)), Outcome::Duplicate);
        assert_eq!(s.add(&a, ex("y", 1.0, 10)), Outcome::OutOfOrder);
        assert_eq!(s.add(&a, ex("x", 2.0, 9)), Outcome::OutOfOrder);
        assert_eq!(s.add(&a, ex("x", 2.0, 11)), Outcome::Added);
        // Another series has its own order.
        assert_eq!(s.add(&series("b"), ex("x", 2.0, 5)), Outcome::Added);
        // 128 characters pass (multi-byte ones counted once), 129 do not.
        let name = "t".repeat(8);
        let ok = Exemplar::new(vec![(name.clone(), "é".repeat(120))], 1.0, 20);
        assert_eq!(ok.label_chars(), 128);
        assert_eq!(s.add(&a, ok), Outcome::Added);
        let long = Exemplar::new(vec![(name, "é".repeat(121))], 1.0, 21);
        assert_eq!(s.add(&a, long), Outcome::LabelLength);
        assert_eq!(
            ExemplarStore::new(0).add(&a, ex("x", 1.0, 1)),
            Outcome::Disabled
        );
        assert_eq!(
            timestamps(&s),
            vec![("a".into(), vec![10, 11, 20]), ("b".into(), vec![5])]
        );
    }

    #[test]
    fn the_oldest_exemplar_of_the_ring_goes_first() {
        let mut s = ExemplarStore::new(3);
        let (a, b) = (series("a"), series("b"));
        s.add(&a, ex("x", 1.0, 1));
        s.add(&b, ex("x", 1.0, 2));
        s.add(&a, ex("x", 1.0, 3));
        s.add(&b, ex("x", 1.0, 4));
        assert_eq!(
            timestamps(&s),
            vec![("a".into(), vec![3]), ("b".into(), vec![2, 4])]
        );
        s.add(&b, ex("x", 1.0, 5));
        s.add(&b, ex("x", 1.0, 6));
        // a's last exemplar went: a is gone from the index.
        assert_eq!(timestamps(&s), vec![("b".into(), vec![4, 5, 6])]);
        // Out of order is judged against what the ring still holds.
        assert_eq!(s.add(&a, ex("x", 1.0, 2)), Outcome::Added);
    }

    #[test]
    fn selects_by_matchers_and_time() {
        let mut s = ExemplarStore::new(10);
        for t in 1..=5 {
            s.add(&series("a"), ex("x", t as f64, t));
            s.add(&series("b"), ex("x", t as f64, t * 10));
        }
        let only_b =
            vec![Selector::from_proto(&[Matcher::new(MatchOp::Equal, "job", "b")]).unwrap()];
        let got = s.select(15, 35, &only_b);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got[0].1.iter().map(|e| e.ts).collect::<Vec<_>>(),
            vec![20, 30]
        );
        assert!(s.select(6, 9, &all()).is_empty());
        assert!(s.select(0, 100, &[]).is_empty());
    }

    proptest! {
        /// The ring answers what a list of every accepted exemplar, cut to the newest
        /// `capacity`, holds; and it survives encoding, into the same size or a smaller one.
        #[test]
        fn matches_a_model_and_round_trips(
            capacity in 1usize..8,
            adds in proptest::collection::vec((0u8..3, 0i64..20), 0..40),
        ) {
            let mut s = ExemplarStore::new(capacity);
            let mut model: Vec<(String, i64)> = Vec::new();
            for (job, t) in adds {
                let job = format!("j{job}");
                let newest = model.iter().rev().find(|(j, _)| *j == job).map(|(_, t)| *t);
                let outcome = s.add(&series(&job), ex("x", 1.0, t));
                if newest.is_none_or(|n| t > n) {
                    prop_assert_eq!(outcome, Outcome::Added);
                    model.push((job, t));
                    if model.len() > capacity {
                        model.remove(0);
                    }
                } else {
                    prop_assert_ne!(outcome, Outcome::Added);
                }
            }
            let mut want: Vec<(String, Vec<i64>)> = Vec::new();
            for (job, t) in &model {
                match want.iter_mut().find(|(j, _)| j == job) {
                    Some((_, ts)) => ts.push(*t),
                    None => want.push((job.clone(), vec![*t])),
                }
            }
            want.sort();
            prop_assert_eq!(timestamps(&s), want.clone());
            let back = ExemplarStore::decode(&s.encode(), capacity).unwrap();
            prop_assert_eq!(timestamps(&back), want);
            let smaller = ExemplarStore::decode(&s.encode(), 1).unwrap();
            prop_assert_eq!(smaller.len(), model.len().min(1));
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = ExemplarStore::decode(&bytes, 5);
        }
    }
}
