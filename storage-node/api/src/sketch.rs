//! The quantile sketch a rollup point keeps of its bucket's sample values: a DDSketch
//! (Masson, Rim & Lee, VLDB 2019) with relative accuracy [`RELATIVE_ACCURACY`].
//!
//! A finite non-zero value `v` is counted in bin `i = ceil(log_γ |v|)` of its sign, with
//! `γ = (1 + α) / (1 − α)`; a bin's value is `2γ^i / (γ + 1)`, within `α` (relative) of
//! every value in it. Zero (and subnormals, below `f64::MIN_POSITIVE`), NaN, −Inf and
//! +Inf have counters of their own and are answered exactly. Sketches merge by adding
//! bin counts, so the sketch of an hour is exactly the merge of its minutes' sketches
//! (unless the bin bound below collapsed bins).
//!
//! Bounded: a stored sketch keeps at most [`MAX_BINS`] bins (at α = 1% that is nine
//! decades of one sign); past it the lowest values collapse into the next bin up, so the
//! high quantiles (latencies' p95 and p99) keep their accuracy and only ranks in the
//! collapsed lowest part may be answered too high.
//!
//! Encoding (self-delimiting, so a chunk needs no length per point): a flags byte (bit 0
//! NaN, 1 −Inf, 2 negative bins, 3 zero, 4 positive bins, 5 +Inf; 0 is the empty
//! sketch), then for each flag set, in that order, a counter as `uvarint(count − 1)` or a
//! store as `uvarint(bins − 1)` and its bins in ascending index: the first as
//! `uvarint(zigzag(index) << 1 | c)`, the next ones as `uvarint((gap − 1) << 1 | c)`,
//! each followed by `uvarint(count − 2)` when `c` is 1 (a count over one). A minute of
//! four samples of a latency takes about seven bytes. We do not use the
//! `sketches-ddsketch` crate: it exposes no bins, and its serde form of one sketch
//! (config and dense 128-bin stores) takes 1,162 bytes with bincode for four samples.

use std::cmp::Ordering;
use std::sync::LazyLock;

use crate::chunk::bits::{put_uvarint, read_uvarint, unzigzag, zigzag};

/// The sketch's relative accuracy α: every rank's value is answered within `α × |v|`.
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// The most bins (of both signs) a stored sketch keeps.
pub const MAX_BINS: usize = 1024;

const GAMMA: f64 = (1.0 + RELATIVE_ACCURACY) / (1.0 - RELATIVE_ACCURACY);

static LN_GAMMA: LazyLock<f64> = LazyLock::new(|| GAMMA.ln());

/// Bin indexes lie within ±this (|v| from `f64::MIN_POSITIVE` to `f64::MAX`).
const MAX_INDEX: i64 = 40_000;

/// The bytes of a sketch are not a valid encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("quantile sketch is truncated or corrupt")]
pub struct Corrupt;

/// Bin counts of one sign, ascending bin index.
type Store = Vec<(i32, u64)>;

/// A DDSketch of sample values (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sketch {
    nan: u64,
    neg_inf: u64,
    /// Negative values, by the index of their magnitude.
    neg: Store,
    zero: u64,
    pos: Store,
    pos_inf: u64,
}

fn index(magnitude: f64) -> i32 {
    (magnitude.ln() / *LN_GAMMA).ceil() as i32
}

/// The value bin `i` answers: within α of every magnitude in `(γ^(i−1), γ^i]`.
fn bin_value(i: i32) -> f64 {
    (f64::from(i) * *LN_GAMMA + (2.0 / (GAMMA + 1.0)).ln())
        .exp()
        .min(f64::MAX)
}

fn add_to(store: &mut Store, i: i32, count: u64) {
    match store.binary_search_by_key(&i, |b| b.0) {
        Ok(k) => store[k].1 += count,
        Err(k) => store.insert(k, (i, count)),
    }
}

