//! Byte layouts of the keys and values in each column family. Integers are big-endian
//! so that byte order is numeric order.
//!
//! ```text
//! series            id:u64                        -> label set (see encode_labels)
//! series_by_labels  label set                     -> id:u64
//! postings          name 0x00 value 0x00 id:u64   -> (empty)
//! samples           id:u64 ts:u64                 -> f64 bits:u64
//! meta              "next_series_id"              -> u64
//!                   "format_version"              -> u32
//! ```
//! `ts` is the i64 timestamp with its sign bit flipped, so that byte order is time order
//! for negative and positive timestamps alike. A label set is, for each label in name
//! order, `len(name):u32 name len(value):u32 value`. Names and values never contain NUL
//! (names by syntax, values by validation), so postings keys split unambiguously.

use crate::labels::LabelSet;

pub const META_NEXT_SERIES_ID: &[u8] = b"next_series_id";
pub const META_FORMAT_VERSION: &[u8] = b"format_version";
/// Version of the layout described above.
pub const FORMAT_VERSION: u32 = 1;

const SIGN: u64 = 1 << 63;

/// A timestamp as 8 bytes whose byte order is time order.
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

/// `id ++ ts`: all samples of a series are contiguous and in time order.
pub fn sample_key(id: u64, ts: i64) -> [u8; 16] {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&encode_id(id));
    key[8..].copy_from_slice(&encode_ts(ts));
    key
}

/// `(series id, timestamp)` of a sample key.
pub fn decode_sample_key(key: &[u8]) -> Option<(u64, i64)> {
    let key: &[u8; 16] = key.try_into().ok()?;
    let (id, ts) = key.split_at(8);
    Some((decode_u64(id)?, decode_ts(ts.try_into().ok()?)))
}

/// The bits of a sample value; NaN payloads (such as staleness markers) survive.
pub fn encode_value(v: f64) -> [u8; 8] {
    v.to_bits().to_be_bytes()
}

pub fn decode_value(bytes: &[u8]) -> Option<f64> {
    decode_u64(bytes).map(f64::from_bits)
}

/// `name \0` : the prefix of every posting of label `name`.
pub fn posting_name_prefix(name: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + 1);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key
}

/// `name \0 value \0` : the prefix of the postings of `name="value"`.
pub fn posting_prefix(name: &str, value: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(name.len() + value.len() + 10);
    key.extend_from_slice(name.as_bytes());
    key.push(0);
    key.extend_from_slice(value.as_bytes());
    key.push(0);
    key
}

pub fn posting_key(name: &str, value: &str, id: u64) -> Vec<u8> {
    let mut key = posting_prefix(name, value);
    key.extend_from_slice(&encode_id(id));
    key
}

/// `(name, value, id)` of a postings key.
pub fn decode_posting_key(key: &[u8]) -> Option<(&str, &str, u64)> {
    let (rest, id) = key.split_at_checked(key.len().checked_sub(8)?)?;
    let rest = rest.strip_suffix(&[0])?;
    let sep = rest.iter().position(|b| *b == 0)?;
    let name = std::str::from_utf8(&rest[..sep]).ok()?;
    let value = std::str::from_utf8(&rest[sep + 1..]).ok()?;
    Some((name, value, decode_u64(id)?))
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
    }

    proptest! {
        #[test]
        fn sample_keys_order_by_series_then_time(
            a in (0u64..4, any::<i64>()),
            b in (0u64..4, any::<i64>()),
        ) {
            let (ka, kb) = (sample_key(a.0, a.1), sample_key(b.0, b.1));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(decode_sample_key(&ka), Some(a));
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
    fn posting_keys_round_trip_and_group_by_value() {
        let key = posting_key("job", "node", 42);
        assert_eq!(decode_posting_key(&key), Some(("job", "node", 42)));
        assert!(key.starts_with(&posting_prefix("job", "node")));
        assert!(key.starts_with(&posting_name_prefix("job")));
        // "job" postings do not run into "job2" postings, nor "a" into "ab".
        assert!(!posting_key("job2", "x", 1).starts_with(&posting_name_prefix("job")));
        assert!(!posting_key("job", "ab", 1).starts_with(&posting_prefix("job", "a")));
        // Ids within one value are in numeric order.
        assert!(posting_key("job", "a", 255) < posting_key("job", "a", 256));
        assert_eq!(decode_posting_key(b"short"), None);
    }

    #[test]
    fn values_keep_their_bits() {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let back = decode_value(&encode_value(stale)).unwrap();
        assert_eq!(back.to_bits(), stale.to_bits());
        assert_eq!(decode_value(&encode_value(-2.5)), Some(-2.5));
        assert_eq!(decode_value(b"123"), None);
    }

    /// Pins the on-disk bytes: changing them needs a new FORMAT_VERSION and a migration.
    #[test]
    fn format_v1_bytes() {
        assert_eq!(FORMAT_VERSION, 1);
        assert_eq!(
            sample_key(1, -1),
            [
                0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff
            ]
        );
        assert_eq!(
            sample_key(258, 0)[..],
            [0, 0, 0, 0, 0, 0, 1, 2, 0x80, 0, 0, 0, 0, 0, 0, 0][..]
        );
        assert_eq!(encode_value(1.0), [0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(posting_key("a", "b", 3), b"a\0b\0\0\0\0\0\0\0\0\x03");
        let set =
            LabelSet::from_labels(&[Label::new("__name__", "m"), Label::new("j", "xy")]).unwrap();
        assert_eq!(
            encode_labels(&set),
            b"\0\0\0\x08__name__\0\0\0\x01m\0\0\0\x01j\0\0\0\x02xy"
        );
    }

    #[test]
    fn garbage_does_not_decode_as_labels() {
        assert_eq!(decode_labels(&[0, 0, 0, 9, b'a']), None);
        let set = LabelSet::from_labels(&[Label::new("__name__", "m")]).unwrap();
        let mut bytes = encode_labels(&set);
        bytes.push(1);
        assert_eq!(decode_labels(&bytes), None);
    }
}
