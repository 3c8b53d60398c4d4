//! The two Gorilla (VLDB 2015) column codecs every chunk is made of: delta-of-delta for
//! integers (timestamps, counts) and XOR for floats. Each keeps the state the next
//! value is encoded against; encoder and decoder states evolve identically.

use super::bits::{BitReader, BitWriter, Truncated};

/// `(prefix bits, prefix length, payload bits)` for delta-of-delta buckets, tried in
/// order; the last bucket holds any 64-bit value.
const DOD_BUCKETS: [(u64, u8, u8); 4] = [
    (0b10, 2, 14),
    (0b110, 3, 17),
    (0b1110, 4, 20),
    (0b1111, 4, 64),
];

/// Buckets of the variable-width delta-of-delta of counts (Prometheus's varbit
/// integers): small changes, the usual case of a histogram bucket, cost a few bits.
const VARBIT_BUCKETS: [(u64, u8, u8); 7] = [
    (0b10, 2, 3),
    (0b110, 3, 6),
    (0b1110, 4, 9),
    (0b11110, 5, 12),
    (0b111110, 6, 18),
    (0b1111110, 7, 25),
    (0b1111111, 7, 64),
];

/// Delta-of-delta state of one integer column.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dod {
    prev: i64,
    delta: i64,
}

impl Dod {
    /// Starts a column whose first value is written raw by the caller.
    pub fn starting_at(first: i64) -> Self {
        Dod {
            prev: first,
            delta: 0,
        }
    }

    pub fn encode(&mut self, w: &mut BitWriter, v: i64) {
        self.encode_in(w, v, &DOD_BUCKETS);
    }

    #[inline]
    pub fn decode(&mut self, r: &mut BitReader<'_>) -> Result<i64, Truncated> {
        self.decode_in(r, &DOD_BUCKETS)
    }

    /// As [`Dod::encode`], with the finer buckets of [`VARBIT_BUCKETS`] (counts).
    pub fn encode_varbit(&mut self, w: &mut BitWriter, v: i64) {
        self.encode_in(w, v, &VARBIT_BUCKETS);
    }

    /// Decodes a value written by [`Dod::encode_varbit`].
    pub fn decode_varbit(&mut self, r: &mut BitReader<'_>) -> Result<i64, Truncated> {
        self.decode_in(r, &VARBIT_BUCKETS)
    }

    /// The last value encoded or decoded.
    pub fn last(&self) -> i64 {
        self.prev
    }

    /// Writes the delta-of-delta as `0` or the first bucket of `buckets` it fits in
    /// (`buckets[k]`'s prefix is `k + 1` ones, then a zero unless it is the last).
    #[inline]
    fn encode_in(&mut self, w: &mut BitWriter, v: i64, buckets: &[(u64, u8, u8)]) {
        let delta = v.wrapping_sub(self.prev);
        let dod = delta.wrapping_sub(self.delta);
        if dod == 0 {
            w.write_bit(false);
        } else {
            let (prefix, plen, bits) = buckets
                .iter()
                .copied()
                .find(|&(_, _, bits)| fits(dod, bits))
                .expect("the last bucket holds every value");
            w.write_bits(prefix, plen);
            w.write_bits(dod as u64, bits);
        }
        self.prev = v;
        self.delta = delta;
    }

    #[inline]
    fn decode_in(
        &mut self,
        r: &mut BitReader<'_>,
        buckets: &[(u64, u8, u8)],
    ) -> Result<i64, Truncated> {
        let mut ones = 0;
        while ones < buckets.len() && r.read_bit()? {
            ones += 1;
        }
        let dod = if ones == 0 {
            0
        } else {
            let bits = buckets[ones - 1].2;
            sign_extend(r.read_bits(bits)?, bits)
        };
        self.delta = self.delta.wrapping_add(dod);
        self.prev = self.prev.wrapping_add(self.delta);
        Ok(self.prev)
    }
}

fn fits(v: i64, bits: u8) -> bool {
    bits == 64 || (-(1i64 << (bits - 1))..(1i64 << (bits - 1))).contains(&v)
}

fn sign_extend(v: u64, bits: u8) -> i64 {
    if bits == 64 {
        v as i64
    } else {
        let shift = 64 - bits;
        ((v << shift) as i64) >> shift
    }
}

/// XOR state of one float column; values are compared by bits, so NaN payloads and
/// signed zeros survive.
#[derive(Debug, Clone, Copy)]
pub struct Xor {
    prev: u64,
    leading: u8,
    trailing: u8,
}

impl Xor {
    pub fn starting_at(first: f64) -> Self {
        Xor {
            prev: first.to_bits(),
            // No window yet: the first non-zero XOR writes its own.
            leading: u8::MAX,
            trailing: 0,
        }
    }

