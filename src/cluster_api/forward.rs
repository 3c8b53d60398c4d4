//! The alerting API of a cluster, forwarded to its alertmanager: the rule evaluator's
//! `GET /api/v1/alerts`, `/api/v1/rules` and `/api/v1/alertmanagers`, and
//! Alertmanager's `/api/v2/...` (alerts, groups, silences, status, receivers). Method,
//! path, query, body, `Accept` and `Content-Type` go through as they are; so do the
//! alertmanager's status and body; so does the caller's `Authorization` (the components
//! of a cluster share one web configuration). An alertmanager that cannot be reached is
//! a 503 with a Prometheus-style error body.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use super::{Upstream, base_url, error_body};

/// Largest request body forwarded (silences and alerts posted by clients are small).
const MAX_BODY_BYTES: usize = 4 << 20;

#[derive(Clone)]
struct Alertmanager {
    base: String,
    client: Upstream,
}

/// The alerting routes, forwarded to the alertmanager at `base` (its base URL).
pub fn router(base: &str, client: &Upstream) -> anyhow::Result<axum::Router> {
    let upstream = Alertmanager {
        base: base_url("--alertmanager-url", base)?,
        client: client.clone(),
    };
    Ok(axum::Router::new()
        .route("/api/v1/alerts", get(forward))
        .route("/api/v1/rules", get(forward))
        .route("/api/v1/alertmanagers", get(forward))
        .route("/api/v2/{*path}", any(forward))
        .with_state(upstream))
}

async fn forward(State(up): State<Alertmanager>, req: Request) -> Response {
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
    let url = format!("{}{target}", up.base);
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                error_body(
                    "bad_data",
                    format!("request body larger than {MAX_BODY_BYTES} bytes"),
                ),
            )
                .into_response();
        }
    };
    let mut call = match up.client.request(method, &url, &headers) {
        Ok(call) => call.body(body),
        Err(e) => {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                error_body(
                    "unavailable",
                    format!("no client for the alertmanager: {e}"),
                ),
            )
                .into_response();
        }
    };
    for name in [header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(v) = headers.get(&name) {
            call = call.header(name, v);
        }
    }
    let resp = match call.send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(%url, error = %e, "the alertmanager did not answer");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                error_body(
                    "unavailable",
                    format!("the alertmanager at {} did not answer: {e}", up.base),
                ),
            )
                .into_response();
        }
    };
    let status = resp.status();
    let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
    match resp.bytes().await {
        Ok(bytes) => {
            let mut out = Response::new(Body::from(bytes));
            *out.status_mut() = status;
            out.headers_mut().insert(
                header::CONTENT_TYPE,
                content_type.unwrap_or(HeaderValue::from_static("application/json")),
            );
            out
        }
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            error_body(
                "unavailable",
                format!("the alertmanager's answer broke off: {e}"),
            ),
        )
            .into_response(),
    }
}
