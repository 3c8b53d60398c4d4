//! [`Peers`]: the replicas of one shard from `--peers 1=host:port,2=host:port,...`.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};
use crate::types::NodeId;

/// Replica id -> gRPC address, for every replica of a shard (this one included).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Peers(pub BTreeMap<NodeId, String>);

impl Peers {
    /// Parses `id=address` pairs separated by commas; ids are unique positive integers.
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: String| Error::InvalidPeers {
            input: input.to_string(),
            reason,
        };
        let mut map = BTreeMap::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, address) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("`{part}` is not id=host:port")))?;
            let id: NodeId = id
                .trim()
                .parse()
                .map_err(|_| bad(format!("`{id}` is not a replica id")))?;
            if id == 0 {
                return Err(bad("replica ids start at 1".into()));
            }
            let address = address.trim();
            if address.is_empty() {
                return Err(bad(format!("replica {id} has no address")));
            }
            if map.insert(id, address.to_string()).is_some() {
                return Err(bad(format!("replica {id} is listed twice")));
            }
        }
        if map.is_empty() {
            return Err(bad("no replicas".into()));
        }
        Ok(Peers(map))
    }

    /// The replica that bootstraps a new group.
    pub fn lowest(&self) -> Option<NodeId> {
        self.0.keys().next().copied()
    }

    pub fn address(&self, id: NodeId) -> Option<&str> {
        self.0.get(&id).map(String::as_str)
    }
}

impl fmt::Display for Peers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(id, a)| format!("{id}={a}")).collect();
        f.write_str(&parts.join(","))
    }
}

impl std::str::FromStr for Peers {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Peers::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_operator_style_peers() {
        let p = Peers::parse("1=tt-storage-0-0.tt-storage-0:9095, 2=b:9095,3=c:9095").unwrap();
        assert_eq!(p.0.len(), 3);
        assert_eq!(p.address(1), Some("tt-storage-0-0.tt-storage-0:9095"));
        assert_eq!(p.lowest(), Some(1));
        assert_eq!(Peers::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn rejects_malformed_peers() {
        for bad in ["", "a=b:1", "1", "0=a:1", "1=a:1,1=b:2", "1="] {
            assert!(Peers::parse(bad).is_err(), "{bad}");
        }
    }
}
