//! The push receivers, and what they share.
//!
//! ```text
//!  POST /api/v1/write (remote_write 1/2) ----+
//!  POST /write, /api/v2/write (Influx line) -+--> partial-batch accounting --> writer
//!  POST /v1/metrics (OTLP/HTTP protobuf) ----+
//! ```
//!
//! The receivers: [`remote_write`], [`influx`], [`otlp`]. What every one shares: [`PushState`] (writer, metrics, options), bearer-token
//! authentication ([`auth`]), a cap on requests in flight ([`concurrency`]), body
//! decompression within a limit ([`body`]), the accounting
//! of a partly bad batch ([`outcome::PushOutcome`]), Prometheus name sanitising
//! ([`names`]) and a protobuf field walker that names the byte offset of a malformed
//! element ([`wire`]).

/// The InfluxDB line-protocol receiver (`/write`, `/api/v2/write`).
pub mod influx;
/// The OTLP/HTTP metrics receiver (`/v1/metrics`).
pub mod otlp;
/// The remote_write receiver (v1 and 2.0) and its message types.
pub mod remote_write;

/// Bearer-token checks (pure) and the middleware that applies them.
pub mod auth;
/// Request bodies: `Content-Encoding` (gzip, identity) within a size limit.
pub mod body;
/// The cap on requests in flight (429 with `Retry-After` beyond it).
pub mod concurrency;
/// Metric and label names made valid the way Prometheus does it.
pub mod names;
/// Accepted and rejected samples of one request, and the reasons.
pub mod outcome;
/// A top-level protobuf field walker reporting byte offsets.
pub mod wire;

use std::sync::Arc;

use telltale_storage_api::{SampleWriter, TimeSeries, Written};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Result;
use crate::metrics::Metrics;
use crate::push::outcome::PushOutcome;
use crate::router::PushOptions;

/// What the push handlers need.
pub struct PushState {
    pub writer: Arc<dyn SampleWriter>,
    pub metrics: Metrics,
    pub options: PushOptions,
    /// The running totals of OTLP delta histograms ([`otlp::delta`]).
    pub otlp_totals: Arc<otlp::delta::DeltaTotals>,
}

impl PushState {
    /// Largest decompressed body accepted.
    pub fn max_decoded_bytes(&self) -> usize {
        self.options
            .max_body_bytes
            .saturating_mul(self.options.decoded_body_factor.max(1))
    }

    /// Removes the series over the label limits from `series`, counting their samples
    /// as rejected (`label_limit`) in `outcome`.
    pub fn admit(&self, series: &mut Vec<TimeSeries>, outcome: &mut PushOutcome) {
        let limits = &self.options.label_limits;
        if limits.label_limit == 0
            && limits.label_name_length_limit == 0
            && limits.label_value_length_limit == 0
        {
            return;
        }
        series.retain(|s| {
            let pairs: Vec<(String, String)> = s
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            match limits.check_labels(&pairs) {
                Ok(()) => true,
                Err(message) => {
                    let floats = s.samples.len() as u64;
                    let histograms = s.histograms.len() as u64;
                    outcome.accepted = outcome.accepted.saturating_sub(floats);
                    outcome.histograms = outcome.histograms.saturating_sub(histograms);
                    outcome.reject("label_limit", floats + histograms, || message);
                    false
                }
            }
        });
    }

    /// Writes `series` (if any) and returns the samples written (float and native
    /// histogram samples).
    pub async fn write(&self, series: Vec<TimeSeries>) -> Result<u64> {
        if series.is_empty() {
            return Ok(0);
        }
        let samples = series
            .iter()
            .map(|s| (s.samples.len() + s.histograms.len()) as u64)
            .sum();
        self.writer.write(series).await?;
        Ok(samples)
    }

    /// Writes `series` (if any) and returns what storage says it wrote: float samples,
    /// native histogram samples, and the exemplars it took (those it refused, out of
    /// order, not counted).
    pub async fn write_counted(&self, series: Vec<TimeSeries>) -> Result<Written> {
        if series.is_empty() {
            return Ok(Written::default());
        }
        Ok(self.writer.write_counted(series).await?)
    }
}

impl PushState {
    /// Counts one answered request of `protocol` and what happened to its samples.
    pub fn record(&self, protocol: &str, status: StatusCode, outcome: Option<&PushOutcome>) {
        let m = &self.metrics;
        m.push_requests_total
            .with_label_values(&[protocol, status.as_str()])
            .inc();
        if let Some(o) = outcome {
            self.record_samples(protocol, o);
        }
    }

    /// Counts what happened to the samples of one request of `protocol`.
    pub fn record_samples(&self, protocol: &str, o: &PushOutcome) {
        let m = &self.metrics;
        m.push_samples_total
            .with_label_values(&[protocol])
            .inc_by(o.accepted + o.histograms);
        for (reason, n) in &o.rejected {
            m.push_rejected_samples_total
                .with_label_values(&[protocol, reason])
                .inc_by(*n);
        }
        for (reason, n) in &o.skipped {
            m.push_skipped_values_total
                .with_label_values(&[protocol, reason])
                .inc_by(*n);
        }
    }
}

/// A `text/plain` answer.
pub fn text_response(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{message}\n"),
    )
        .into_response()
}
