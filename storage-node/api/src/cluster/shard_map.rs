//! [`ShardMap`]: the shards of a cluster and the replicas of each, and the routing of a
//! series to a shard: a jump consistent hash (Lamping & Veach) of a fixed-seed xxh3 of
//! its sorted label set. Growing from n to n+1 shards sends only 1/(n+1) of the series
//! to the new shard; data already written stays where it is (reads merge every shard).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Label;
use crate::error::{Error, Result};

/// The seed of the routing hash; changing it would re-route every series.
pub const ROUTING_SEED: u64 = 0x7e11_7a1e_5eed_0001;

/// One shard: its id and the gRPC addresses of its replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub id: u32,
    pub replicas: Vec<String>,
}

/// Every shard, sorted by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardMap {
    pub shards: Vec<Shard>,
}

impl ShardMap {
    /// Checks and sorts: at least one shard, unique ids, each with a replica.
    pub fn new(mut shards: Vec<Shard>) -> Result<Self> {
        if shards.is_empty() {
            return Err(Error::InvalidShardMap("no shards".into()));
        }
        shards.sort_by_key(|s| s.id);
        for pair in shards.windows(2) {
            if pair[0].id == pair[1].id {
                return Err(Error::InvalidShardMap(format!(
                    "shard {} is listed twice",
                    pair[0].id
                )));
            }
        }
        for s in &mut shards {
            s.replicas.retain(|r| !r.trim().is_empty());
            if s.replicas.is_empty() {
                return Err(Error::InvalidShardMap(format!(
                    "shard {} has no replicas",
                    s.id
                )));
            }
        }
        Ok(ShardMap { shards })
    }

    /// Parses `0=a:1,b:2,c:3;1=d:4,e:5,f:6`.
    pub fn parse(input: &str) -> Result<Self> {
        let mut shards = Vec::new();
        for part in input.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, replicas) = part.split_once('=').ok_or_else(|| {
                Error::InvalidShardMap(format!("`{part}` is not shard=host:port,..."))
            })?;
            let id = id
                .trim()
                .parse()
                .map_err(|_| Error::InvalidShardMap(format!("`{id}` is not a shard id")))?;
            let replicas = replicas.split(',').map(|r| r.trim().to_string()).collect();
            shards.push(Shard { id, replicas });
        }
        ShardMap::new(shards)
    }

    /// Parses YAML `shards: [{id: 0, replicas: ["host:port", ...]}, ...]`.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let map: ShardMap =
            serde_yaml::from_str(text).map_err(|e| Error::InvalidShardMap(e.to_string()))?;
        ShardMap::new(map.shards)
    }

    /// Reads a YAML shard map file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            context: format!("reading shard map {}", path.display()),
            source: e,
        })?;
        ShardMap::from_yaml(&text)
            .map_err(|e| Error::InvalidShardMap(format!("{}: {e}", path.display())))
    }

    /// The same map as YAML.
    pub fn to_yaml(&self) -> String {
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// The shard a series with these labels is written to.
    pub fn shard_for(&self, labels: &[Label]) -> &Shard {
        let bucket = jump_hash(series_hash(labels), self.shards.len() as u32);
        &self.shards[bucket as usize]
    }
}

/// A hash of the label set that does not depend on the labels' order.
pub fn series_hash(labels: &[Label]) -> u64 {
    let mut sorted: Vec<&Label> = labels.iter().collect();
    sorted.sort_by(|a, b| (&a.name, &a.value).cmp(&(&b.name, &b.value)));
    let mut bytes = Vec::with_capacity(labels.len() * 24);
    for l in sorted {
        bytes.extend_from_slice(l.name.as_bytes());
        bytes.push(0xff);
        bytes.extend_from_slice(l.value.as_bytes());
        bytes.push(0xfe);
    }
    xxhash_rust::xxh3::xxh3_64_with_seed(&bytes, ROUTING_SEED)
}

/// Jump consistent hash: a bucket in `0..buckets` (0 when there are none).
pub fn jump_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j) = (-1i64, 0i64);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = (((b + 1) as f64) * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b.max(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(i: usize) -> Vec<Label> {
        vec![
            Label::new("__name__", "m"),
            Label::new("instance", format!("host-{i}")),
        ]
    }

    #[test]
    fn parses_strings_and_yaml_alike() {
        let a = ShardMap::parse("1=d:4,e:5;0=a:1,b:2,c:3").unwrap();
        assert_eq!(a.shards[0].id, 0);
        assert_eq!(a.shards[0].replicas, vec!["a:1", "b:2", "c:3"]);
        let b = ShardMap::from_yaml(
            "shards:\n  - id: 0\n    replicas: [a:1, b:2, c:3]\n  - id: 1\n    replicas: [\"d:4\", \"e:5\"]\n",
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(ShardMap::from_yaml(&a.to_yaml()).unwrap(), a);
    }

    #[test]
    fn rejects_bad_maps() {
        for bad in ["", "x=a:1", "0=", "0=a:1;0=b:2", "0"] {
            assert!(ShardMap::parse(bad).is_err(), "{bad}");
        }
        assert!(ShardMap::from_yaml("shards: 3").is_err());
    }

    #[test]
    fn routing_ignores_label_order_and_spreads_series() {
        let map = ShardMap::parse("0=a;1=b;2=c").unwrap();
        let mut l = labels(1);
        let first = map.shard_for(&l).id;
        l.reverse();
        assert_eq!(map.shard_for(&l).id, first);
        let mut counts = [0usize; 3];
        for i in 0..3000 {
            counts[map.shard_for(&labels(i)).id as usize] += 1;
        }
        assert!(counts.iter().all(|c| *c > 800), "{counts:?}");
    }

    #[test]
    fn adding_a_shard_moves_only_its_share() {
        let n = 10_000u64;
        let moved = (0..n)
            .filter(|k| {
                let h = xxhash_rust::xxh3::xxh3_64(&k.to_le_bytes());
                let (a, b) = (jump_hash(h, 4), jump_hash(h, 5));
                assert!(a == b || b == 4, "a key may only move to the new bucket");
                a != b
            })
            .count();
        assert!((1500..2500).contains(&moved), "{moved}");
        assert_eq!(jump_hash(123, 1), 0);
        assert_eq!(jump_hash(123, 0), 0);
    }
}
