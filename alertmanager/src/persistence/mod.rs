//! Durable state: alert state, the notification log and silences as documents in RocksDB
//! (synced writes), behind the [`store::StateStore`] trait.

/// Persisted state in RocksDB (the store the alertmanager uses).
pub mod state_db;
/// Persisted state: the store trait, its documents, and the former file implementation.
pub mod store;
