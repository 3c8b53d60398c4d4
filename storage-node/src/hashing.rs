//! Hashing on the write path: [`IdMap`], a map keyed by series ids (or by label hashes,
//! which are already uniformly distributed) with a multiply-shift hasher instead of
//! SipHash, and [`label_hash`], the stable 64-bit hash of a canonical label set (the storage
//! contract's, which writers share).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hasher for `u64` keys: one multiplication and a fold. Not DoS-resistant, so only
/// for keys the engine assigns (ids) or derives with a strong hash.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b) ^ self.0.rotate_left(8));
        }
    }

    fn write_u64(&mut self, v: u64) {
        let x = v.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = x ^ (x >> 29);
    }

    fn write_i64(&mut self, v: i64) {
        self.write_u64(v as u64);
    }
}

/// A `HashMap` keyed by a `u64` the engine controls.
pub type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

pub use telltale_storage_api::label_hash;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_map_works_for_sequential_ids() {
        let mut m: IdMap<u64> = IdMap::default();
        for i in 0..10_000 {
            m.insert(i, i * 2);
        }
        assert_eq!(m.get(&4_321), Some(&8_642));
    }
}
