//! Bit-level writer and reader, most significant bit first, plus the unsigned and
//! zig-zag varints the chunk headers use.

/// Appends bits to a byte vector.
#[derive(Debug, Default, Clone)]
pub struct BitWriter {
    bytes: Vec<u8>,
    /// Bits still free in the last byte (0 when a new byte is needed).
    free: u8,
}

impl BitWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Continues writing after `bytes`, which start with a header of whole bytes.
    pub fn with_bytes(bytes: Vec<u8>) -> Self {
        BitWriter { bytes, free: 0 }
    }

    pub fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.bytes.push(0);
            self.free = 8;
        }
        self.free -= 1;
        if bit {
            *self.bytes.last_mut().expect("a byte was pushed") |= 1 << self.free;
        }
    }

    /// Writes the low `n` bits of `v` (n <= 64), most significant first.
    pub fn write_bits(&mut self, v: u64, mut n: u8) {
        while n > 0 {
            if self.free == 0 {
                self.bytes.push(0);
                self.free = 8;
            }
            let take = n.min(self.free);
            let shift = n - take;
            let chunk = ((v >> shift) & ((1u64 << take) - 1)) as u8;
            self.free -= take;
            *self.bytes.last_mut().expect("a byte was pushed") |= chunk << self.free;
            n -= take;
        }
    }

    /// Writes `v` in groups of seven bits, lowest first, each after a bit saying
    /// whether another group follows (for lengths and counts inside bit data).
    pub fn write_uvarint_bits(&mut self, mut v: u64) {
        loop {
            let more = v >= 0x80;
            self.write_bit(more);
            self.write_bits(v & 0x7f, 7);
            v >>= 7;
            if !more {
                return;
            }
        }
    }

    /// Whether the bits written end on a byte boundary.
    pub fn is_aligned(&self) -> bool {
        self.free == 0
    }

    /// Bytes written so far (the last one may be partly used).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Heap bytes held.
    pub fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    /// Makes room for at least `additional` more bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.bytes.reserve(additional);
    }

    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }
}

/// Reads bits written by [`BitWriter`]; every read past the end is an error.
#[derive(Debug, Clone)]
pub struct BitReader<'a> {
    bytes: &'a [u8],
    /// Position in bits.
    pos: usize,
}

/// The input ended before the value did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

impl<'a> BitReader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        BitReader { bytes, pos: 0 }
    }

    #[inline]
    pub fn read_bit(&mut self) -> Result<bool, Truncated> {
        let byte = *self.bytes.get(self.pos / 8).ok_or(Truncated)?;
        let bit = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Ok(bit)
    }

    /// Reads `n` bits (n <= 64; more is an error) as the low bits of the result.
    ///
    /// Eight bytes are loaded at once where the input has them (every read but the last
    /// few of a chunk); the byte-by-byte path reads the tail.
    #[inline]
    pub fn read_bits(&mut self, n: u8) -> Result<u64, Truncated> {
        let end = self.pos + n as usize;
        if n > 64 || end > self.bytes.len() * 8 {
            return Err(Truncated);
        }
        if n == 0 {
            return Ok(0);
        }
        let byte = self.pos / 8;
        let off = (self.pos % 8) as u32;
        let Some(word) = self.bytes.get(byte..byte + 8) else {
            return Ok(self.read_bits_slowly(n));
        };
        let word = u64::from_be_bytes(word.try_into().expect("eight bytes"));
        let n32 = u32::from(n);
        let v = if off + n32 <= 64 {
            (word << off) >> (64 - n32)
        } else {
            // The last 1..=7 bits are in the ninth byte, which exists since `end` is
            // within the input.
            let rest = off + n32 - 64;
            let low = (word << off) >> off;
            (low << rest) | u64::from(self.bytes[byte + 8] >> (8 - rest))
        };
        self.pos = end;
        Ok(v)
    }

    /// [`Self::read_bits`] one byte at a time, for reads within the input's last bytes.
    fn read_bits_slowly(&mut self, mut n: u8) -> u64 {
        let mut v = 0u64;
        while n > 0 {
            let byte = self.bytes[self.pos / 8];
            let used = (self.pos % 8) as u8;
            let avail = 8 - used;
            let take = n.min(avail);
            let chunk = (byte >> (avail - take)) & (((1u16 << take) - 1) as u8);
            v = (v << take) | chunk as u64;
            self.pos += take as usize;
            n -= take;
        }
        v
    }

    /// Reads a value written by [`BitWriter::write_uvarint_bits`].
    pub fn read_uvarint_bits(&mut self) -> Result<u64, Truncated> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let more = self.read_bit()?;
            v |= self.read_bits(7)? << shift;
            if !more {
                return Ok(v);
            }
        }
        Err(Truncated)
    }

    /// Reads a varint at a byte boundary (headers only come before any bit data).
    pub fn read_uvarint(&mut self) -> Result<u64, Truncated> {
        debug_assert_eq!(self.pos % 8, 0);
        let (v, used) = read_uvarint(&self.bytes[self.pos / 8..]).ok_or(Truncated)?;
        self.pos += used * 8;
        Ok(v)
    }

    pub fn read_varint(&mut self) -> Result<i64, Truncated> {
        self.read_uvarint().map(unzigzag)
    }
}

pub fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// `(value, bytes used)`, or None when truncated or longer than 10 bytes.
pub fn read_uvarint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn bits_round_trip(items in proptest::collection::vec((any::<u64>(), 1u8..=64), 0..50)) {
            let mut w = BitWriter::new();
            for (v, n) in &items {
                w.write_bits(*v, *n);
                w.write_bit(true);
            }
            let bytes = w.into_bytes();
            let mut r = BitReader::new(&bytes);
            for (v, n) in &items {
                let mask = if *n == 64 { u64::MAX } else { (1u64 << n) - 1 };
                prop_assert_eq!(r.read_bits(*n).unwrap(), v & mask);
                prop_assert!(r.read_bit().unwrap());
            }
        }

        #[test]
        fn reads_at_every_offset_match_bit_by_bit(
            bytes in proptest::collection::vec(any::<u8>(), 0..24),
            skip in 0usize..8,
            widths in proptest::collection::vec(0u8..=64, 0..12),
        ) {
            let total = bytes.len() * 8;
            let mut r = BitReader::new(&bytes);
            let mut pos = 0;
            for _ in 0..skip.min(total) {
                r.read_bit().unwrap();
                pos += 1;
            }
            for n in widths {
                let got = r.read_bits(n);
                if pos + n as usize > total {
                    prop_assert_eq!(got, Err(Truncated));
                    continue;
                }
                let want = (pos..pos + n as usize).fold(0u64, |v, i| {
                    (v << 1) | u64::from(bytes[i / 8] >> (7 - i % 8) & 1)
                });
                prop_assert_eq!(got, Ok(want));
                pos += n as usize;
            }
        }

        #[test]
        fn varints_round_trip(v in any::<i64>()) {
            let mut out = Vec::new();
            put_varint(&mut out, v);
            let (u, used) = read_uvarint(&out).unwrap();
            prop_assert_eq!(used, out.len());
            prop_assert_eq!(unzigzag(u), v);
        }
    }

    #[test]
    fn reading_past_the_end_fails() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.read_bits(8), Ok(0xff));
        assert_eq!(r.read_bit(), Err(Truncated));
        assert_eq!(BitReader::new(&[0x80]).read_uvarint(), Err(Truncated));
    }
}
