//! The storage node of Telltale: a time-series engine over RocksDB and the gRPC server
//! that exposes it through the storage contract (`telltale-storage-api`).
//!
//! ```text
//!  GrpcStorage (client) --gRPC--> GrpcService --spawn_blocking--> Engine
//!   write: WriteCommand --> log record + index (one synced batch) --> Head (Gorilla)
//!   flush: Head --> raw chunks, one per (day, series)          [background]
//!   rollup: raw --> 1m points --> 1h points                    [background]
//!   retention: drop whole day partitions per tier              [background]
//!   select: day postings --> matchers --> head + chunks merged (raw or a rollup tier)
//! ```
//!
//! - [`Engine`] validates and durably appends samples and answers selects and index
//!   queries with Prometheus matcher semantics ([`matcher::Selector`]); its
//!   [`Engine::apply`] is deterministic, so a Raft log can drive it, and
//!   [`Engine::checkpoint`] is its snapshot.
//! - [`serve`] runs the gRPC service on a listener; [`grpc_service`] gives the service
//!   to callers composing their own tonic server.
//! - Only the private `store` module knows RocksDB (column families and key layouts).

/// Compressed chunks of samples and of rollup points.
pub mod chunk;
/// The write command: the unit applied, logged and (later) replicated.
pub mod command;
/// The engine: open, recovery, write, read, flush, rollup and retention.
pub mod engine;
/// The crate's error type and its mapping to gRPC statuses.
pub mod error;
/// The gRPC service and server.
pub mod grpc;
/// Fast hashing for maps keyed by ids, and the label set hash.
pub mod hashing;
/// The in-memory head of unflushed samples.
pub mod head;
/// The in-memory id <-> label set index.
pub mod index;
/// Validated, canonical label sets.
pub mod labels;
/// Label matchers and selectors with Prometheus semantics.
pub mod matcher;
/// Self-metrics of the engine.
pub mod metrics;
/// Candidate series from an inverted index.
pub mod postings;
/// The RocksDB mapping: column families, key encodings, batches and reads.
mod store;
/// Storage tiers (raw, 1m, 1h) and their retention.
pub mod tier;

pub use command::WriteCommand;
pub use engine::maintenance::Maintenance;
pub use engine::{Engine, EngineOptions};
pub use error::{Error, Result};
pub use grpc::{GrpcService, grpc_service, serve};
pub use tier::{Retention, Tier};
