//! The Raft type configuration: what a log entry carries ([`Request`]), what applying it
//! answers ([`Response`]), and [`SmMeta`], the state machine's own bookkeeping that the
//! engine keeps with its applied state (last applied log id and last membership; the last
//! batch of every writer, which makes retried batches idempotent, is the engine's own).

use std::collections::BTreeMap;

use openraft::{BasicNode, CommittedLeaderId, LogId, StoredMembership};
use serde::{Deserialize, Serialize};
use telltale_storage_api::BatchId;

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
    /// The engine's log record (`telltale_storage::Engine::prepare`): series the shard
    /// stores named by id, new ones by labels. Entries of earlier releases name every
    /// series by labels; they are applied the same way. Encoded as bytes, in one copy
    /// (the same encoding bincode gives a sequence of `u8`, so older logs read back).
    #[serde(with = "serde_bytes")]
    pub command: Vec<u8>,
}

impl Request {
    /// The writer's batch identity, if the writer gave one.
    pub fn batch(&self) -> Option<BatchId> {
        (self.client_id != 0).then_some(BatchId {
            writer: self.client_id,
            seq: self.batch_seq,
        })
    }
}

/// What applying an entry answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Samples written (0 for a duplicate batch).
    pub samples: u64,
    /// The batch had been applied before: nothing changed.
    pub duplicate: bool,
    /// Exemplars the exemplar store took. (Answers are not kept in the log.)
    pub exemplars: u64,
}

/// The state machine's own state, stored as the engine's opaque `meta`. Only the leader
/// of the last applied entry is stored: its index is the engine's applied sequence
/// number, so the bytes change only with a new term or membership, not per entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SmMeta {
    pub last_applied: Option<LogId<NodeId>>,
    pub membership: StoredMembership<NodeId, BasicNode>,
}

/// What the engine stores: the leader of the last applied entry and the membership.
#[derive(Debug, Serialize, Deserialize)]
struct StoredMeta {
    leader_id: Option<CommittedLeaderId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
}

/// The metadata of releases that kept the writers' last batches here, encoded with
/// every entry.
#[derive(Debug, Serialize, Deserialize)]
struct MetaV1 {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
    clients: BTreeMap<u64, (u64, u64)>,
}

/// First byte of [`StoredMeta`]'s encoding; the older encoding starts with an option tag
/// (0 or 1).
const META_V2: u8 = 0xA2;

/// Writer id -> (last batch, log index), as [`MetaV1`] kept them.
pub type LegacySessions = BTreeMap<u64, (u64, u64)>;

impl SmMeta {
    pub fn encode(&self) -> Vec<u8> {
        let stored = StoredMeta {
            leader_id: self.last_applied.map(|l| l.leader_id),
            membership: self.membership.clone(),
        };
        let mut out = vec![META_V2];
        out.extend(encode(&stored).unwrap_or_default());
        out
    }

