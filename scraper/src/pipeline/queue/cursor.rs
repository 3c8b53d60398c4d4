//! The replay cursor: the position of the next record to replay, persisted in a small
//! file `cursor` (segment: u64 LE | offset: u64 LE | crc32 of both: u32 LE), replaced
//! atomically (write a temporary file, fsync, rename, fsync the directory). The file
//! `inflight` has the same layout: the end of the group of records being replayed.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Where replay resumes: a record offset in a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
}

const FILE: &str = "cursor";
const INFLIGHT: &str = "inflight";

/// Encodes a position (pure).
pub fn encode(p: Position) -> [u8; 20] {
    let mut out = [0u8; 20];
    out[..8].copy_from_slice(&p.segment.to_le_bytes());
    out[8..16].copy_from_slice(&p.offset.to_le_bytes());
    let crc = crc32fast::hash(&out[..16]);
    out[16..].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a position; `None` for anything else (pure).
pub fn decode(bytes: &[u8]) -> Option<Position> {
    if bytes.len() != 20 {
        return None;
    }
    let crc = u32::from_le_bytes(bytes[16..20].try_into().ok()?);
    if crc32fast::hash(&bytes[..16]) != crc {
        return None;
    }
    Some(Position {
        segment: u64::from_le_bytes(bytes[..8].try_into().ok()?),
        offset: u64::from_le_bytes(bytes[8..16].try_into().ok()?),
    })
}

/// The persisted position, `None` when there is none (or it is unreadable).
pub fn load(dir: &Path) -> Option<Position> {
    fs::read(dir.join(FILE)).ok().and_then(|b| decode(&b))
}

/// Persists `p` durably.
pub fn store(dir: &Path, p: Position) -> std::io::Result<()> {
    replace(dir, FILE, &encode(p))
}

/// The end of the last group of records whose replay began, `None` when there is none.
pub fn load_inflight(dir: &Path) -> Option<Position> {
    fs::read(dir.join(INFLIGHT)).ok().and_then(|b| decode(&b))
}

/// Persists the end of the group about to be replayed, durably, before it is sent.
pub fn store_inflight(dir: &Path, end: Position) -> std::io::Result<()> {
    replace(dir, INFLIGHT, &encode(end))
}

/// Replaces the file `name` in `dir` by `bytes` atomically and durably.
pub fn replace(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_data()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

/// Makes renames, creations and deletions in `dir` durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_garbage() {
        let p = Position {
            segment: 3,
            offset: 1234,
        };
        assert_eq!(decode(&encode(p)), Some(p));
        let mut bad = encode(p);
        bad[0] ^= 1;
        assert_eq!(decode(&bad), None);
        assert_eq!(decode(b"short"), None);
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()), None);
        store(dir.path(), p).unwrap();
        assert_eq!(load(dir.path()), Some(p));
        assert_eq!(load_inflight(dir.path()), None);
        store_inflight(
            dir.path(),
            Position {
                segment: 4,
                offset: 8,
            },
        )
        .unwrap();
        assert_eq!(load(dir.path()), Some(p));
        assert_eq!(
            load_inflight(dir.path()),
            Some(Position {
                segment: 4,
                offset: 8
            })
        );
    }
}
