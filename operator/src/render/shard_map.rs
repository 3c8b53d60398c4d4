//! The shard map: which storage replicas hold which shard, as the scraper, query and
//! alertmanager read it from `/etc/telltale/shard-map.yaml`.

use serde::Serialize;

use crate::naming::Names;

/// The file's content.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ShardMap {
    pub shards: Vec<ShardEntry>,
}

/// One shard and the gRPC addresses of its replicas.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct ShardEntry {
    pub id: u32,
    pub replicas: Vec<String>,
}

impl ShardMap {
    /// The map of a cluster of `shards` shards with `replicas` replicas each.
    /// Shard `i` with `replicas[i]` replicas.
    pub fn new(names: &Names, replicas: &[u32]) -> Self {
        ShardMap {
            shards: (0..replicas.len() as u32)
                .map(|id| ShardEntry {
                    id,
                    replicas: (0..replicas[id as usize])
                        .map(|i| names.storage_address(id, i))
                        .collect(),
                })
                .collect(),
        }
    }

    /// The YAML the components read.
    pub fn to_yaml(&self) -> String {
        // Serializing plain strings and integers cannot fail.
        serde_yaml::to_string(self).unwrap_or_default()
    }
}

/// FNV-1a: a stable hash of configuration text for pod template annotations.
pub fn config_hash(text: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_replica_of_every_shard() {
        let map = ShardMap::new(&Names::new("mc", "ns"), &[3, 3]);
        let yaml = map.to_yaml();
        assert_eq!(map.shards.len(), 2);
        assert_eq!(
            map.shards[1].replicas[2],
            "mc-storage-1-2.mc-storage-1.ns.svc:9095"
        );
        assert!(
            yaml.starts_with(
                "shards:\n- id: 0\n  replicas:\n  - mc-storage-0-0.mc-storage-0.ns.svc:9095\n"
            ),
            "{yaml}"
        );
    }

    #[test]
    fn hash_changes_with_the_text() {
        assert_eq!(config_hash("a"), config_hash("a"));
        assert_ne!(config_hash("a"), config_hash("b"));
        assert_eq!(config_hash("").len(), 16);
    }
}
