//! Chunks of native histogram samples. The stored form is `uvarint(count) ++ bits`; per
//! sample:
//!
//! ```text
//! timestamp   first: 64 bits raw; then delta-of-delta (as raw samples)
//! layout bit  1: a layout follows (always for the first sample), 0: the previous one
//! [layout]    integer bit (counts stored as integers), schema (8 bits, signed),
//!             zero threshold (64 bits), custom bounds (count, 64 bits each), positive
//!             then negative spans (count, then zig-zag offset and length each; counts
//!             in groups of seven bits)
//! reset hint  2 bits
//! count, zero count   integers: varbit delta-of-delta; floats: XOR
//! sum         XOR
//! buckets     every bucket of the layout, positive then negative, each against the
//!             same bucket of the previous sample (integers: varbit delta-of-delta,
//!             floats: XOR; a bucket new to the layout starts from 0)
//! ```
//!
//! A layout is written only when it changes, so a series whose buckets are stable
//! costs its timestamp, a few bits per count that moves and one bit per count that does
//! not. [`HistogramAppender`] is also the head's open chunk for histogram series.

use std::collections::HashMap;
use std::sync::Arc;

use super::Error;
use super::bits::{BitReader, BitWriter, put_uvarint, read_uvarint, unzigzag, zigzag};
use super::codec::{Dod, Xor};
use crate::histogram::{FloatHistogram, ResetHint, Span};

/// The bucket layout shared by consecutive samples.
#[derive(Debug, Clone, PartialEq, Default)]
struct Layout {
    integer: bool,
    schema: i32,
    zero_threshold: f64,
    custom_values: Vec<f64>,
    positive: Vec<Span>,
    negative: Vec<Span>,
}

impl Layout {
    fn of(h: &FloatHistogram) -> Self {
        Layout {
            integer: h.is_integral(),
            schema: h.schema,
            zero_threshold: h.zero_threshold,
            custom_values: h.custom_values.clone(),
            positive: h.positive_spans.clone(),
            negative: h.negative_spans.clone(),
        }
    }

    fn matches(&self, h: &FloatHistogram) -> bool {
        self.schema == h.schema
            && self.zero_threshold.to_bits() == h.zero_threshold.to_bits()
            && self.positive == h.positive_spans
            && self.negative == h.negative_spans
            && self.custom_values == h.custom_values
            && (!self.integer || h.is_integral())
    }

    /// Bucket keys in chunk order: `(negative, index)`.
    fn keys(&self) -> Vec<(bool, i32)> {
        let pos = indexes(&self.positive).map(|i| (false, i));
        let neg = indexes(&self.negative).map(|i| (true, i));
        pos.chain(neg).collect()
    }

    fn write(&self, w: &mut BitWriter) {
        w.write_bit(self.integer);
        w.write_bits(self.schema as i8 as u8 as u64, 8);
        w.write_bits(self.zero_threshold.to_bits(), 64);
        w.write_uvarint_bits(self.custom_values.len() as u64);
        for v in &self.custom_values {
            w.write_bits(v.to_bits(), 64);
        }
        for spans in [&self.positive, &self.negative] {
            w.write_uvarint_bits(spans.len() as u64);
            for s in spans {
                w.write_uvarint_bits(zigzag(s.offset as i64));
                w.write_uvarint_bits(s.length as u64);
            }
        }
    }

