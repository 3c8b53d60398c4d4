//! Byte layouts of the keys and values in each column family. Integers are big-endian
//! so that byte order is numeric order; timestamps and day numbers are i64 with the sign
//! bit flipped, so that byte order is time order for negative values too.
//!
//! ```text
//! series            id:u64                                -> label set (encode_labels)
//! series_by_labels  label set                             -> id:u64
//! postings          day name 0x00 value 0x00 id:u64       -> (empty)
//!                   day 0x00 0x00 id:u64 ("all postings": the series has data that day)
//! raw, m1, m5, h1, d1  day id:u64 start:ts seq:u64           -> uvarint(end - start) ++ chunk
//!                   (a series' native histogram samples: id with its top bit set,
//!                   `histogram_chunk_id`; their chunks are histogram chunks)
//! wal               (unused: the log of releases before the Raft log; kept so that their
//!                   databases open)
//! dirty             tier:u8 window_start:ts               -> (empty)
//! meta              "format_version" -> u32, "next_series_id" -> u64,
//!                   "flushed_seq", "max_ts", "min_ts", "rollup_seq" -> u64 / i64,
//!                   "flushed_meta" -> the applier's opaque bytes at flushed_seq,
//!                   "sessions" -> the last batch per writer at flushed_seq,
//!                   "m1_until", "m5_until", "h1_until", "d1_until" -> i64,
//!                   "histograms" -> 1 once any native histogram was written,
//!                   "cold/" tier:u8 day:ts -> a cold day's entry (`crate::cold`),
//!                   "coldpostings/" day:ts -> (empty): the day's postings are cold
//! ```
//! `day` is the time partition: `floor(ts / 1 day)`. Every key of a chunk or posting
//! starts with its day, so dropping a day is one range delete, and a query over an hour
//! reads only that day's postings. Chunks never span days. `seq` orders writes of the
//! same timestamp: the chunk with the higher `seq` wins. Label names and values never
//! contain NUL (names by syntax, values by validation) and names are never empty, so
//! postings keys split unambiguously and the empty name is free for "all postings".

use crate::labels::LabelSet;
use crate::tier::Tier;

pub const META_FORMAT_VERSION: &[u8] = b"format_version";
pub const META_NEXT_SERIES_ID: &[u8] = b"next_series_id";
pub const META_FLUSHED_SEQ: &[u8] = b"flushed_seq";
/// Opaque bytes the applier keeps with the flushed state (Raft: last log id, membership).
pub const META_FLUSHED_META: &[u8] = b"flushed_meta";
pub const META_MAX_TS: &[u8] = b"max_ts";
pub const META_MIN_TS: &[u8] = b"min_ts";
pub const META_ROLLUP_SEQ: &[u8] = b"rollup_seq";

/// The meta key of how far rollup tier `tier` is complete (raw: none).
pub fn until_key(tier: Tier) -> Option<&'static [u8]> {
    match tier {
        Tier::Raw => None,
        Tier::Minute => Some(b"m1_until"),
        Tier::FiveMinutes => Some(b"m5_until"),
        Tier::Hour => Some(b"h1_until"),
        Tier::Day => Some(b"d1_until"),
    }
}
/// The last batch applied per writer, as of `flushed_seq` (`engine::sessions`).
pub const META_SESSIONS: &[u8] = b"sessions";
/// Prefix of the tombstones of `delete_series` (`engine::tombstones`): one key per
/// series, `tombstone/` + id (8 bytes big-endian), its value the deleted intervals as
/// pairs of big-endian i64 (inclusive bounds).
pub const META_TOMBSTONE_PREFIX: &[u8] = b"tombstone/";
/// Prefix of the cold days (`crate::cold`): `cold/` + tier id + day (8 bytes, time
/// order), each holding its [`crate::cold::ColdEntry`].
pub const META_COLD_PREFIX: &[u8] = b"cold/";
/// Prefix of the days whose local postings went with their last local chunks
/// (`coldpostings/` + day): their postings are read from the cold objects.
pub const META_COLD_POSTINGS_PREFIX: &[u8] = b"coldpostings/";
/// Set (to 1) by the first write of a native histogram sample: until then reads do not
/// look for histogram chunks.
pub const META_HISTOGRAMS: &[u8] = b"histograms";
/// The exemplar ring as of `flushed_seq` (`crate::exemplars`), written when it changed.
pub const META_EXEMPLARS: &[u8] = b"exemplars";
/// Version of the layout described above.
pub const FORMAT_VERSION: u32 = 2;

/// The top bit of a chunk key's series id: the chunks of the series' native histogram
/// samples (series ids never reach it).
pub const HISTOGRAM_ID_BIT: u64 = 1 << 63;

/// The id under which the native histogram chunks of series `id` are stored.
pub fn histogram_chunk_id(id: u64) -> u64 {
    id | HISTOGRAM_ID_BIT
}

