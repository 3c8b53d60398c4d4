//! The client of a sharded, replicated cluster: [`ShardMap`] routes each series to a shard
//! by a jump hash of its labels, and [`ShardedStorage`] implements the storage traits over
//! every shard's Raft group — writes to each shard's leader (following redirects, retried
//! under a writer id and batch number so a retry changes nothing), reads from every shard
//! concurrently, merged by label set ([`merge`]); admin operations to every shard's leader
//! ([`admin`]). [`membership`] plans a change of a
//! shard's voters and [`reconcile`] carries it out over the Raft admin RPCs.

/// The TSDB admin operations on every shard's leader.
pub mod admin;
/// Planning a change of a shard's voters, one member at a time (pure).
pub mod membership;
/// Merging the answers of several shards.
pub mod merge;
/// Self-metrics of the sharded client.
pub mod metrics;
/// Changing a running shard's voters over gRPC, step by step.
pub mod reconcile;
/// Series to shard routing and the shard map.
pub mod shard_map;
/// The sharded, replicated storage client.
pub mod sharded;

pub use shard_map::{Shard, ShardMap};
pub use sharded::{ShardedOptions, ShardedStorage};