    fn read(r: &mut BitReader<'_>) -> Result<Self, Error> {
        let integer = r.read_bit()?;
        let schema = r.read_bits(8)? as u8 as i8 as i32;
        let zero_threshold = f64::from_bits(r.read_bits(64)?);
        let n = bounded(r.read_uvarint_bits()?)?;
        let mut custom_values = Vec::with_capacity(n);
        for _ in 0..n {
            custom_values.push(f64::from_bits(r.read_bits(64)?));
        }
        let mut spans = [Vec::new(), Vec::new()];
        let mut buckets = 0u64;
        for side in &mut spans {
            let n = bounded(r.read_uvarint_bits()?)?;
            for _ in 0..n {
                let offset = i32::try_from(unzigzag(r.read_uvarint_bits()?))
                    .map_err(|_| Error::Truncated)?;
                let length = u32::try_from(r.read_uvarint_bits()?).map_err(|_| Error::Truncated)?;
                buckets += length as u64;
                side.push(Span { offset, length });
            }
        }
        if buckets > MAX_BUCKETS {
            return Err(Error::Truncated);
        }
        let [positive, negative] = spans;
        Ok(Layout {
            integer,
            schema,
            zero_threshold,
            custom_values,
            positive,
            negative,
        })
    }
}

/// More buckets than any layout holds: a corrupt chunk cannot make a reader allocate.
const MAX_BUCKETS: u64 = 1 << 16;

fn bounded(n: u64) -> Result<usize, Error> {
    if n > MAX_BUCKETS {
        return Err(Error::Truncated);
    }
    Ok(n as usize)
}

fn indexes(spans: &[Span]) -> impl Iterator<Item = i32> + '_ {
    let mut next = 0i32;
    spans.iter().enumerate().flat_map(move |(k, s)| {
        let start = if k == 0 {
            s.offset
        } else {
            next.saturating_add(s.offset)
        };
        next = start.saturating_add(s.length as i32);
        (0..s.length as i32).map(move |j| start.saturating_add(j))
    })
}

/// The encoder state of one count column.
#[derive(Debug, Clone, Copy)]
enum Column {
    Int(Dod),
    Float(Xor),
}

impl Column {
    fn new(integer: bool) -> Self {
        if integer {
            Column::Int(Dod::starting_at(0))
        } else {
            Column::Float(Xor::starting_at(0.0))
        }
    }

    fn encode(&mut self, w: &mut BitWriter, v: f64) {
        match self {
            Column::Int(d) => d.encode_varbit(w, v as i64),
            Column::Float(x) => x.encode(w, v),
        }
    }

    fn decode(&mut self, r: &mut BitReader<'_>) -> Result<f64, Error> {
        Ok(match self {
            Column::Int(d) => d.decode_varbit(r)? as f64,
            Column::Float(x) => x.decode(r)?,
        })
    }
}

/// Column states of the current layout, rebuilt (keeping each bucket's state) when
/// the layout changes. Encoder and decoder keep identical states.
#[derive(Debug, Clone)]
struct State {
    ts: Dod,
    layout: Layout,
    keys: Vec<(bool, i32)>,
    count: Column,
    zero: Column,
    sum: Xor,
    buckets: Vec<Column>,
}

impl State {
    fn first(t: i64, layout: Layout) -> Self {
        let keys = layout.keys();
        State {
            ts: Dod::starting_at(t),
            count: Column::new(layout.integer),
            zero: Column::new(layout.integer),
            sum: Xor::starting_at(0.0),
            buckets: vec![Column::new(layout.integer); keys.len()],
            keys,
            layout,
        }
    }

    fn relayout(&mut self, layout: Layout) {
        let keys = layout.keys();
        let same_kind = layout.integer == self.layout.integer;
        let old: HashMap<(bool, i32), Column> = if same_kind {
            self.keys
                .iter()
                .copied()
                .zip(self.buckets.iter().copied())
                .collect()
        } else {
            HashMap::new()
        };
        self.buckets = keys
            .iter()
            .map(|k| old.get(k).copied().unwrap_or(Column::new(layout.integer)))
            .collect();
        if !same_kind {
            self.count = Column::new(layout.integer);
            self.zero = Column::new(layout.integer);
        }
        self.keys = keys;
        self.layout = layout;
    }
}

/// An open chunk of histogram samples, appended in strictly increasing time order.
#[derive(Debug, Clone, Default)]
pub struct HistogramAppender {
    w: BitWriter,
    count: u32,
    state: Option<Box<State>>,
    first_ts: i64,
    last_ts: i64,
}

