//! The Prometheus remote_write receiver: `POST /api/v1/write` with a snappy-compressed
//! protobuf `prometheus.WriteRequest` (v1) or `io.prometheus.write.v2.Request` (2.0).
//!
//! ```text
//! body --snappy--> proto::WriteRequest --check, convert--> Vec<TimeSeries> --SampleWriter-->
//!   204 once acknowledged | 400 bad body or series | 413 too large | 503/500 storage failed
//! ```
//!
//! The sending side, prometheus.yml's `remote_write` sections, is
//! [`crate::pipeline::forward`].

/// Decoding and checking a v1 body (pure).
pub mod decode;
/// Decoding and checking a 2.0 body: symbols, label references (pure).
pub mod decode_v2;
/// The axum handler.
pub mod handler;
/// The `prometheus.WriteRequest` message types, for senders and tests (defined with the
/// remote-read ones in `telltale_storage_api::prompb`).
pub use telltale_storage_api::prompb as proto;
/// The `io.prometheus.write.v2.Request` message types, for senders and tests.
pub mod proto_v2;
