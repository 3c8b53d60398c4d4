//! The OTLP/HTTP metrics receiver: `POST /v1/metrics` with a protobuf
//! `ExportMetricsServiceRequest` (optionally gzip-compressed).
//!
//! ```text
//! body --gzip?--> each ResourceMetrics decoded alone --convert (Prometheus naming)-->
//!   Vec<TimeSeries> --SampleWriter--> 200 ExportMetricsServiceResponse (partial_success
//!   when points were rejected) | 400 google.rpc.Status naming the byte offset | 413 | 503
//! ```

/// Attribute values and bounds as label values (pure).
pub mod attributes;
/// OTLP to Prometheus series (pure).
pub mod convert;
/// The axum handler.
pub mod handler;
/// The OTLP messages, written by hand.
pub mod proto;
