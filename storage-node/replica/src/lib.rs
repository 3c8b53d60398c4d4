//! One storage replica of Telltale: a member of its shard's Raft group ([openraft]) whose
//! state machine is the storage engine.
//!
//! ```text
//!  client (ShardedStorage, GrpcStorage) --Write(batch id)--> leader replica
//!      leader: Raft log (RocksDB, raft-log/) --quorum commit--> StateMachine
//!      StateMachine: Engine::apply(log index, command, SmMeta)  (engine in sm/<gen>/)
//!      log bounded: every N entries or B bytes a snapshot (engine flush), log purged
//!      followers behind the purged log <-- a checkpoint (hard links) streamed to them
//!  reads: on the leader after a linearizable check, or any replica for follower reads
//! ```
//!
//! - [`Replica`] runs one member: [`LogStore`], [`StateMachine`] over the engine, the
//!   `telltale.raft.v1.Raft` service and the storage service ([`ReplicaStorage`]) on one
//!   listener, and the bootstrap of a new group by the lowest replica id.
//! - `telltale.storage.v1.Admin` ([`admin_service`]): Prometheus's TSDB admin API on the
//!   group — deletes and tombstone cleans are log entries every replica applies;
//!   snapshots are checkpoints of the leader's engine laid out as a data directory.
//! - [`LocalStorage`] is the storage traits over a replica in the same process
//!   (standalone): the same calls as over gRPC, without encoding or sockets.
//! - Changing a running group's voters is planned and carried out by the clients
//!   (`telltale_storage_api::cluster::{membership, reconcile}`) over this replica's
//!   `ChangeMembership` and `Status` calls.
//! - [`restore::become_group_of_one`] makes a restored snapshot the data of a new group.
//! - [`Peers`] parses `--peers`. The clients (`ShardMap`, `ShardedStorage`) live with the
//!   storage contract in `telltale-storage-api`.

/// The TSDB admin API of a replica: delete series and clean tombstones through the
/// log, snapshots of the leader's data.
pub mod admin_service;
/// A checkpoint directory packed file by file into one byte stream.
pub mod archive;
/// The cold tier in object storage: the bucket and the leader's mover.
pub mod cold;
/// Between the storage contract's messages and the engine's read types.
pub mod convert;
/// The crate's error type.
pub mod error;
/// The storage traits over a replica in the same process.
pub mod local;
/// The Raft log's byte bound: the snapshot trigger and the write gate.
pub mod log_bound;
/// The Raft log in RocksDB.
pub mod log_store;
/// Loopback ports for local replicas whose address outlives their process.
pub mod loopback;
/// Self-metrics of a replica.
pub mod metrics;
/// openraft's transport over gRPC.
pub mod network;
/// The replicas of one shard from `--peers`.
pub mod peers;
/// The Raft and admin gRPC service.
pub mod raft_service;
/// One replica: engine, log, Raft, services, bootstrap.
pub mod replica;
/// A data directory restored from a backup made a new group of one.
pub mod restore;
/// Snapshots: the engine flushed, checkpoints made only to send.
pub mod snapshots;
/// The engine as the Raft state machine, snapshots and their installation.
pub mod state_machine;
/// The storage gRPC service of a replica.
pub mod storage_service;
/// Streaming a snapshot to a follower and receiving it.
pub mod transfer;
/// The Raft type configuration and the state machine's metadata.
pub mod types;

pub use error::{Error, Result};
pub use local::LocalStorage;
pub use log_store::LogStore;
pub use peers::Peers;
pub use replica::{DEFAULT_LOG_MAX_BYTES, RaftOptions, Replica, ReplicaConfig};
pub use state_machine::{SharedEngine, StateMachine};
pub use storage_service::ReplicaStorage;