    /// Decodes the metadata the engine holds at `applied_seq`. Empty bytes (a fresh
    /// engine) decode to the empty state; metadata of an earlier release also gives the
    /// writers' last batches it kept, for the engine to take over.
    pub fn decode(bytes: &[u8], applied_seq: u64) -> Result<(Self, LegacySessions)> {
        match bytes.split_first() {
            None => Ok((SmMeta::default(), LegacySessions::new())),
            Some((&META_V2, rest)) => {
                let stored: StoredMeta = decode(rest)?;
                let meta = SmMeta {
                    last_applied: stored
                        .leader_id
                        .map(|leader| LogId::new(leader, applied_seq)),
                    membership: stored.membership,
                };
                Ok((meta, LegacySessions::new()))
            }
            Some(_) => {
                let old: MetaV1 = decode(bytes)?;
                let meta = SmMeta {
                    last_applied: old.last_applied,
                    membership: old.membership,
                };
                Ok((meta, old.clients))
            }
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

/// The most a decoded value may claim (lengths of its strings and sequences, summed):
/// above any real message (a Raft message is at most 256 MiB), far below what a damaged
/// or hostile length prefix would make the allocator try.
const DECODE_LIMIT: usize = 1 << 30;

/// Decodes what [`encode`] wrote; a length beyond [`DECODE_LIMIT`] is an error, not an
/// allocation.
pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T> {
    bincode::serde::decode_from_slice(bytes, config().with_limit::<DECODE_LIMIT>())
        .map(|(v, _)| v)
        .map_err(|e| Error::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, Membership};

    #[test]
    fn meta_round_trips_with_the_index_from_the_engine() {
        let m = SmMeta {
            last_applied: Some(LogId::new(CommittedLeaderId::new(3, 1), 42)),
            membership: StoredMembership::new(
                Some(LogId::new(CommittedLeaderId::new(1, 1), 1)),
                Membership::new(vec![std::collections::BTreeSet::from([1u64])], None),
            ),
        };
        let bytes = m.encode();
        let (back, legacy) = SmMeta::decode(&bytes, 42).unwrap();
        assert_eq!(back, m);
        assert!(legacy.is_empty());
        // The same bytes stand for every later entry of the same term.
        let (later, _) = SmMeta::decode(&bytes, 50).unwrap();
        assert_eq!(later.last_applied.unwrap().index, 50);
        assert_eq!(SmMeta::decode(&[], 0).unwrap().0, SmMeta::default());
    }

    #[test]
    fn metadata_of_the_earlier_release_decodes_with_its_writers() {
        let old = MetaV1 {
            last_applied: Some(LogId::new(CommittedLeaderId::new(2, 1), 7)),
            membership: StoredMembership::default(),
            clients: BTreeMap::from([(9, (4, 6))]),
        };
        let (meta, legacy) = SmMeta::decode(&encode(&old).unwrap(), 7).unwrap();
        assert_eq!(meta.last_applied, old.last_applied);
        assert_eq!(legacy, old.clients);
        assert!(SmMeta::decode(&[META_V2, 0xff], 1).is_err());
    }

    #[test]
    fn requests_round_trip() {
        let r = Request {
            client_id: 9,
            batch_seq: 10,
            command: vec![1, 2, 3],
        };
        assert_eq!(decode::<Request>(&encode(&r).unwrap()).unwrap(), r);
        assert_eq!(r.batch(), Some(BatchId { writer: 9, seq: 10 }));
        assert_eq!(Request { client_id: 0, ..r }.batch(), None);
    }

    #[test]
    fn requests_encode_as_the_earlier_release_wrote_them() {
        /// `Request` before its command was encoded as bytes.
        #[derive(Serialize)]
        struct Earlier {
            client_id: u64,
            batch_seq: u64,
            command: Vec<u8>,
        }
        let command: Vec<u8> = (0..=255).chain(0..300).map(|b| b as u8).collect();
        let earlier = encode(&Earlier {
            client_id: 300,
            batch_seq: 7,
            command: command.clone(),
        })
        .unwrap();
        let now = Request {
            client_id: 300,
            batch_seq: 7,
            command,
        };
        assert_eq!(encode(&now).unwrap(), earlier);
        assert_eq!(decode::<Request>(&earlier).unwrap(), now);
    }

    proptest::proptest! {
        /// What a peer sends over the Raft service is decoded from any bytes without a
        /// panic or an outsized allocation: an error, which the service answers as
        /// `INVALID_ARGUMENT`.
        #[test]
        fn raft_messages_decode_from_any_bytes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
            let _ = decode::<AppendEntriesRequest<TypeConfig>>(&bytes);
            let _ = decode::<VoteRequest<NodeId>>(&bytes);
            let _ = decode::<InstallSnapshotRequest<TypeConfig>>(&bytes);
            let _ = decode::<Request>(&bytes);
            let _ = SmMeta::decode(&bytes, 1);
        }

        /// Valid messages with bytes flipped or cut decode to an error or to some value,
        /// never a panic.
        #[test]
        fn damaged_requests_are_errors_not_panics(
            command in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            flip in 0usize..128,
            cut in 0usize..128,
        ) {
            let mut bytes = encode(&Request { client_id: 1, batch_seq: 2, command }).unwrap();
            if !bytes.is_empty() {
                let i = flip % bytes.len();
                bytes[i] ^= 0xa5;
                bytes.truncate(cut.min(bytes.len()));
            }
            let _ = decode::<Request>(&bytes);
        }
    }
}