/// Milliseconds in a time partition.
pub const DAY_MS: i64 = 86_400_000;

const SIGN: u64 = 1 << 63;

/// The partition holding `ts`.
pub fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY_MS)
}

/// A timestamp (or day number) as 8 bytes whose byte order is time order.
pub fn encode_ts(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ SIGN).to_be_bytes()
}

pub fn decode_ts(bytes: [u8; 8]) -> i64 {
    (u64::from_be_bytes(bytes) ^ SIGN) as i64
}

pub fn encode_id(id: u64) -> [u8; 8] {
    id.to_be_bytes()
}

pub fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// The key of series `id`'s tombstones.
pub fn tombstone_key(id: u64) -> Vec<u8> {
    let mut key = META_TOMBSTONE_PREFIX.to_vec();
    key.extend_from_slice(&encode_id(id));
    key
}

/// Deleted intervals as a tombstone's value.
pub fn encode_intervals(intervals: &[(i64, i64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(intervals.len() * 16);
    for (lo, hi) in intervals {
        out.extend_from_slice(&lo.to_be_bytes());
        out.extend_from_slice(&hi.to_be_bytes());
    }
    out
}

pub fn decode_intervals(bytes: &[u8]) -> Option<Vec<(i64, i64)>> {
    if !bytes.len().is_multiple_of(16) {
        return None;
    }
    bytes
        .chunks_exact(16)
        .map(|c| {
            let lo = i64::from_be_bytes(c[..8].try_into().ok()?);
            let hi = i64::from_be_bytes(c[8..].try_into().ok()?);
            Some((lo, hi))
        })
        .collect()
}

/// `day`: the first key of a partition in a chunk or postings column family.
pub fn day_prefix(day: i64) -> [u8; 8] {
    encode_ts(day)
}

/// `day ++ id`: the prefix of every chunk of one series in one partition.
pub fn chunk_prefix(day: i64, id: u64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&encode_ts(day));
    key[8..].copy_from_slice(&encode_id(id));
    key
}

pub fn chunk_key(day: i64, id: u64, start: i64, seq: u64) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..16].copy_from_slice(&chunk_prefix(day, id));
    key[16..24].copy_from_slice(&encode_ts(start));
    key[24..].copy_from_slice(&encode_id(seq));
    key
}

/// `(day, id, start, seq)` of a chunk key.
pub fn decode_chunk_key(key: &[u8]) -> Option<(i64, u64, i64, u64)> {
    let key: &[u8; 32] = key.try_into().ok()?;
    Some((
        decode_ts(key[..8].try_into().ok()?),
        decode_u64(&key[8..16])?,
        decode_ts(key[16..24].try_into().ok()?),
        decode_u64(&key[24..])?,
    ))
}

/// `day name \0`: the prefix of every posting of label `name` in a partition.
pub fn posting_name_prefix(day: i64, name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 9);
    key.extend_from_slice(&encode_ts(day));
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key
}

/// `day name \0 value \0`: the prefix of the postings of `name="value"`.
pub fn posting_prefix(day: i64, name: &str, value: &str) -> Vec<u8> {
    let mut key = posting_name_prefix(day, name);
    key.extend_from_slice(value.as_bytes());
    key.push(0);
    key
}

pub fn posting_key(day: i64, name: &str, value: &str, id: u64) -> Vec<u8> {
    let mut key = posting_prefix(day, name, value);
    key.extend_from_slice(&encode_id(id));
    key
}

/// The "all postings" key of series `id` in partition `day`.
pub fn all_postings_key(day: i64, id: u64) -> Vec<u8> {
    posting_key(day, "", "", id)
}

/// `(day, name, value, id)` of a postings key.
pub fn decode_posting_key(key: &[u8]) -> Option<(i64, &str, &str, u64)> {
    let (day, rest) = key.split_first_chunk::<8>()?;
    let (rest, id) = rest.split_at_checked(rest.len().checked_sub(8)?)?;
    let rest = rest.strip_suffix(&[0])?;
    let sep = rest.iter().position(|b| *b == 0)?;
    let name = std::str::from_utf8(&rest[..sep]).ok()?;
    let value = std::str::from_utf8(&rest[sep + 1..]).ok()?;
    Some((decode_ts(*day), name, value, decode_u64(id)?))
}

/// The meta key of a cold day.
pub fn cold_key(tier: u8, day: i64) -> Vec<u8> {
    let mut key = META_COLD_PREFIX.to_vec();
    key.push(tier);
    key.extend_from_slice(&encode_ts(day));
    key
}

/// The meta key of a day whose postings are only in cold objects.
pub fn cold_postings_key(day: i64) -> Vec<u8> {
    let mut key = META_COLD_POSTINGS_PREFIX.to_vec();
    key.extend_from_slice(&encode_ts(day));
    key
}

