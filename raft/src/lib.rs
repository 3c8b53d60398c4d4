//! Replicated, sharded storage for Telltale: each shard is a Raft group ([openraft]) of
//! storage replicas, and [`ShardedStorage`] routes series to shards by a consistent hash.
//!
//! ```text
//!  ShardedStorage --hash(labels)--> shard --Write(batch id)--> leader replica
//!      leader: Raft log (RocksDB, raft-log/) --quorum commit--> StateMachine
//!      StateMachine: Engine::apply(log index, command, SmMeta)  (engine in sm/<gen>/)
//!      followers behind the purged log <-- snapshot = engine checkpoint packed in a file
//!  reads: every shard concurrently (leader, or any replica with follower_reads), merged
//! ```
//!
//! - [`Replica`] runs one member: [`LogStore`], [`StateMachine`] over the engine, the
//!   `telltale.raft.v1.Raft` service and the storage service ([`ReplicaStorage`]) on one
//!   listener, and the bootstrap of a new group by the lowest replica id.
//! - [`ShardedStorage`] implements `SampleWriter` and `SampleReader` over a [`ShardMap`].
//! - [`Peers`] parses `--peers`; [`ShardMap`] parses `--shard-map` files and strings.

/// Snapshot files: a checkpoint directory packed file by file.
pub mod archive;
/// The crate's error type.
pub mod error;
/// The Raft log in RocksDB.
pub mod log_store;
/// Loopback ports for local replicas whose address outlives their process.
pub mod loopback;
/// Merging the answers of several shards.
pub mod merge;
/// Self-metrics of replicas and of the sharded client.
pub mod metrics;
/// openraft's transport over gRPC.
pub mod network;
/// The replicas of one shard from `--peers`.
pub mod peers;
/// The Raft and admin gRPC service.
pub mod raft_service;
/// One replica: engine, log, Raft, services, bootstrap.
pub mod replica;
/// Series to shard routing and the shard map.
pub mod shard_map;
/// The sharded, replicated storage client.
pub mod sharded;
/// The engine as the Raft state machine, snapshots and their installation.
pub mod state_machine;
/// The storage gRPC service of a replica.
pub mod storage_service;
/// The Raft type configuration and the state machine's metadata.
pub mod types;

/// Types and service stubs generated from `raft.proto`.
pub mod pb {
    tonic::include_proto!("telltale.raft.v1");
}

pub use error::{Error, Result};
pub use log_store::LogStore;
pub use peers::Peers;
pub use replica::{RaftOptions, Replica, ReplicaConfig};
pub use shard_map::{Shard, ShardMap};
pub use sharded::{ShardedOptions, ShardedStorage};
pub use state_machine::{SharedEngine, StateMachine};
pub use storage_service::ReplicaStorage;
