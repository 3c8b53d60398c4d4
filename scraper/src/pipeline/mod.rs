//! The pipeline: what stands between a parsed batch (scraped or pushed) and storage.
//!
//! ```text
//!  batch --relabel (metricRelabelings, write_relabel_configs)-->
//!    CardinalityWriter (new-series limits, churn, /api/v1/status/tsdb)
//!      --> DiskQueue (segment files when storage is unavailable, replay in order)
//!        --> GrpcStorage / routing client
//!  prometheus.yml remote_write: the binary tees every write into a
//!    RemoteWriteForwarder (forward) --relabel--> own disk queue --sender--> remote_write 1.0
//! ```

/// Limits on new series, churn metrics and `/api/v1/status/tsdb`.
pub mod cardinality;
/// Forwarding every write to a remote_write endpoint through a durable queue.
pub mod forward;
/// The bounded persistent on-disk queue in front of the storage writer.
pub mod queue;
/// Prometheus relabeling (pure).
pub mod relabel;
