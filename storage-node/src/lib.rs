//! The time-series engine of a Telltale storage replica, over RocksDB. The replica
//! (`telltale-replica`) drives it from its Raft log and serves it over gRPC.
//!
//! ```text
//!   prepare: request --> log record (stored series by id) --> the Raft log
//!   apply:   log record --> index + chunks (one batch) --> Head (Gorilla)
//!   flush: Head --> raw chunks, one per (day, series)          [background]
//!   rollup: raw --> 1m points --> 1h points                    [background]
//!   retention: drop whole day partitions per tier              [background]
//!   delete_series: log record --> tombstones masking every read; clean_tombstones:
//!           log record --> chunks rewritten without the deleted data
//!   select: day postings --> matchers --> stored chunks (raw or a rollup tier) passed
//!           through, overlaps and the head merged into new chunks, within a budget
//! ```
//!
//! - [`Engine`] validates writes ([`Engine::prepare`]), applies them deterministically
//!   ([`Engine::apply`], so a Raft log drives it and replays it) and answers selects and
//!   index queries with Prometheus matcher semantics ([`matcher::Selector`]);
//!   [`Engine::snapshot`] is its snapshot.
//! - Prometheus's TSDB admin operations: [`Engine::prepare_delete`] and
//!   [`Engine::prepare_clean_tombstones`] give log records ([`admin_record`]) applied
//!   like writes — tombstones that mask every read, then chunks rewritten without the
//!   deleted data — and [`Engine::checkpoint_into`] copies the stored data.
//! - Only the private `store` module knows RocksDB (column families and key layouts).

/// The admin log records: `delete_series` and `clean_tombstones`.
pub mod admin_record;
/// Compressed chunks of samples and of rollup points (the storage contract's codecs).
pub use telltale_storage_api::chunk;
/// The cold tier: days moved to object storage, their object layout and read cache.
pub mod cold;
/// The log record: the unit prepared, logged (replicated) and applied.
pub mod command;
/// The engine: open, prepare and apply, read, flush, rollup and retention.
pub mod engine;
/// The crate's error type and its mapping to gRPC statuses.
pub mod error;
/// The bounded exemplar ring (Prometheus's circular exemplar storage).
pub mod exemplars;
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

pub use engine::apply::{Applied, PreparedWrite};
pub use engine::maintenance::Maintenance;
pub use engine::read::IndexQuery;
pub use engine::select::{ChunkData, Encoding, SelectSpec, SelectionSpec, SeriesData};
pub use engine::{Engine, EngineOptions};
pub use error::{Error, Result};
pub use tier::{Retention, Tier};