impl HistogramAppender {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Time of the first and the last sample, when there are samples.
    pub fn bounds(&self) -> Option<(i64, i64)> {
        (self.count > 0).then_some((self.first_ts, self.last_ts))
    }

    /// Appends a sample newer than every sample in the chunk.
    ///
    /// # Panics
    /// When `t` is not after the last timestamp.
    pub fn append(&mut self, t: i64, h: &FloatHistogram) {
        let w = &mut self.w;
        let state = match &mut self.state {
            None => {
                w.write_bits(t as u64, 64);
                w.write_bit(true);
                let layout = Layout::of(h);
                layout.write(w);
                self.first_ts = t;
                self.state.insert(Box::new(State::first(t, layout)))
            }
            Some(state) => {
                assert!(t > self.last_ts, "chunk samples must be in time order");
                state.ts.encode(w, t);
                if state.layout.matches(h) {
                    w.write_bit(false);
                } else {
                    w.write_bit(true);
                    let layout = Layout::of(h);
                    layout.write(w);
                    state.relayout(layout);
                }
                state
            }
        };
        w.write_bits(h.reset_hint.code() as u64, 2);
        state.count.encode(w, h.count);
        state.zero.encode(w, h.zero_count);
        state.sum.encode(w, h.sum);
        let values = h.positive_buckets.iter().chain(&h.negative_buckets);
        for (column, &v) in state.buckets.iter_mut().zip(values) {
            column.encode(w, v);
        }
        self.last_ts = t;
        self.count += 1;
    }

    /// Decodes every sample.
    pub fn iter(&self) -> HistogramIter<'_> {
        HistogramIter::new(self.w.bytes(), self.count)
    }

    /// The stored form of the chunk.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.w.bytes().len() + 5);
        put_uvarint(&mut out, self.count as u64);
        out.extend_from_slice(self.w.bytes());
        out
    }

    /// Heap bytes held (the encoder's state included).
    pub fn heap_bytes(&self) -> usize {
        self.w.capacity()
            + self
                .state
                .as_ref()
                .map_or(0, |s| std::mem::size_of::<State>() + s.keys.len() * 28)
    }
}

/// Encodes time-ordered samples with strictly increasing timestamps into a stored chunk.
pub fn encode(samples: &[(i64, Arc<FloatHistogram>)]) -> Vec<u8> {
    let mut a = HistogramAppender::new();
    for (t, h) in samples {
        a.append(*t, h);
    }
    a.encode()
}

/// Decodes a stored chunk, appending its samples to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<(i64, Arc<FloatHistogram>)>) -> Result<(), Error> {
    for s in stored_iter(bytes)? {
        out.push(s?);
    }
    Ok(())
}

/// The samples of a stored chunk, decoded one by one.
pub fn stored_iter(bytes: &[u8]) -> Result<HistogramIter<'_>, Error> {
    let (count, used) = read_uvarint(bytes).ok_or(Error::Truncated)?;
    let count = u32::try_from(count).map_err(|_| Error::Truncated)?;
    Ok(HistogramIter::new(&bytes[used..], count))
}

/// Decodes samples one by one; each is a new shared histogram.
pub struct HistogramIter<'a> {
    r: BitReader<'a>,
    remaining: u32,
    state: Option<Box<State>>,
}

impl<'a> HistogramIter<'a> {
    fn new(bits: &'a [u8], count: u32) -> Self {
        HistogramIter {
            r: BitReader::new(bits),
            remaining: count,
            state: None,
        }
    }

