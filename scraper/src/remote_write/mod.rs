//! The Prometheus remote_write v1 receiver: `POST /api/v1/write` with a snappy-compressed
//! protobuf `prometheus.WriteRequest`.
//!
//! ```text
//! body --snappy--> proto::WriteRequest --check, convert--> Vec<TimeSeries> --SampleWriter-->
//!   204 once acknowledged | 400 bad body or series | 413 too large | 503/500 storage failed
//! ```

/// Decoding and checking a body (pure).
pub mod decode;
/// The axum handler.
pub mod handler;
/// The `prometheus.WriteRequest` message types, for senders and tests.
pub mod proto;
