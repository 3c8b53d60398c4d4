//! Prometheus's XOR chunk encoding (`tsdb/chunkenc/xor.go`), the `XOR` chunks of remote
//! read's `STREAMED_XOR_CHUNKS` responses: a 2-byte big-endian sample count, then the
//! first sample as a zig-zag varint timestamp and its 64 value bits, the second as an
//! unsigned varint timestamp delta, and every later one as a delta-of-delta in one of
//! Prometheus's bit buckets (0, 14, 17, 20 or 64 bits); values are XORed with the
//! previous value, reusing the previous window of meaningful bits when the new one fits
//! in it. Telltale's own chunks ([`crate::chunk`]) use different buckets and a different
//! header, so a remote read re-encodes samples in this format. The byte-for-byte match
//! with Prometheus is checked against the chunks `promtool tsdb create-blocks-from` writes
//! (`tests/prometheus_xor.rs`).

use crate::chunk::bits::{BitWriter, put_uvarint, put_varint};

/// Samples per chunk, as Prometheus's head cuts them (`samplesPerChunk`).
pub const SAMPLES_PER_CHUNK: usize = 120;

/// One encoded chunk: its time bounds (ms) and its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct XorChunk {
    pub min_time_ms: i64,
    pub max_time_ms: i64,
    pub data: Vec<u8>,
}

/// `samples` (timestamp ms, value; in timestamp order) cut into chunks of at most
/// [`SAMPLES_PER_CHUNK`] samples.
pub fn chunks(samples: &[(i64, f64)]) -> Vec<XorChunk> {
    samples
        .chunks(SAMPLES_PER_CHUNK)
        .filter_map(|part| {
            Some(XorChunk {
                min_time_ms: part.first()?.0,
                max_time_ms: part.last()?.0,
                data: encode(part),
            })
        })
        .collect()
}

/// One chunk holding every sample of `samples` (at most `u16::MAX` of them: the count
/// saturates beyond that, so callers cut with [`chunks`]).
pub fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    let count = u16::try_from(samples.len()).unwrap_or(u16::MAX);
    let mut out = count.to_be_bytes().to_vec();
    let Some(&(t0, v0)) = samples.first() else {
        return out;
    };
    put_varint(&mut out, t0);
    let mut w = Stream::new(out);
    w.write_bits(v0.to_bits(), 64);
    let mut state = XorState {
        previous: v0.to_bits(),
        leading: u8::MAX,
        trailing: 0,
    };
    let (mut t_prev, mut delta_prev) = (t0, 0i64);
    for (i, &(t, v)) in samples.iter().enumerate().skip(1) {
        let delta = t.wrapping_sub(t_prev);
        if i == 1 {
            let mut bytes = Vec::with_capacity(10);
            put_uvarint(&mut bytes, delta as u64);
            for b in bytes {
                w.write_bits(u64::from(b), 8);
            }
        } else {
            write_delta_of_delta(&mut w, delta.wrapping_sub(delta_prev));
        }
        state.write(&mut w, v.to_bits());
        (t_prev, delta_prev) = (t, delta);
    }
    w.into_bytes()
}

/// Prometheus's `bstream` as the XOR appender leaves it: writing whole bytes at a byte
/// boundary (`writeByte`) appends an empty byte for the next bits, which stays in the
/// chunk when nothing follows; writing single bits (`writeBit`) does not.
struct Stream {
    w: BitWriter,
    empty_last_byte: bool,
}

impl Stream {
    fn new(header: Vec<u8>) -> Self {
        Stream {
            w: BitWriter::with_bytes(header),
            empty_last_byte: false,
        }
    }

    fn write_bit(&mut self, bit: bool) {
        self.w.write_bit(bit);
        self.empty_last_byte = false;
    }

    /// Prometheus's `writeBits`: whole bytes first, then the bits left one by one.
    fn write_bits(&mut self, v: u64, n: u8) {
        self.w.write_bits(v, n);
        self.empty_last_byte = n >= 8 && n.is_multiple_of(8) && self.w.is_aligned();
    }

