//! The cold tier: day partitions past a tier's `cold_after` moved to object storage, and
//! read back through a bounded on-disk cache.
//!
//! ```text
//!  leader (telltale-replica)  export_cold(tier, day) ──▶ object (object.rs) ──▶ upload,
//!      read back and checked ──▶ AdminRecord::ColdMoved through Raft
//!  every replica, applying it: the day's entry in meta; its local chunks (up to the
//!      export's log position) removed; the day's postings too once no tier holds local
//!      data on it
//!  reads: a cold day's chunks and postings come from its object (fetched, checked
//!      against its SHA-256, kept in the cache, least recently used evicted) and from
//!      whatever was written locally since (late samples), merged as any overlap is
//! ```
//!
//! The engine never talks to object storage itself: it fetches through [`ColdStorage`],
//! which the replica implements over the `object_store` crate.

pub mod cache;
pub mod object;

use std::path::Path;

use crate::tier::Tier;

pub use cache::{ColdDays, ObjectCache};
pub use object::{ColdObject, ObjectWriter, Section};

/// Where cold objects live (the replica's object store). Blocking calls: the engine
/// makes them from its blocking threads.
pub trait ColdStorage: Send + Sync + std::fmt::Debug {
    /// Writes object `name` whole to the file `dest`; returns its size.
    fn fetch(&self, name: &str, dest: &Path) -> Result<u64, String>;
    /// Uploads the file `src` as `entry`'s object, then reads it back and checks its
    /// size and SHA-256 against `entry`.
    fn upload_checked(&self, src: &Path, entry: &ColdEntry) -> Result<(), String>;
    /// Deletes object `name` (a missing object is no error).
    fn delete(&self, name: &str) -> Result<(), String>;
}

/// One cold day as the log records it and meta keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColdEntry {
    /// The object's name under the cold location.
    pub object: String,
    pub bytes: u64,
    pub sha256: [u8; 32],
    /// The log position the day was exported at: local raw chunks written up to it are
    /// in the object.
    pub seq: u64,
}

impl ColdEntry {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(48 + self.object.len());
        out.extend_from_slice(&self.bytes.to_be_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.sha256);
        out.extend_from_slice(self.object.as_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<ColdEntry> {
        if bytes.len() < 48 {
            return None;
        }
        Some(ColdEntry {
            bytes: u64::from_be_bytes(bytes[..8].try_into().ok()?),
            seq: u64::from_be_bytes(bytes[8..16].try_into().ok()?),
            sha256: bytes[16..48].try_into().ok()?,
            object: String::from_utf8(bytes[48..].to_vec()).ok()?,
        })
    }
}

/// The object name of `tier`'s `day` exported at `seq`: `<tier>/<day>-<seq>.ttcold`
/// (the replica puts it under its shard's prefix). A new export of the same day (late
/// data) gets a new name, so objects are never overwritten.
pub fn object_name(tier: Tier, day: i64, seq: u64) -> String {
    format!("{}/{day}-{seq}.ttcold", tier.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let e = ColdEntry {
            object: object_name(Tier::Hour, 20_454, 99),
            bytes: 12_345,
            sha256: [7; 32],
            seq: 99,
        };
        assert_eq!(e.object, "1h/20454-99.ttcold");
        assert_eq!(ColdEntry::decode(&e.encode()), Some(e));
        assert_eq!(ColdEntry::decode(&[1, 2, 3]), None);
    }
}