/// The union of two stores (counts of equal bins added).
fn union_of(a: &Store, b: &Store) -> Store {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            Ordering::Equal => {
                out.push((a[i].0, a[i].1.saturating_add(b[j].1)));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

impl Sketch {
    /// A sketch of `values` (bounded, as stored).
    pub fn of(values: impl IntoIterator<Item = f64>) -> Self {
        let mut s = Sketch::default();
        for v in values {
            s.add(v);
        }
        s
    }

    /// Counts one value (staleness markers are the caller's to leave out).
    pub fn add(&mut self, v: f64) {
        if v.is_nan() {
            self.nan += 1;
        } else if v == f64::INFINITY {
            self.pos_inf += 1;
        } else if v == f64::NEG_INFINITY {
            self.neg_inf += 1;
        } else if v.abs() < f64::MIN_POSITIVE {
            self.zero += 1;
        } else {
            let store = if v > 0.0 {
                &mut self.pos
            } else {
                &mut self.neg
            };
            add_to(store, index(v.abs()), 1);
            self.collapse();
        }
    }

    /// How many values the sketch holds.
    pub fn count(&self) -> u64 {
        let bins = self.neg.iter().chain(&self.pos).map(|b| b.1);
        [self.nan, self.neg_inf, self.zero, self.pos_inf]
            .into_iter()
            .chain(bins)
            .fold(0, u64::saturating_add)
    }

    /// Bins of both signs.
    pub fn bins(&self) -> usize {
        self.neg.len() + self.pos.len()
    }

    /// Adds `other`'s values, then keeps the bin bound (rollups of coarser tiers).
    pub fn merge(&mut self, other: &Sketch) {
        self.union(other);
        self.collapse();
    }

    /// Adds `other`'s values without bounding the bins (a query's window of buckets,
    /// which is never stored).
    pub fn union(&mut self, other: &Sketch) {
        self.nan += other.nan;
        self.neg_inf += other.neg_inf;
        self.zero += other.zero;
        self.pos_inf += other.pos_inf;
        self.neg = union_of(&self.neg, &other.neg);
        self.pos = union_of(&self.pos, &other.pos);
    }

    /// Keeps at most [`MAX_BINS`] bins by folding the lowest values into the next bin
    /// up: the most negative first, the last negative bin into zero, then the smallest
    /// positive ones.
    fn collapse(&mut self) {
        let mut excess = self.bins().saturating_sub(MAX_BINS);
        while excess > 0 && self.neg.len() >= 2 {
            let (_, c) = self.neg.pop().unwrap_or_default();
            if let Some(b) = self.neg.last_mut() {
                b.1 += c;
            }
            excess -= 1;
        }
        if excess > 0
            && let Some((_, c)) = self.neg.pop()
        {
            self.zero += c;
            excess -= 1;
        }
        if excess > 0 && excess < self.pos.len() {
            let folded: u64 = self.pos.drain(..excess).map(|b| b.1).sum();
            self.pos[0].1 += folded;
        }
    }

    /// The estimated value of rank `k` (0-based, in Prometheus's order: NaN first).
    fn value_at(&self, mut k: u64) -> f64 {
        for (count, v) in [(self.nan, f64::NAN), (self.neg_inf, f64::NEG_INFINITY)] {
            if k < count {
                return v;
            }
            k -= count;
        }
        for &(i, c) in self.neg.iter().rev() {
            if k < c {
                return -bin_value(i);
            }
            k -= c;
        }
        if k < self.zero {
            return 0.0;
        }
        k -= self.zero;
        for &(i, c) in &self.pos {
            if k < c {
                return bin_value(i);
            }
            k -= c;
        }
        f64::INFINITY
    }

    /// Prometheus's `quantile(q, values)` (linear interpolation between the closest
    /// ranks; NaN sorts first) over the sketch's values, each rank's value estimated
    /// within α. `min` and `max` are the exact smallest and largest values that are not
    /// NaN (the rollup point keeps them): the extreme ranks answer them, the others are
    /// clamped into them. None when the sketch is empty.
    pub fn quantile(&self, q: f64, min: f64, max: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        if q.is_nan() {
            return Some(f64::NAN);
        }
        if q < 0.0 {
            return Some(f64::NEG_INFINITY);
        }
        if q > 1.0 {
            return Some(f64::INFINITY);
        }
        let value = |k: u64| {
            if k < self.nan {
                f64::NAN
            } else if k == self.nan {
                min
            } else if k == n - 1 {
                max
            } else {
                self.value_at(k).max(min).min(max)
            }
        };
        let rank = q * (n - 1) as f64;
        let lower = rank.floor().max(0.0);
        let upper = (lower + 1.0).min((n - 1) as f64);
        let weight = rank - rank.floor();
        Some(value(lower as u64) * (1.0 - weight) + value(upper as u64) * weight)
    }

    /// The stored encoding (empty for an empty sketch: "no sketch").
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.count() > 0 {
            self.encode(&mut out);
        }
        out
    }

    /// Appends the encoding (the flags byte 0 for an empty sketch).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let flags_at = out.len();
        out.push(0);
        let mut flags = 0u8;
        let mut counter = |bit: u8, count: u64, out: &mut Vec<u8>| {
            if count > 0 {
                flags |= 1 << bit;
                put_uvarint(out, count - 1);
            }
        };
        counter(0, self.nan, out);
        counter(1, self.neg_inf, out);
        let neg = encode_store(&self.neg, out);
        counter(3, self.zero, out);
        let pos = encode_store(&self.pos, out);
        counter(5, self.pos_inf, out);
        out[flags_at] = flags | u8::from(neg) << 2 | u8::from(pos) << 4;
    }

    /// Decodes a whole encoding (empty bytes: the empty sketch).
    pub fn decode(bytes: &[u8]) -> Result<Sketch, Corrupt> {
        if bytes.is_empty() {
            return Ok(Sketch::default());
        }
        let mut s = Sketch::default();
        if read(bytes, Some(&mut s))? != bytes.len() {
            return Err(Corrupt);
        }
        Ok(s)
    }

    /// The length of the encoding at the start of `bytes`, checked as it is read.
    pub fn encoded_len(bytes: &[u8]) -> Result<usize, Corrupt> {
        read(bytes, None)
    }
}

