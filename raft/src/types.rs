//! The Raft type configuration: what a log entry carries ([`Request`]), what applying it
//! answers ([`Response`]), and [`SmMeta`], the state machine's own bookkeeping that the
//! engine keeps with its applied state (last applied log id, last membership, and the
//! last applied batch of every writer, which makes retried batches idempotent).

use std::collections::BTreeMap;

use openraft::{BasicNode, LogId, StoredMembership};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A replica's id inside its shard's group.
pub type NodeId = u64;

openraft::declare_raft_types!(
    /// The Raft types of a Telltale shard.
    pub TypeConfig:
        D = Request,
        R = Response,
        NodeId = NodeId,
        Node = BasicNode,
        SnapshotData = tokio::fs::File,
);

/// A log entry's application payload: one write batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// The writer's id (0: anonymous, never deduplicated).
    pub client_id: u64,
    /// The writer's batch number, increasing per writer; a batch at or below the last one
    /// applied for the writer is a retry and changes nothing.
    pub batch_seq: u64,
    /// A validated `telltale_storage::WriteCommand`, encoded.
    pub command: Vec<u8>,
}

/// What applying an entry answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Samples written (0 for a duplicate batch).
    pub samples: u64,
    /// The batch had been applied before: nothing changed.
    pub duplicate: bool,
}

/// How many writers the state machine remembers; the least recently active go first.
pub const MAX_REMEMBERED_CLIENTS: usize = 4096;

/// A writer not seen for this many log entries is forgotten.
pub const CLIENT_MEMORY_ENTRIES: u64 = 10_000_000;

/// The state machine's own state, stored as the engine's opaque `meta` with every applied
/// entry, so it is exactly as durable as the samples it describes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SmMeta {
    pub last_applied: Option<LogId<NodeId>>,
    pub membership: StoredMembership<NodeId, BasicNode>,
    /// client id -> (last applied batch_seq, log index it was applied at).
    pub clients: BTreeMap<u64, (u64, u64)>,
}

impl SmMeta {
    pub fn encode(&self) -> Vec<u8> {
        encode(self).unwrap_or_default()
    }

    /// Empty bytes (a fresh engine) decode to the empty state.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Ok(SmMeta::default());
        }
        decode(bytes)
    }

    /// Whether `req` was applied before (a retry of an acknowledged batch).
    pub fn is_duplicate(&self, req: &Request) -> bool {
        req.client_id != 0
            && self
                .clients
                .get(&req.client_id)
                .is_some_and(|(seq, _)| req.batch_seq <= *seq)
    }

    /// Records `req` as applied at log `index`, forgetting writers idle for too long (a
    /// decision from log indexes only, so every replica forgets the same ones).
    pub fn record(&mut self, req: &Request, index: u64) {
        if req.client_id == 0 {
            return;
        }
        self.clients.insert(req.client_id, (req.batch_seq, index));
        self.clients
            .retain(|_, (_, at)| index.saturating_sub(*at) <= CLIENT_MEMORY_ENTRIES);
        while self.clients.len() > MAX_REMEMBERED_CLIENTS {
            let oldest = self
                .clients
                .iter()
                .min_by_key(|(id, (_, at))| (*at, **id))
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => self.clients.remove(&id),
                None => break,
            };
        }
    }
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes any serde value compactly (log entries, RPC messages, metadata).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes what [`encode`] wrote.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    bincode::serde::decode_from_slice(bytes, config())
        .map(|(v, _)| v)
        .map_err(|e| Error::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::CommittedLeaderId;

    fn req(client_id: u64, batch_seq: u64) -> Request {
        Request {
            client_id,
            batch_seq,
            command: vec![1, 2, 3],
        }
    }

    #[test]
    fn meta_round_trips() {
        let mut m = SmMeta {
            last_applied: Some(LogId::new(CommittedLeaderId::new(3, 1), 42)),
            ..SmMeta::default()
        };
        m.record(&req(7, 9), 42);
        let back = SmMeta::decode(&m.encode()).unwrap();
        assert_eq!(back, m);
        assert_eq!(SmMeta::decode(&[]).unwrap(), SmMeta::default());
    }

    #[test]
    fn retried_batches_are_duplicates_and_anonymous_never() {
        let mut m = SmMeta::default();
        assert!(!m.is_duplicate(&req(1, 1)));
        m.record(&req(1, 5), 10);
        assert!(m.is_duplicate(&req(1, 5)));
        assert!(m.is_duplicate(&req(1, 4)));
        assert!(!m.is_duplicate(&req(1, 6)));
        assert!(!m.is_duplicate(&req(2, 1)));
        m.record(&req(0, 1), 11);
        assert!(!m.is_duplicate(&req(0, 1)));
        assert!(!m.clients.contains_key(&0));
    }

    #[test]
    fn idle_and_excess_writers_are_forgotten_deterministically() {
        let mut m = SmMeta::default();
        m.record(&req(1, 1), 1);
        m.record(&req(2, 1), 2 + CLIENT_MEMORY_ENTRIES);
        assert!(!m.clients.contains_key(&1));
        let mut m = SmMeta::default();
        for c in 1..=(MAX_REMEMBERED_CLIENTS as u64 + 2) {
            m.record(&req(c, 1), c);
        }
        assert_eq!(m.clients.len(), MAX_REMEMBERED_CLIENTS);
        assert!(!m.clients.contains_key(&1) && !m.clients.contains_key(&2));
    }

    #[test]
    fn requests_round_trip() {
        let r = req(9, 10);
        assert_eq!(decode::<Request>(&encode(&r).unwrap()).unwrap(), r);
    }
}
