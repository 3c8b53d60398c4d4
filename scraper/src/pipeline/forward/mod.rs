//! Forwarding to another Prometheus-compatible system: prometheus.yml's `remote_write`.
//!
//! ```text
//!  every write (scrapes, pushes, rules; the binary tees them here)
//!    --external labels, write_relabel_configs (record.rs; dropped series counted)-->
//!    records of <= max_samples_per_send samples --append, fsync--> own disk queue
//!    (queue/: segments + cursor; at its byte limit the oldest records are evicted)
//!    --> acknowledged (the write never waits for the remote)
//!  sender task (sender.rs): oldest records up to max_samples_per_send, or fewer after
//!    batch_send_deadline --snappy prompb.WriteRequest, POST (client.rs)-->
//!    2xx: commit | 5xx/429/no answer: backoff, again | other 4xx: drop, commit
//! ```
//!
//! [`RemoteWriteForwarder`] is the [`telltale_storage_api::SampleWriter`]; its
//! self-metrics ([`metrics`]) carry Prometheus's names.

/// The HTTP side: client, request, answer classification.
pub mod client;
/// [`RemoteWriteForwarder`] and its options.
pub mod forwarder;
/// The forwarder's self-metrics.
pub mod metrics;
/// What the queue holds: relabeled records with a small header (pure).
pub mod record;
/// The task draining the queue.
mod sender;

pub use forwarder::{ForwarderOptions, RemoteWriteForwarder, remote_name};