    fn into_bytes(self) -> Vec<u8> {
        let mut bytes = self.w.into_bytes();
        if self.empty_last_byte {
            bytes.push(0);
        }
        bytes
    }
}

/// A delta-of-delta in the smallest of Prometheus's buckets that holds it.
fn write_delta_of_delta(w: &mut Stream, dod: i64) {
    const BUCKETS: [(u64, u8, u8); 3] = [(0b10, 2, 14), (0b110, 3, 17), (0b1110, 4, 20)];
    if dod == 0 {
        w.write_bit(false);
        return;
    }
    for (prefix, prefix_bits, bits) in BUCKETS {
        if in_bit_range(dod, bits) {
            w.write_bits(prefix, prefix_bits);
            w.write_bits(dod as u64 & ((1u64 << bits) - 1), bits);
            return;
        }
    }
    w.write_bits(0b1111, 4);
    w.write_bits(dod as u64, 64);
}

/// Whether `x` fits Prometheus's `bitRange(x, nbits)`: −(2^(n−1) − 1) ≤ x ≤ 2^(n−1).
fn in_bit_range(x: i64, nbits: u8) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

/// The value column's state: the previous value's bits and the current window.
struct XorState {
    previous: u64,
    /// `u8::MAX` until the first window is written.
    leading: u8,
    trailing: u8,
}

impl XorState {
    fn write(&mut self, w: &mut Stream, bits: u64) {
        let delta = bits ^ self.previous;
        self.previous = bits;
        if delta == 0 {
            w.write_bit(false);
            return;
        }
        w.write_bit(true);
        // The leading count is written in 5 bits, so at most 31.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != u8::MAX && leading >= self.leading && trailing >= self.trailing {
            w.write_bit(false);
            let significant = 64 - self.leading - self.trailing;
            w.write_bits(delta >> self.trailing, significant);
            return;
        }
        (self.leading, self.trailing) = (leading, trailing);
        w.write_bit(true);
        w.write_bits(u64::from(leading), 5);
        // 64 significant bits do not fit in 6 bits and are written as 0, as Prometheus does.
        let significant = 64 - leading - trailing;
        w.write_bits(u64::from(significant), 6);
        w.write_bits(delta >> trailing, significant);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_counts_samples_and_the_first_sample_is_a_varint_and_raw_bits() {
        let data = encode(&[(1000, 1.5)]);
        // count 1, zig-zag varint 1000 = 2000 = [0xd0, 0x0f], then 1.5's bits and the
        // empty byte Prometheus's stream leaves after whole bytes.
        let mut expected = vec![0, 1, 0xd0, 0x0f];
        expected.extend_from_slice(&1.5f64.to_bits().to_be_bytes());
        expected.push(0);
        assert_eq!(data, expected);
        assert_eq!(encode(&[]), vec![0, 0]);
    }

    #[test]
    fn a_regular_series_costs_two_bits_per_sample_after_the_second() {
        let samples: Vec<(i64, f64)> = (0..120).map(|i| (i * 15_000, 7.0)).collect();
        let data = encode(&samples);
        // 2 (count) + 1 (varint 0) + 8 + 2 (uvarint 15000), then 1 bit + 118 * 2 bits.
        assert_eq!(data.len(), 2 + 1 + 8 + 2 + (1 + 118 * 2usize).div_ceil(8));
    }

    #[test]
    fn chunks_are_cut_at_120_samples_with_their_bounds() {
        let samples: Vec<(i64, f64)> = (0..250).map(|i| (i, i as f64)).collect();
        let cut = chunks(&samples);
        assert_eq!(cut.len(), 3);
        assert_eq!((cut[0].min_time_ms, cut[0].max_time_ms), (0, 119));
        assert_eq!((cut[2].min_time_ms, cut[2].max_time_ms), (240, 249));
        assert_eq!(&cut[2].data[..2], &[0, 10]);
    }

    #[test]
    fn bit_ranges_are_prometheus_s() {
        assert!(in_bit_range(8192, 14) && !in_bit_range(8193, 14));
        assert!(in_bit_range(-8191, 14) && !in_bit_range(-8192, 14));
    }
}