/// `(tier, day)` of a cold day's meta key.
pub fn decode_cold_key(key: &[u8]) -> Option<(u8, i64)> {
    let rest = key.strip_prefix(META_COLD_PREFIX)?;
    let (tier, day) = rest.split_first()?;
    Some((*tier, decode_ts(day.try_into().ok()?)))
}

/// `tier ++ window start`.
pub fn dirty_key(tier: u8, start: i64) -> [u8; 9] {
    let mut key = [0u8; 9];
    key[0] = tier;
    key[1..].copy_from_slice(&encode_ts(start));
    key
}

pub fn decode_dirty_key(key: &[u8]) -> Option<(u8, i64)> {
    let (tier, rest) = key.split_first()?;
    Some((*tier, decode_ts(rest.try_into().ok()?)))
}

/// The canonical bytes of a label set (the `series_by_labels` key and `series` value).
pub fn encode_labels(labels: &LabelSet) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, v) in labels.iter() {
        for s in [n, v] {
            out.extend_from_slice(&(s.len() as u32).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

/// Decodes [`encode_labels`]; `None` when the bytes are not a canonical label set.
pub fn decode_labels(mut bytes: &[u8]) -> Option<LabelSet> {
    let mut take = || -> Option<String> {
        let (len, rest) = bytes.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        let (s, rest) = rest.split_at_checked(len)?;
        bytes = rest;
        String::from_utf8(s.to_vec()).ok()
    };
    let mut pairs = Vec::new();
    while let Some(name) = take() {
        pairs.push((name, take()?));
    }
    if !bytes.is_empty() {
        return None;
    }
    LabelSet::from_canonical(pairs)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use telltale_storage_api::Label;

    use super::*;

    #[test]
    fn timestamps_sort_bytewise_across_zero() {
        let ts = [
            i64::MIN,
            i64::MIN + 1,
            -1_000,
            -1,
            0,
            1,
            1_000,
            i64::MAX - 1,
            i64::MAX,
        ];
        for w in ts.windows(2) {
            assert!(encode_ts(w[0]) < encode_ts(w[1]), "{} vs {}", w[0], w[1]);
        }
        for t in ts {
            assert_eq!(decode_ts(encode_ts(t)), t);
        }
        assert_eq!(day_of(-1), -1);
        assert_eq!(day_of(DAY_MS), 1);
    }

    proptest! {
        #[test]
        fn chunk_keys_order_by_day_series_start_seq(
            a in (-3i64..3, 0u64..4, any::<i64>(), 0u64..3),
            b in (-3i64..3, 0u64..4, any::<i64>(), 0u64..3),
        ) {
            let (ka, kb) = (chunk_key(a.0, a.1, a.2, a.3), chunk_key(b.0, b.1, b.2, b.3));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(decode_chunk_key(&ka), Some(a));
            prop_assert!(ka.starts_with(&chunk_prefix(a.0, a.1)));
            prop_assert!(ka.starts_with(&day_prefix(a.0)));
        }

        #[test]
        fn label_sets_round_trip(
            pairs in prop::collection::btree_map("[a-z_]{1,6}", "[^\u{0}]{1,8}", 0..5),
        ) {
            let mut labels = vec![Label::new("__name__", "m")];
            labels.extend(
                pairs.into_iter().filter(|(n, _)| n != "__name__").map(|(n, v)| Label::new(n, v)),
            );
            let set = LabelSet::from_labels(&labels).unwrap();
            prop_assert_eq!(decode_labels(&encode_labels(&set)), Some(set));
        }
    }

    #[test]
    fn posting_keys_round_trip_and_group_by_day_then_value() {
        let key = posting_key(7, "job", "node", 42);
        assert_eq!(decode_posting_key(&key), Some((7, "job", "node", 42)));
        assert!(key.starts_with(&posting_prefix(7, "job", "node")));
        assert!(key.starts_with(&posting_name_prefix(7, "job")));
        assert!(key.starts_with(&day_prefix(7)));
        assert!(!posting_key(8, "job", "node", 1).starts_with(&day_prefix(7)));
        assert!(!posting_key(7, "job2", "x", 1).starts_with(&posting_name_prefix(7, "job")));
        assert!(!posting_key(7, "job", "ab", 1).starts_with(&posting_prefix(7, "job", "a")));
        assert!(posting_key(7, "job", "a", 255) < posting_key(7, "job", "a", 256));
        assert_eq!(
            decode_posting_key(&all_postings_key(3, 9)),
            Some((3, "", "", 9))
        );
        assert_eq!(decode_posting_key(b"short"), None);
    }

    #[test]
    fn dirty_keys_round_trip() {
        assert_eq!(decode_dirty_key(&dirty_key(1, -5)), Some((1, -5)));
    }
}