    fn step(&mut self) -> Result<(i64, Arc<FloatHistogram>), Error> {
        let r = &mut self.r;
        let (t, state) = match &mut self.state {
            None => {
                let t = r.read_bits(64)? as i64;
                if !r.read_bit()? {
                    return Err(Error::Truncated);
                }
                let layout = Layout::read(r)?;
                (
                    t,
                    &mut **self.state.insert(Box::new(State::first(t, layout))),
                )
            }
            Some(state) => {
                let t = state.ts.decode(r)?;
                if r.read_bit()? {
                    let layout = Layout::read(r)?;
                    state.relayout(layout);
                }
                (t, &mut **state)
            }
        };
        let reset_hint = ResetHint::from_code(r.read_bits(2)? as u8);
        let count = state.count.decode(r)?;
        let zero_count = state.zero.decode(r)?;
        let sum = state.sum.decode(r)?;
        let npos: usize = state
            .layout
            .positive
            .iter()
            .map(|s| s.length as usize)
            .sum();
        let mut positive_buckets = Vec::with_capacity(npos);
        let mut negative_buckets = Vec::with_capacity(state.keys.len() - npos);
        for (k, column) in state.buckets.iter_mut().enumerate() {
            let v = column.decode(r)?;
            if k < npos {
                positive_buckets.push(v);
            } else {
                negative_buckets.push(v);
            }
        }
        let layout = &state.layout;
        Ok((
            t,
            Arc::new(FloatHistogram {
                reset_hint,
                schema: layout.schema,
                zero_threshold: layout.zero_threshold,
                zero_count,
                count,
                sum,
                positive_spans: layout.positive.clone(),
                positive_buckets,
                negative_spans: layout.negative.clone(),
                negative_buckets,
                custom_values: layout.custom_values.clone(),
            }),
        ))
    }
}

