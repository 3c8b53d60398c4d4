//! `POST /write` and `POST /api/v2/write`. Answers 204 when every line was stored; 400
//! with InfluxDB's error shape when a line is bad — `unable to parse` when no line was
//! good, `partial write` with the counts when the good lines were stored.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use telltale_model::now_ms;
use tracing::{debug, warn};

use super::convert::{Precision, convert};
use crate::error::{Error, Result};
use crate::push::outcome::PushOutcome;
use crate::push::{PushState, body};

/// The `protocol` label of this receiver's metrics.
pub const PROTOCOL: &str = "influx";

/// Which API version's error shape to answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    V1,
    V2,
}

/// `POST /write` (InfluxDB 1.x).
pub async fn write_v1(
    State(state): State<Arc<PushState>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    handle(&state, Api::V1, &params, &headers, body).await
}

/// `POST /api/v2/write` (InfluxDB 2.x).
pub async fn write_v2(
    State(state): State<Arc<PushState>>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    handle(&state, Api::V2, &params, &headers, body).await
}

async fn handle(
    state: &PushState,
    api: Api,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let result = match body {
        Err(rejection) => Err((rejection.status(), rejection.body_text())),
        Ok(body) => receive(state, params, headers, body)
            .await
            .map_err(|e| (e.status_code(), e.to_string())),
    };
    let (status, response, outcome) = match result {
        Ok(outcome) => {
            let (status, response) = answer(api, &outcome);
            (status, response, Some(outcome))
        }
        Err((status, message)) => {
            if status.is_server_error() {
                warn!(error = %message, "influx write failed");
            } else {
                debug!(error = %message, "influx write rejected");
            }
            (status, error_response(api, status, &message, None), None)
        }
    };
    state.record(PROTOCOL, status, outcome.as_ref());
    response
}

async fn receive(
    state: &PushState,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    raw: Bytes,
) -> Result<PushOutcome> {
    let precision = Precision::parse(params.get("precision").map(String::as_str))?;
    let max = state.max_decoded_bytes();
    let now = now_ms();
    let headers = headers.clone();
    let converted = tokio::task::spawn_blocking(move || {
        body::decode(&headers, &raw, max).map(|b| convert(&b, precision, now))
    })
    .await
    .map_err(|e| Error::Internal {
        message: format!("decoder task failed: {e}"),
    })??;
    let mut converted = converted;
    state.admit(&mut converted.series, &mut converted.outcome);
    if converted.outcome.accepted == 0
        && let Some((line, message)) = converted.first_line_error
    {
        state.record_samples(PROTOCOL, &converted.outcome);
        return Err(Error::LineProtocol { line, message });
    }
    state.write(converted.series).await?;
    Ok(converted.outcome)
}

fn answer(api: Api, outcome: &PushOutcome) -> (StatusCode, Response) {
    match outcome.rejection_summary() {
        None => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            if outcome.skipped_total() > 0
                && let Ok(v) = HeaderValue::from_str(&outcome.skipped_total().to_string())
            {
                r.headers_mut().insert("x-telltale-skipped-values", v);
            }
            (StatusCode::NO_CONTENT, r)
        }
        Some(summary) => {
            let status = StatusCode::BAD_REQUEST;
            let message = format!("partial write: {summary}");
            (status, error_response(api, status, &message, Some(outcome)))
        }
    }
}

/// InfluxDB's error bodies: 1.x `{"error": ...}`, 2.x `{"code": ..., "message": ...}`;
/// with the sample counts of a partial write.
fn error_response(
    api: Api,
    status: StatusCode,
    message: &str,
    outcome: Option<&PushOutcome>,
) -> Response {
    let mut body = match api {
        Api::V1 => json!({ "error": message }),
        Api::V2 => json!({
            "code": match status.as_u16() {
                401 => "unauthorized",
                413 => "request too large",
                s if s >= 500 => "internal error",
                _ => "invalid",
            },
            "message": message,
        }),
    };
    if let Some(o) = outcome {
        body["accepted"] = json!(o.accepted);
        body["rejected"] = json!(o.rejected_total());
    }
    (status, Json(body)).into_response()
}
