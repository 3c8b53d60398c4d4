//! The persistent identity of queued batches, so storage can de-duplicate a replay that
//! a crash interrupted between storage's acknowledgement and the cursor write.
//!
//! - The queue directory has a writer id, made once (file `writer`: u64 LE | crc32 LE)
//!   and kept for the directory's life.
//! - A queued record's batch number is its position: `segment << 40 | offset`. Positions
//!   only grow (segment numbers are never reused while the cursor file exists), so
//!   batch numbers increase in replay order.
//! - A replayed group of records is sent as the batch number of its last record. Before
//!   a group is first sent its end is persisted (`inflight`, see [`super::cursor`]); until
//!   the cursor moves past it, the same group is re-sent exactly (after a restart too,
//!   whatever the replay limits), and the next group is only formed once the cursor
//!   write is durable. A storage that remembers the last batch number per writer
//!   (`seq <= last`: duplicate) then applies every record exactly once: the group after
//!   the cursor is either wholly applied (its number is the last) or not at all.

use std::path::Path;
use std::time::SystemTime;

use telltale_storage_api::BatchId;

use super::cursor::{self, Position};

const FILE: &str = "writer";

/// Bits of the in-segment offset in a batch number.
const OFFSET_BITS: u32 = 40;

/// The batch number of the record starting at `at` (pure).
pub fn batch_seq(at: Position) -> u64 {
    (at.segment << OFFSET_BITS) | (at.offset & ((1 << OFFSET_BITS) - 1))
}

/// The identity of the record starting at `at`, sent by `writer` (pure).
pub fn batch_id(writer: u64, at: Position) -> BatchId {
    BatchId {
        writer,
        seq: batch_seq(at),
    }
}

fn encode(writer: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..8].copy_from_slice(&writer.to_le_bytes());
    let crc = crc32fast::hash(&out[..8]);
    out[8..].copy_from_slice(&crc.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<u64> {
    if bytes.len() != 12 {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[8..].try_into().ok()?);
    if crc32fast::hash(&bytes[..8]) != crc {
        return None;
    }
    let id = u64::from_le_bytes(bytes[..8].try_into().ok()?);
    (id != 0).then_some(id)
}

/// The writer id of the queue in `dir`, made (and persisted durably) on first use. An
/// unreadable file is replaced: a new id only means storage cannot recognise batches
/// sent under the old one.
pub fn load_or_create_writer(dir: &Path) -> std::io::Result<u64> {
    if let Some(id) = std::fs::read(dir.join(FILE)).ok().and_then(|b| decode(&b)) {
        return Ok(id);
    }
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut seed = Vec::new();
    seed.extend(nanos.to_le_bytes());
    seed.extend(std::process::id().to_le_bytes());
    seed.extend(dir.to_string_lossy().as_bytes());
    let id = xxhash_rust::xxh3::xxh3_64(&seed).max(1);
    cursor::replace(dir, FILE, &encode(id))?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_numbers_grow_with_the_position() {
        let p = |segment, offset| Position { segment, offset };
        let order = [p(1, 8), p(1, 4000), p(1, (1 << 39) + 5), p(2, 8), p(9, 8)];
        for w in order.windows(2) {
            assert!(batch_seq(w[0]) < batch_seq(w[1]), "{w:?}");
        }
        assert_eq!(batch_id(7, p(2, 8)).seq, (2 << 40) | 8);
    }

    #[test]
    fn the_writer_id_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let id = load_or_create_writer(dir.path()).unwrap();
        assert_ne!(id, 0);
        assert_eq!(load_or_create_writer(dir.path()).unwrap(), id);
        std::fs::write(dir.path().join(FILE), b"garbage").unwrap();
        let again = load_or_create_writer(dir.path()).unwrap();
        assert_ne!(again, 0);
        assert_eq!(load_or_create_writer(dir.path()).unwrap(), again);
        assert_eq!(decode(&encode(42)), Some(42));
        assert_eq!(decode(&encode(0)), None);
    }
}