impl Iterator for HistogramIter<'_> {
    type Item = Result<(i64, Arc<FloatHistogram>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let item = self.step();
        if item.is_err() {
            self.remaining = 0;
        }
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::histogram::CUSTOM_BUCKETS_SCHEMA;

    fn hist(schema: i32, buckets: &[(i32, f64)], neg: &[(i32, f64)], sum: f64) -> FloatHistogram {
        let mut h = FloatHistogram {
            schema,
            zero_threshold: 1e-128,
            zero_count: 1.0,
            sum,
            ..FloatHistogram::default()
        };
        h.set_positive(buckets.iter().copied());
        h.set_negative(neg.iter().copied());
        h.count = h.zero_count
            + h.positive_buckets.iter().sum::<f64>()
            + h.negative_buckets.iter().sum::<f64>();
        h
    }

    fn round_trip(samples: &[(i64, FloatHistogram)]) -> Vec<u8> {
        let shared: Vec<(i64, Arc<FloatHistogram>)> = samples
            .iter()
            .map(|(t, h)| (*t, Arc::new(h.clone())))
            .collect();
        let bytes = encode(&shared);
        let mut back = Vec::new();
        decode_into(&bytes, &mut back).unwrap();
        assert_eq!(back.len(), samples.len());
        for ((t, h), (bt, bh)) in samples.iter().zip(&back) {
            assert_eq!(t, bt);
            assert_eq!(h.sum.to_bits(), bh.sum.to_bits());
            let (mut h, mut bh) = (h.clone(), (**bh).clone());
            (h.sum, bh.sum) = (0.0, 0.0); // the staleness NaN is not equal to itself
            assert_eq!(h, bh);
        }
        bytes
    }

    #[test]
    fn layout_changes_kinds_and_hints_round_trip() {
        let a = hist(3, &[(0, 1.0), (1, 2.0), (5, 4.0)], &[(2, 1.0)], 12.5);
        let b = hist(3, &[(0, 2.0), (1, 2.0), (5, 6.0)], &[(2, 1.0)], 20.0);
        let mut c = hist(2, &[(-3, 2.0), (1, 3.0)], &[], 25.0);
        c.reset_hint = ResetHint::CounterReset;
        let mut d = hist(2, &[(-3, 2.5), (1, 3.0)], &[], 26.0); // float counts
        d.reset_hint = ResetHint::Gauge;
        let mut e = hist(CUSTOM_BUCKETS_SCHEMA, &[(0, 1.0), (2, 3.0)], &[], 9.0);
        e.custom_values = vec![0.1, 1.0];
        e.zero_threshold = 0.0;
        let stale = FloatHistogram::stale_marker();
        round_trip(&[
            (1000, a),
            (2000, b),
            (3000, c),
            (4000, d),
            (5000, e),
            (6000, stale),
        ]);
    }

    #[test]
    fn a_steady_histogram_costs_few_bytes_per_sample() {
        // 20 buckets, each growing by a small, varying amount every 15 s.
        let samples: Vec<(i64, FloatHistogram)> = (0..120)
            .map(|i| {
                let buckets: Vec<(i32, f64)> = (0..20)
                    .map(|b| (b, (i * (b % 5 + 1) + (i * b) % 3) as f64))
                    .collect();
                (
                    i64::from(i) * 15_000,
                    hist(3, &buckets, &[], f64::from(i) * 1.37),
                )
            })
            .collect();
        let bytes = round_trip(&samples);
        let per_sample = bytes.len() as f64 / samples.len() as f64;
        assert!(per_sample < 24.0, "{per_sample} bytes per sample");
    }

    #[test]
    fn truncated_chunks_are_errors_not_panics() {
        let a = hist(3, &[(0, 1.0), (1, 2.0)], &[], 1.0);
        let b = hist(3, &[(0, 3.0), (1, 2.0), (4, 1.0)], &[], 2.0);
        let bytes = encode(&[(1, Arc::new(a)), (2, Arc::new(b))]);
        for cut in 0..bytes.len() {
            let mut out = Vec::new();
            assert!(
                decode_into(&bytes[..cut], &mut out).is_err(),
                "cut at {cut}"
            );
        }
    }

    fn arb_hist() -> impl Strategy<Value = FloatHistogram> {
        (
            -4..=8i32,
            proptest::collection::btree_map(-30..30i32, 0..1000u32, 0..15),
            proptest::collection::btree_map(-5..5i32, 0..100u32, 0..3),
            any::<bool>(),
            any::<f64>(),
            0..4u8,
        )
            .prop_map(|(schema, pos, neg, float, sum, hint)| {
                let f = |(i, c): (i32, u32)| (i, if float { c as f64 * 0.25 } else { c as f64 });
                let pos: Vec<(i32, f64)> = pos.into_iter().map(f).collect();
                let neg: Vec<(i32, f64)> = neg.into_iter().map(f).collect();
                let mut h = hist(schema, &pos, &neg, sum);
                h.reset_hint = ResetHint::from_code(hint);
                h
            })
    }

    proptest! {
        #[test]
        fn any_samples_round_trip(hs in proptest::collection::vec(arb_hist(), 1..20), gaps in proptest::collection::vec(1..100_000i64, 20)) {
            let mut t = -5_000i64;
            let samples: Vec<(i64, FloatHistogram)> = hs.into_iter().zip(gaps).map(|(h, g)| { t += g; (t, h) }).collect();
            let shared: Vec<(i64, Arc<FloatHistogram>)> = samples.iter().map(|(t, h)| (*t, Arc::new(h.clone()))).collect();
            let bytes = encode(&shared);
            let mut back = Vec::new();
            decode_into(&bytes, &mut back).unwrap();
            prop_assert_eq!(back.len(), samples.len());
            for ((t, h), (bt, bh)) in samples.iter().zip(&back) {
                prop_assert_eq!(t, bt);
                prop_assert_eq!(h.sum.to_bits(), bh.sum.to_bits());
                prop_assert_eq!(&h.positive_buckets, &bh.positive_buckets);
                prop_assert_eq!(&h.negative_spans, &bh.negative_spans);
                prop_assert_eq!(h.count, bh.count);
                prop_assert_eq!(h.reset_hint, bh.reset_hint);
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode_into(&bytes, &mut out);
        }
    }
}