    pub fn encode(&mut self, w: &mut BitWriter, v: f64) {
        let bits = v.to_bits();
        let xor = bits ^ self.prev;
        self.prev = bits;
        if xor == 0 {
            w.write_bit(false);
            return;
        }
        w.write_bit(true);
        let leading = (xor.leading_zeros() as u8).min(31);
        let trailing = xor.trailing_zeros() as u8;
        if self.leading != u8::MAX && leading >= self.leading && trailing >= self.trailing {
            w.write_bit(false);
            let sig = 64 - self.leading - self.trailing;
            w.write_bits(xor >> self.trailing, sig);
        } else {
            w.write_bit(true);
            let sig = 64 - leading - trailing;
            w.write_bits(leading as u64, 5);
            // 64 significant bits do not fit in 6 bits: written as 0.
            w.write_bits((sig & 63) as u64, 6);
            w.write_bits(xor >> trailing, sig);
            self.leading = leading;
            self.trailing = trailing;
        }
    }

    /// Encodes `v` against `predicted` instead of the column's previous value (the
    /// column's bit window carries on): a value equal to its prediction costs one bit, a
    /// close one few.
    pub fn encode_predicted(&mut self, w: &mut BitWriter, predicted: f64, v: f64) {
        self.prev = predicted.to_bits();
        self.encode(w, v);
    }

    /// Decodes a value written by [`Xor::encode_predicted`] with the same prediction.
    pub fn decode_predicted(
        &mut self,
        r: &mut BitReader<'_>,
        predicted: f64,
    ) -> Result<f64, Truncated> {
        self.prev = predicted.to_bits();
        self.decode(r)
    }

    #[inline]
    pub fn decode(&mut self, r: &mut BitReader<'_>) -> Result<f64, Truncated> {
        if r.read_bit()? {
            if r.read_bit()? {
                let header = r.read_bits(11)?;
                let leading = (header >> 6) as u8;
                let mut sig = (header & 0x3f) as u8;
                if sig == 0 {
                    sig = 64;
                }
                if leading + sig > 64 {
                    return Err(Truncated);
                }
                self.leading = leading;
                self.trailing = 64 - leading - sig;
            } else if self.leading == u8::MAX {
                return Err(Truncated);
            }
            let sig = 64 - self.leading - self.trailing;
            let xor = r.read_bits(sig)? << self.trailing;
            self.prev ^= xor;
        }
        Ok(f64::from_bits(self.prev))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn dod_round_trips(first in any::<i64>(), vs in proptest::collection::vec(any::<i64>(), 0..100)) {
            let mut w = BitWriter::new();
            let mut enc = Dod::starting_at(first);
            for v in &vs { enc.encode(&mut w, *v); }
            let bytes = w.into_bytes();
            let mut r = BitReader::new(&bytes);
            let mut dec = Dod::starting_at(first);
            for v in &vs { prop_assert_eq!(dec.decode(&mut r).unwrap(), *v); }
        }

        #[test]
        fn varbit_dod_round_trips(first in any::<i64>(), vs in proptest::collection::vec(any::<i64>(), 0..100)) {
            let mut w = BitWriter::new();
            let mut enc = Dod::starting_at(first);
            for v in &vs { enc.encode_varbit(&mut w, *v); }
            let bytes = w.into_bytes();
            let mut r = BitReader::new(&bytes);
            let mut dec = Dod::starting_at(first);
            for v in &vs { prop_assert_eq!(dec.decode_varbit(&mut r).unwrap(), *v); }
        }

        #[test]
        fn xor_round_trips_bits(first in any::<u64>(), vs in proptest::collection::vec(any::<u64>(), 0..100)) {
            let mut w = BitWriter::new();
            let mut enc = Xor::starting_at(f64::from_bits(first));
            for v in &vs { enc.encode(&mut w, f64::from_bits(*v)); }
            let bytes = w.into_bytes();
            let mut r = BitReader::new(&bytes);
            let mut dec = Xor::starting_at(f64::from_bits(first));
            for v in &vs { prop_assert_eq!(dec.decode(&mut r).unwrap().to_bits(), *v); }
        }
    }

    #[test]
    fn regular_intervals_cost_one_bit() {
        let mut w = BitWriter::new();
        let mut enc = Dod::starting_at(0);
        enc.encode(&mut w, 10_000);
        for i in 2..=9 {
            enc.encode(&mut w, i * 10_000);
        }
        // 3 + 17 bits for the first delta (10 000 needs 17 bits), then 8 zero bits.
        assert_eq!(w.bytes().len(), 4);
    }
}
