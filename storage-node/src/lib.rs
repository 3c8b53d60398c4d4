//! The storage node of Telltale: a time-series engine over RocksDB and the gRPC server
//! that exposes it through the storage contract (`telltale-storage-api`).
//!
//! ```text
//!  GrpcStorage (client) --gRPC--> GrpcService --spawn_blocking--> Engine
//!                                                                  |  SeriesIndex (memory)
//!                                                                  v
//!                                       Store (RocksDB: series, series_by_labels,
//!                                              postings, samples, meta)
//! ```
//!
//! - [`Engine`] validates and durably appends samples (one synced write batch per
//!   request: acknowledged means it survives a crash) and answers selects and index
//!   queries with Prometheus matcher semantics ([`matcher::Selector`]).
//! - [`serve`] runs the gRPC service on a listener; [`grpc_service`] gives the service
//!   to callers composing their own tonic server.
//! - Only the private `store` module knows RocksDB (column families and key layouts);
//!   the engine's types do not, so the layout can be replaced (Gorilla chunks,
//!   time-partitioned index, rollups) without touching callers.
//!
//! This is the first, single-node cut: no Raft yet, one key per sample.

/// The engine: open, write path, read paths.
pub mod engine;
/// The crate's error type and its mapping to gRPC statuses.
pub mod error;
/// The gRPC service and server.
pub mod grpc;
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

pub use engine::Engine;
pub use error::{Error, Result};
pub use grpc::{GrpcService, grpc_service, serve};
