//! `POST /v1/metrics`: OTLP/HTTP in binary protobuf. Answers as the OTLP specification
//! says: 200 with an `ExportMetricsServiceResponse` (its `partial_success` counting the
//! rejected points and saying why), errors with a protobuf `google.rpc.Status` body.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use tracing::{debug, warn};

use super::convert::convert;
use super::proto::{ExportMetricsPartialSuccess, ExportMetricsServiceResponse, Status};
use crate::error::{Error, Result};
use crate::push::outcome::PushOutcome;
use crate::push::{PushState, body};

/// The `protocol` label of this receiver's metrics.
pub const PROTOCOL: &str = "otlp";

const PROTOBUF: &str = "application/x-protobuf";

/// Handles one export request.
pub async fn metrics(
    State(state): State<Arc<PushState>>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let result = match body {
        Err(rejection) => Err((rejection.status(), rejection.body_text())),
        Ok(body) => receive(&state, &headers, body)
            .await
            .map_err(|e| (e.status_code(), e.to_string())),
    };
    match result {
        Ok(outcome) => {
            let partial_success = outcome.rejection_summary().map(|message| {
                debug!(%message, "otlp export partly rejected");
                ExportMetricsPartialSuccess {
                    rejected_data_points: outcome.rejected_total() as i64,
                    error_message: message,
                }
            });
            state.record(PROTOCOL, StatusCode::OK, Some(&outcome));
            protobuf(
                StatusCode::OK,
                ExportMetricsServiceResponse { partial_success }.encode_to_vec(),
            )
        }
        Err((status, message)) => {
            if status.is_server_error() {
                warn!(error = %message, "otlp export failed");
            } else {
                debug!(error = %message, "otlp export rejected");
            }
            state.record(PROTOCOL, status, None);
            let status_body = Status {
                code: grpc_code(status),
                message,
            };
            protobuf(status, status_body.encode_to_vec())
        }
    }
}

async fn receive(state: &PushState, headers: &HeaderMap, raw: Bytes) -> Result<PushOutcome> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = String::from_utf8_lossy(ct.as_bytes()).to_ascii_lowercase();
        if !ct.starts_with(PROTOBUF) {
            return Err(Error::UnsupportedMediaType { content_type: ct });
        }
    }
    let max = state.max_decoded_bytes();
    let headers = headers.clone();
    let totals = state.otlp_totals.clone();
    let converted = tokio::task::spawn_blocking(move || {
        body::decode(&headers, &raw, max).and_then(|b| convert(&b, &totals))
    })
    .await
    .map_err(|e| Error::Internal {
        message: format!("decoder task failed: {e}"),
    })??;
    let mut converted = converted;
    state.admit(&mut converted.series, &mut converted.outcome);
    state.write(converted.series).await?;
    Ok(converted.outcome)
}

/// The gRPC status code OTLP pairs with an HTTP status.
fn grpc_code(status: StatusCode) -> i32 {
    match status.as_u16() {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        401 => 16,            // UNAUTHENTICATED
        429 => 8,             // RESOURCE_EXHAUSTED
        503 => 14,            // UNAVAILABLE
        _ => 13,              // INTERNAL
    }
}

fn protobuf(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, PROTOBUF)], body).into_response()
}
