//! Chunks of raw samples: the first timestamp and value raw (64 bits each), then
//! timestamps delta-of-delta and values XOR ([`super::codec`]). The stored form is
//! `uvarint(count) ++ bits`. [`SampleAppender`] is also the head's open chunk: it grows in
//! place, is readable at any time, and its bytes become the stored chunk unchanged.

use super::Error;
use super::bits::{BitReader, BitWriter, put_uvarint, read_uvarint};
use super::codec::{Dod, Xor};

/// An open chunk that samples are appended to, in strictly increasing time order.
#[derive(Debug, Clone, Default)]
pub struct SampleAppender {
    w: BitWriter,
    count: u32,
    state: Option<(Dod, Xor)>,
    first_ts: i64,
    last_ts: i64,
}

impl SampleAppender {
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

    /// Appends a sample newer than every sample already in the chunk.
    ///
    /// # Panics
    /// When `t` is not after the last timestamp (the head routes such samples
    /// elsewhere; a chunk never holds them).
    pub fn append(&mut self, t: i64, v: f64) {
        match &mut self.state {
            None => {
                self.w.write_bits(t as u64, 64);
                self.w.write_bits(v.to_bits(), 64);
                self.state = Some((Dod::starting_at(t), Xor::starting_at(v)));
                self.first_ts = t;
            }
            Some((dod, xor)) => {
                assert!(t > self.last_ts, "chunk samples must be in time order");
                dod.encode(&mut self.w, t);
                xor.encode(&mut self.w, v);
            }
        }
        self.last_ts = t;
        self.count += 1;
    }

    /// Decodes every sample.
    pub fn iter(&self) -> SampleIter<'_> {
        SampleIter::new(self.w.bytes(), self.count)
    }

    /// The stored form of the chunk.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.w.bytes().len() + 5);
        put_uvarint(&mut out, self.count as u64);
        out.extend_from_slice(self.w.bytes());
        out
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.w.capacity()
    }

    /// Makes room for at least `bytes` more encoded bytes, so that the chunk grows in
    /// place instead of reallocating as it fills.
    pub fn reserve(&mut self, bytes: usize) {
        self.w.reserve(bytes);
    }
}

/// Encodes time-ordered samples with strictly increasing timestamps into a stored chunk.
pub fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut a = SampleAppender::new();
    for &(t, v) in samples {
        a.append(t, v);
    }
    a.encode()
}

/// Decodes a stored chunk, appending its samples to `out`.
pub fn decode_into(bytes: &[u8], out: &mut Vec<(i64, f64)>) -> Result<(), Error> {
    let (count, used) = read_uvarint(bytes).ok_or(Error::Truncated)?;
    let count = u32::try_from(count).map_err(|_| Error::Truncated)?;
    // Every sample takes at least two bits: a corrupt count cannot reserve more.
    out.reserve((count as usize).min(bytes.len() * 4));
    for s in SampleIter::new(&bytes[used..], count) {
        out.push(s?);
    }
    Ok(())
}

/// The samples of a stored chunk, decoded one by one as they are read.
pub fn stored_iter(bytes: &[u8]) -> Result<SampleIter<'_>, Error> {
    let (count, used) = read_uvarint(bytes).ok_or(Error::Truncated)?;
    let count = u32::try_from(count).map_err(|_| Error::Truncated)?;
    Ok(SampleIter::new(&bytes[used..], count))
}

/// Decodes samples one by one.
pub struct SampleIter<'a> {
    r: BitReader<'a>,
    remaining: u32,
    state: Option<(Dod, Xor)>,
}

impl<'a> SampleIter<'a> {
    fn new(bits: &'a [u8], count: u32) -> Self {
        SampleIter {
            r: BitReader::new(bits),
            remaining: count,
            state: None,
        }
    }

    fn step(&mut self) -> Result<(i64, f64), Error> {
        match &mut self.state {
            None => {
                let t = self.r.read_bits(64)? as i64;
                let v = f64::from_bits(self.r.read_bits(64)?);
                self.state = Some((Dod::starting_at(t), Xor::starting_at(v)));
                Ok((t, v))
            }
            Some((dod, xor)) => Ok((dod.decode(&mut self.r)?, xor.decode(&mut self.r)?)),
        }
    }
}

impl Iterator for SampleIter<'_> {
    type Item = Result<(i64, f64), Error>;

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

    fn special() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(telltale_model::STALE_NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(0.0),
            (0u32..1000).prop_map(|v| v as f64),
        ]
    }

    fn samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
        (
            any::<i64>(),
            proptest::collection::vec(
                (prop_oneof![1i64..20_000, 1i64..=i64::MAX / 256], special()),
                0..300,
            ),
        )
            .prop_map(|(start, steps)| {
                let mut t = start / 2;
                steps
                    .into_iter()
                    .map_while(|(d, v)| {
                        t = t.checked_add(d)?;
                        Some((t, v))
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn round_trips_bit_exactly(s in samples()) {
            let bytes = encode(&s);
            let mut out = Vec::new();
            decode_into(&bytes, &mut out).unwrap();
            prop_assert_eq!(out.len(), s.len());
            for (a, b) in out.iter().zip(&s) {
                prop_assert_eq!(a.0, b.0);
                prop_assert_eq!(a.1.to_bits(), b.1.to_bits());
            }
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = Vec::new();
            let _ = decode_into(&bytes, &mut out);
        }
    }

    #[test]
    fn regular_gauge_compresses_well() {
        let s: Vec<(i64, f64)> = (0..720)
            .map(|i| (1_700_000_000_000 + i * 10_000, 42.0))
            .collect();
        let bytes = encode(&s);
        // 16 bytes for the first sample, then 2 bits per sample.
        assert!(bytes.len() < 16 + 720 / 4 + 8, "{} bytes", bytes.len());
    }

    #[test]
    fn appender_is_readable_while_open() {
        let mut a = SampleAppender::new();
        a.append(5, 1.0);
        a.append(7, f64::NAN);
        let got: Vec<_> = a.iter().map(Result::unwrap).collect();
        assert_eq!(got[0], (5, 1.0));
        assert!(got[1].1.is_nan());
        assert_eq!(a.bounds(), Some((5, 7)));
    }
}