/// Writes a store when it has bins; true when it did.
fn encode_store(store: &Store, out: &mut Vec<u8>) -> bool {
    let Some(&(first, _)) = store.first() else {
        return false;
    };
    put_uvarint(out, store.len() as u64 - 1);
    let mut prev = None;
    for &(i, c) in store {
        let head = match prev {
            None => zigzag(i64::from(first)),
            Some(p) => (i64::from(i) - i64::from(p) - 1) as u64,
        };
        put_uvarint(out, head << 1 | u64::from(c > 1));
        if c > 1 {
            put_uvarint(out, c - 2);
        }
        prev = Some(i);
    }
    true
}

/// Reads one encoding from the start of `bytes` into `into` (when given); its length.
fn read(bytes: &[u8], mut into: Option<&mut Sketch>) -> Result<usize, Corrupt> {
    let (&flags, _) = bytes.split_first().ok_or(Corrupt)?;
    if flags & 0xc0 != 0 {
        return Err(Corrupt);
    }
    let mut pos = 1;
    let uvarint = |pos: &mut usize| {
        let (v, used) = read_uvarint(&bytes[*pos..]).ok_or(Corrupt)?;
        *pos += used;
        Ok::<u64, Corrupt>(v)
    };
    for bit in 0..6 {
        if flags & 1 << bit == 0 {
            continue;
        }
        if bit == 2 || bit == 4 {
            let bins = uvarint(&mut pos)?.saturating_add(1);
            let mut store = Vec::with_capacity((bins as usize).min(bytes.len() - pos));
            let mut index: Option<i64> = None;
            for _ in 0..bins {
                let head = uvarint(&mut pos)?;
                let i = match index {
                    None => unzigzag(head >> 1),
                    Some(p) => p.saturating_add((head >> 1).min(1 << 40) as i64 + 1),
                };
                if !(-MAX_INDEX..=MAX_INDEX).contains(&i) {
                    return Err(Corrupt);
                }
                let count = if head & 1 == 1 {
                    uvarint(&mut pos)?.checked_add(2).ok_or(Corrupt)?
                } else {
                    1
                };
                index = Some(i);
                if into.is_some() {
                    store.push((i as i32, count));
                }
            }
            if let Some(s) = into.as_deref_mut() {
                *(if bit == 2 { &mut s.neg } else { &mut s.pos }) = store;
            }
        } else {
            let count = uvarint(&mut pos)?.checked_add(1).ok_or(Corrupt)?;
            if let Some(s) = into.as_deref_mut() {
                *match bit {
                    0 => &mut s.nan,
                    1 => &mut s.neg_inf,
                    3 => &mut s.zero,
                    _ => &mut s.pos_inf,
                } = count;
            }
        }
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Prometheus's `quantile`, and the values at the two ranks it interpolates.
    fn exact(q: f64, values: &[f64]) -> (f64, f64, f64) {
        let mut v = values.to_vec();
        v.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            _ => a.total_cmp(b),
        });
        let n = v.len() as f64;
        let rank = q * (n - 1.0);
        let lower = rank.floor().max(0.0);
        let upper = (lower + 1.0).min(n - 1.0);
        let w = rank - rank.floor();
        let (a, b) = (v[lower as usize], v[upper as usize]);
        (a * (1.0 - w) + b * w, a, b)
    }

    fn bounds(values: &[f64]) -> (f64, f64) {
        let min = values.iter().copied().fold(f64::NAN, f64::min);
        let max = values.iter().copied().fold(f64::NAN, f64::max);
        (min, max)
    }

    fn estimate(s: &Sketch, q: f64, values: &[f64]) -> f64 {
        let (min, max) = bounds(values);
        s.quantile(q, min, max).unwrap()
    }

    /// Finite values of either sign over eight decades, zeros among them.
    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            1 => Just(0.0),
            10 => (any::<bool>(), -4.0f64..4.0).prop_map(|(neg, e)| {
                let v = 10f64.powf(e);
                if neg { -v } else { v }
            }),
        ]
    }

    proptest! {
        /// Every rank's value is within α, so the interpolation is within α of the
        /// magnitudes it interpolates.
        #[test]
        fn quantiles_are_within_the_relative_accuracy(
            values in proptest::collection::vec(value(), 1..300),
            q in 0.0f64..=1.0,
        ) {
            let s = Sketch::of(values.iter().copied());
            let (want, a, b) = exact(q, &values);
            let got = estimate(&s, q, &values);
            let rank = q * (values.len() - 1) as f64;
            let w = rank - rank.floor();
            let bound = RELATIVE_ACCURACY * ((1.0 - w) * a.abs() + w * b.abs()) * (1.0 + 1e-9);
            prop_assert!((got - want).abs() <= bound + 1e-300, "q {q}: {got} vs {want} (bound {bound})");
        }

        #[test]
        fn merge_equals_the_sketch_of_the_union(
            a in proptest::collection::vec(value(), 0..200),
            b in proptest::collection::vec(value(), 0..200),
        ) {
            let mut merged = Sketch::of(a.iter().copied());
            merged.merge(&Sketch::of(b.iter().copied()));
            let whole = Sketch::of(a.iter().chain(&b).copied());
            prop_assert_eq!(&merged, &whole);
            let mut union = Sketch::of(a.iter().copied());
            union.union(&Sketch::of(b.iter().copied()));
            prop_assert_eq!(union, whole);
        }

        #[test]
        fn encoding_round_trips(
            values in proptest::collection::vec(prop_oneof![
                8 => value(),
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
                1 => (1u32..5000).prop_map(f64::from),
            ], 0..300),
        ) {
            let s = Sketch::of(values.iter().copied());
            let bytes = s.to_bytes();
            prop_assert_eq!(bytes.is_empty(), values.is_empty());
            prop_assert_eq!(Sketch::decode(&bytes), Ok(s.clone()));
            let mut framed = Vec::new();
            s.encode(&mut framed);
            framed.extend_from_slice(&[0xff, 0x01]);
            prop_assert_eq!(Sketch::encoded_len(&framed), Ok(framed.len() - 2));
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Sketch::decode(&bytes);
            let _ = Sketch::encoded_len(&bytes);
        }
    }

    #[test]
    fn prometheus_semantics_of_the_parameter_and_of_nan() {
        let values = [f64::NAN, 1.0, 2.0, f64::INFINITY];
        let s = Sketch::of(values);
        let (min, max) = (1.0, f64::INFINITY);
        assert!(
            s.quantile(0.0, min, max).unwrap().is_nan(),
            "NaN sorts first"
        );
        // As Prometheus: the top rank is +Inf, and +Inf × (1 − 0) + +Inf × 0 is NaN.
        assert!(s.quantile(1.0, min, max).unwrap().is_nan());
        assert!(exact(1.0, &values).0.is_nan());
        assert_eq!(s.quantile(-0.5, min, max), Some(f64::NEG_INFINITY));
        assert_eq!(s.quantile(1.5, min, max), Some(f64::INFINITY));
        assert!(s.quantile(f64::NAN, min, max).unwrap().is_nan());
        assert_eq!(Sketch::default().quantile(0.5, 0.0, 0.0), None);
        // Ranks 1 and 2 are 1 and 2: the extreme non-NaN one is exact.
        let third = s.quantile(1.0 / 3.0, min, max).unwrap();
        assert_eq!(third, 1.0);
        let between = s.quantile(0.5, min, max).unwrap();
        assert!((between - 1.5).abs() <= 0.01 * 1.5, "{between}");
    }

    /// A pathological series over 300 decades stays within the bound; its high ranks
    /// keep their accuracy and the extremes stay exact.
    #[test]
    fn bins_are_bounded_by_collapsing_the_lowest() {
        let values: Vec<f64> = (0..20_000)
            .map(|i| 10f64.powf(-150.0 + 300.0 * f64::from(i) / 20_000.0))
            .chain((0..3000).map(|i| -10f64.powf(f64::from(i) / 100.0)))
            .collect();
        let s = Sketch::of(values.iter().copied());
        assert_eq!(s.bins(), MAX_BINS);
        assert_eq!(s.count(), values.len() as u64);
        // The top 1,024 bins hold the highest 1,024 values: ranks from 0.955 up.
        for q in [0.96, 0.99, 0.999] {
            let (want, ..) = exact(q, &values);
            let got = estimate(&s, q, &values);
            assert!(
                (got - want).abs() <= 0.0101 * want.abs(),
                "{q}: {got} vs {want}"
            );
        }
        assert_eq!(estimate(&s, 0.0, &values), -(10f64.powf(29.99)));
        // Merging two bounded sketches stays bounded.
        let mut m = s.clone();
        m.merge(&Sketch::of((0..5000).map(|i| 1e-200 * f64::from(i + 1))));
        assert!(m.bins() <= MAX_BINS);
        assert!(s.to_bytes().len() < 4 * MAX_BINS);
    }

    #[test]
    fn a_minute_of_latencies_takes_a_few_bytes() {
        let s = Sketch::of([0.212, 0.198, 0.305, 0.187]);
        assert!(s.to_bytes().len() <= 8, "{:?}", s.to_bytes());
        assert_eq!(Sketch::of([0.0; 4]).to_bytes(), vec![1 << 3, 3]);
    }
}
