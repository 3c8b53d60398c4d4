//! The OTLP/HTTP metrics receiver: `POST /v1/metrics` with a protobuf
//! `ExportMetricsServiceRequest` (optionally gzip-compressed).
//!
//! ```text
//! body --gzip?--> each ResourceMetrics decoded alone --convert (Prometheus naming;
//!   exponential histograms as native ones; delta histograms added up per series)-->
//!   Vec<TimeSeries> --SampleWriter--> 200 ExportMetricsServiceResponse (partial_success
//!   when points were rejected) | 400 google.rpc.Status naming the byte offset | 413 | 503
//! ```

/// Attribute values and bounds as label values (pure).
pub mod attributes;
/// OTLP to Prometheus series (pure).
pub mod convert;
/// Delta histograms made cumulative: running totals per series.
pub mod delta;
/// Exponential histogram points as native histograms (pure).
pub mod exponential;
/// The axum handler.
pub mod handler;
/// Explicit-bucket and exponential histogram metrics in the conversion.
mod histograms;
/// The OTLP messages, written by hand.
pub mod proto;
