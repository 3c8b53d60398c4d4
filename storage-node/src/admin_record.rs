//! The admin log records — `delete_series`, `clean_tombstones` and `cold_moved` — that travel the same
//! way as writes ([`crate::command`]): prepared by the leader, made durable in the Raft
//! log, applied by every replica in log order ([`crate::Engine::apply`]).
//!
//! They are told apart from write records by their first byte: a write record starts
//! with its version (1 or 2), an admin record with a tag of its own (`0xD1`, `0xD2`).
//! Adding them changed nothing in how earlier records decode.
//!
//! ```text
//! delete_series:    0xD1 varint(min_t) varint(max_t) uvarint(n) { uvarint(id - previous id) }
//! clean_tombstones: 0xD2
//! cold_moved:       0xD3 tier:u8 varint(day) cold entry (`crate::cold::ColdEntry::encode`)
//! ```
//!
//! A delete names the series it deletes by id (ids are deterministic across replicas
//! and never reused), resolved from the selectors by the leader when it prepares the
//! record, and one interval already clamped to the data the leader held; so applying it
//! depends on nothing but the record.

use crate::chunk::bits::{put_uvarint, put_varint, read_uvarint, unzigzag};
use crate::cold::ColdEntry;
use crate::error::{Error, Result};
use crate::tier::Tier;

const DELETE_SERIES: u8 = 0xD1;
const CLEAN_TOMBSTONES: u8 = 0xD2;
const COLD_MOVED: u8 = 0xD3;

/// An admin operation as the log carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRecord {
    /// Tombstones over `[min_t, max_t]` for every series in `series` (ascending ids).
    DeleteSeries {
        min_t: i64,
        max_t: i64,
        series: Vec<u64>,
    },
    /// Rewrite the chunks that hold deleted data without it, then drop every tombstone.
    CleanTombstones,
    /// `tier`'s `day` is in object storage as `entry` (uploaded and checked by the
    /// leader): reads go to it and the local copy goes.
    ColdMoved {
        tier: Tier,
        day: i64,
        entry: ColdEntry,
    },
}

impl AdminRecord {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            AdminRecord::DeleteSeries {
                min_t,
                max_t,
                series,
            } => {
                let mut out = Vec::with_capacity(24 + series.len() * 2);
                out.push(DELETE_SERIES);
                put_varint(&mut out, *min_t);
                put_varint(&mut out, *max_t);
                put_uvarint(&mut out, series.len() as u64);
                let mut prev = 0u64;
                for &id in series {
                    put_uvarint(&mut out, id.wrapping_sub(prev));
                    prev = id;
                }
                out
            }
            AdminRecord::CleanTombstones => vec![CLEAN_TOMBSTONES],
            AdminRecord::ColdMoved { tier, day, entry } => {
                let mut out = vec![COLD_MOVED, tier.id()];
                put_varint(&mut out, *day);
                out.extend_from_slice(&entry.encode());
                out
            }
        }
    }

    /// `None` when `bytes` are not an admin record (a write record); an error when they
    /// start like one but do not decode.
    pub fn decode(bytes: &[u8]) -> Option<Result<AdminRecord>> {
        let (&tag, rest) = bytes.split_first()?;
        match tag {
            DELETE_SERIES => Some(decode_delete(rest).ok_or_else(|| corrupt(bytes))),
            CLEAN_TOMBSTONES if rest.is_empty() => Some(Ok(AdminRecord::CleanTombstones)),
            CLEAN_TOMBSTONES => Some(Err(corrupt(bytes))),
            COLD_MOVED => Some(decode_cold_moved(rest).ok_or_else(|| corrupt(bytes))),
            _ => None,
        }
    }
}

fn corrupt(bytes: &[u8]) -> Error {
    Error::Corrupt {
        what: "admin log record",
        detail: format!("{} bytes do not decode", bytes.len()),
    }
}

fn decode_cold_moved(rest: &[u8]) -> Option<AdminRecord> {
    let (&tier, rest) = rest.split_first()?;
    let tier = Tier::from_id(tier)?;
    let (day, used) = read_uvarint(rest)?;
    Some(AdminRecord::ColdMoved {
        tier,
        day: unzigzag(day),
        entry: ColdEntry::decode(&rest[used..])?,
    })
}

fn decode_delete(mut rest: &[u8]) -> Option<AdminRecord> {
    let mut uvarint = || -> Option<u64> {
        let (v, used) = read_uvarint(rest)?;
        rest = &rest[used..];
        Some(v)
    };
    let min_t = unzigzag(uvarint()?);
    let max_t = unzigzag(uvarint()?);
    let n = uvarint()?;
    let mut series = Vec::with_capacity((n as usize).min(1 << 16));
    let mut prev = 0u64;
    for _ in 0..n {
        prev = prev.wrapping_add(uvarint()?);
        series.push(prev);
    }
    rest.is_empty().then_some(AdminRecord::DeleteSeries {
        min_t,
        max_t,
        series,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn delete_records_round_trip(
            min_t in any::<i64>(),
            max_t in any::<i64>(),
            mut series in proptest::collection::vec(any::<u64>(), 0..20),
        ) {
            series.sort_unstable();
            let r = AdminRecord::DeleteSeries { min_t, max_t, series };
            prop_assert_eq!(AdminRecord::decode(&r.encode()).unwrap().unwrap(), r);
        }

        #[test]
        fn cold_moved_records_round_trip(day in any::<i64>(), seq in any::<u64>(), bytes in any::<u64>(), tier in 0u8..5) {
            let tier = Tier::from_id(tier).unwrap();
            let entry = ColdEntry { object: crate::cold::object_name(tier, day, seq), bytes, sha256: [3; 32], seq };
            let r = AdminRecord::ColdMoved { tier, day, entry };
            prop_assert_eq!(AdminRecord::decode(&r.encode()).unwrap().unwrap(), r);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = AdminRecord::decode(&bytes);
        }
    }

    #[test]
    fn write_records_are_not_admin_records() {
        // Versions 1 and 2 of the write record.
        assert!(AdminRecord::decode(&[1, 0]).is_none());
        assert!(AdminRecord::decode(&[2, 0]).is_none());
        assert!(AdminRecord::decode(&[]).is_none());
        let clean = AdminRecord::CleanTombstones.encode();
        assert_eq!(
            AdminRecord::decode(&clean).unwrap().unwrap(),
            AdminRecord::CleanTombstones
        );
        assert!(AdminRecord::decode(&[0xD2, 0]).unwrap().is_err());
        assert!(AdminRecord::decode(&[0xD1, 0]).unwrap().is_err());
    }
}
