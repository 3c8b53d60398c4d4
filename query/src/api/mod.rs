//! The Prometheus HTTP API (`/api/v1/...`) over an [`Engine`].
//!
//! Every endpoint takes GET (URL query) and POST with a form-encoded body, and answers
//! `{"status":"success","data":...}` (with `warnings` when results were truncated) or
//! `{"status":"error","errorType":...,"error":...}` with Prometheus' status codes.
//! Query responses carry `X-Telltale-Tier: raw|1m|1h` (the storage tiers read), and a
//! `stats` block when `stats` is asked for.

/// `/api/v1/admin/tsdb/...`: the TSDB admin API, behind `--web.enable-admin-api`.
pub mod admin;
/// `/federate`: the latest sample of each matching series, for a federating Prometheus.
pub mod federate;
pub mod metadata;
pub mod params;
pub mod query;
/// `/api/v1/read`: Prometheus's remote read.
pub mod remote_read;
pub mod response;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;

use crate::engine::Engine;
use crate::error::{Error, Result};
use params::{Params, parse_duration};

/// Most points per series a range query may return by default, as Prometheus.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// The router serving the Prometheus HTTP API.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/api/v1/query", get(query::instant).post(query::instant))
        .route("/api/v1/query_range", get(query::range).post(query::range))
        .route(
            "/api/v1/format_query",
            get(query::format).post(query::format),
        )
        .route(
            "/api/v1/series",
            get(metadata::series).post(metadata::series),
        )
        .route(
            "/api/v1/labels",
            get(metadata::labels).post(metadata::labels),
        )
        .route(
            "/api/v1/label/{name}/values",
            get(metadata::label_values).post(metadata::label_values),
        )
        .route(
            "/api/v1/query_exemplars",
            get(metadata::exemplars).post(metadata::exemplars),
        )
        .route("/api/v1/status/buildinfo", get(metadata::buildinfo))
        .route("/federate", get(federate::federate))
        .route("/api/v1/read", axum::routing::post(remote_read::read))
        .with_state(engine)
}

/// The request's parameters: a form body (when it is one, at most the engine's
/// `max_request_body_bytes`) and the URL query.
async fn request_params(
    engine: &Engine,
    headers: &HeaderMap,
    query: Option<String>,
    body: Body,
) -> Result<Params> {
    let limit = engine.options().max_request_body_bytes;
    let too_large = Error::BodyTooLarge { limit };
    if headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > limit)
    {
        return Err(too_large);
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large)?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        std::str::from_utf8(&bytes).ok()
    } else {
        None
    };
    Ok(Params::parse(body, query.as_deref()))
}

/// Runs one endpoint, records its duration, turns errors into Prometheus error bodies.
async fn respond<F>(engine: &Engine, endpoint: &str, f: F) -> Response
where
    F: Future<Output = Result<Response>>,
{
    let started = Instant::now();
    let resp = match f.await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(endpoint, error = %e, "query API request failed");
            response::error(&e)
        }
    };
    engine
        .metrics()
        .observe_request(endpoint, started.elapsed().as_secs_f64());
    resp
}

/// The `query` parameter; the engine parses it (once) when it runs the query, and
/// [`query_param_error`] names the parameter in its parse errors.
fn query_param(p: &Params) -> String {
    p.get("query").unwrap_or("").to_string()
}

/// A query's [`Error::InvalidQuery`] as Prometheus words it: `invalid parameter "query": …`.
fn query_param_error(e: Error) -> Error {
    match e {
        Error::InvalidQuery { message } => {
            Error::bad_data(format!("invalid parameter \"query\": {message}"))
        }
        other => other,
    }
}

fn parse_timeout(p: &Params) -> Result<Option<Duration>> {
    match p.get("timeout") {
        None | Some("") => Ok(None),
        Some(s) => {
            let ms = parse_duration("timeout", s)?;
            Ok(Some(Duration::from_millis(ms.max(0) as u64)))
        }
    }
}
