//! The on-disk format of the queue: segment files of framed records. Pure functions over
//! bytes plus the scan that finds where the valid records of a file end.
//!
//! ```text
//! segment file <seq:020>.seg = header | record*
//!   header = b"TTQS" | version: u32 LE (1)
//!   record = payload length: u32 LE | crc32 (IEEE) of payload: u32 LE | payload
//!   payload = the owner's: protobuf telltale.storage.v1.WriteRequest (DiskQueue's
//!             batches) or a forwarder record (remote_write/forward/record.rs)
//! ```
//!
//! A record is appended with one write and made durable with `fsync` before the batch is
//! acknowledged; a crash can leave a torn tail (a short or corrupt last record), which the
//! scan at open detects by length and CRC and cuts off.

use std::path::{Path, PathBuf};

/// First bytes of every segment file.
pub const MAGIC: &[u8; 4] = b"TTQS";
/// The format version written after the magic.
pub const VERSION: u32 = 1;
/// Bytes before the first record.
pub const HEADER_LEN: u64 = 8;
/// Bytes before each payload.
pub const RECORD_HEADER_LEN: u64 = 8;

/// The header of a new segment file.
pub fn header() -> [u8; 8] {
    let mut h = [0u8; 8];
    h[..4].copy_from_slice(MAGIC);
    h[4..].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Checks a segment header.
pub fn check_header(bytes: &[u8]) -> Result<(), String> {
    if bytes.len() < HEADER_LEN as usize {
        return Err(format!("header of {} bytes is too short", bytes.len()));
    }
    if &bytes[..4] != MAGIC {
        return Err("not a queue segment (bad magic)".into());
    }
    let version = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if version != VERSION {
        return Err(format!("unsupported segment version {version}"));
    }
    Ok(())
}

/// `payload` framed as a record.
pub fn encode_record(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + RECORD_HEADER_LEN as usize);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The record at the start of `bytes`: its payload and total length; `None` when the
/// bytes end before the record does or its CRC does not match (a torn or corrupt record).
pub fn decode_record(bytes: &[u8]) -> Option<(&[u8], usize)> {
    if bytes.len() < RECORD_HEADER_LEN as usize {
        return None;
    }
    let len = u32::from_le_bytes(bytes[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(bytes[4..8].try_into().ok()?);
    let end = (RECORD_HEADER_LEN as usize).checked_add(len)?;
    let payload = bytes.get(RECORD_HEADER_LEN as usize..end)?;
    (crc32fast::hash(payload) == crc).then_some((payload, end))
}

/// The valid records of a whole segment file's bytes: `(offset, length)` of each, and
/// the offset where the valid part ends (the file is cut there when longer).
pub fn scan(bytes: &[u8]) -> Result<(Vec<(u64, u64)>, u64), String> {
    check_header(bytes)?;
    let mut records = Vec::new();
    let mut pos = HEADER_LEN as usize;
    while pos < bytes.len() {
        match decode_record(&bytes[pos..]) {
            Some((_, len)) => {
                records.push((pos as u64, len as u64));
                pos += len;
            }
            None => break,
        }
    }
    Ok((records, pos as u64))
}

/// The file name of segment `seq`.
pub fn file_name(seq: u64) -> String {
    format!("{seq:020}.seg")
}

/// The path of segment `seq` in `dir`.
pub fn path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(file_name(seq))
}

/// The sequence number of a segment file name, `None` for other files.
pub fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn file(payloads: &[&[u8]]) -> Vec<u8> {
        let mut f = header().to_vec();
        for p in payloads {
            f.extend(encode_record(p));
        }
        f
    }

    #[test]
    fn records_round_trip_and_scan() {
        let f = file(&[b"one", b"", b"three"]);
        let (records, end) = scan(&f).unwrap();
        assert_eq!(records, vec![(8, 11), (19, 8), (27, 13)]);
        assert_eq!(end, f.len() as u64);
        let (p, n) = decode_record(&f[27..]).unwrap();
        assert_eq!((p, n), (&b"three"[..], 13));
    }

    #[test]
    fn torn_and_corrupt_tails_are_cut() {
        let f = file(&[b"one", b"two"]);
        for cut in 20..f.len() {
            let (records, end) = scan(&f[..cut]).unwrap();
            assert_eq!(records.len(), 1, "cut at {cut}");
            assert_eq!(end, 19);
        }
        let mut flipped = f.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(scan(&flipped).unwrap().1, 19);
        assert!(scan(b"TTQX\x01\0\0\0").is_err());
        assert!(scan(b"TTQS\x02\0\0\0").is_err());
        assert!(scan(b"TT").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(file_name(7), "00000000000000000007.seg");
        assert_eq!(parse_name("00000000000000000007.seg"), Some(7));
        assert_eq!(parse_name("7.seg"), None);
        assert_eq!(parse_name("cursor"), None);
    }

    proptest! {
        #[test]
        fn scan_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut f = header().to_vec();
            f.extend(bytes);
            let (records, end) = scan(&f).unwrap();
            prop_assert!(end as usize <= f.len());
            prop_assert!(records.iter().all(|(o, l)| o + l <= end));
        }
    }
}
