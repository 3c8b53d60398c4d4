//! The Prometheus HTTP API (`/api/v1/...`) over an [`Engine`].
//!
//! Every endpoint takes GET (URL query) and, where Prometheus does, POST with a
//! form-encoded body, and answers `{"status":"success","data":...}` or
//! `{"status":"error","errorType":...,"error":...}` with Prometheus' status codes.

pub mod params;
pub mod response;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;

use crate::engine::{Engine, check_expr};
use crate::error::{Error, Result};
use params::{Params, parse_duration, parse_limit, parse_match_sets, parse_time};

/// Most points per series a range query may return, as Prometheus.
pub const MAX_POINTS_PER_SERIES: i64 = 11_000;

/// The router serving the Prometheus HTTP API.
pub fn router(engine: Arc<Engine>) -> Router {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/status/buildinfo", get(buildinfo))
        .with_state(engine)
}

/// The request's parameters: a form body (when it is one) and the URL query.
fn request_params(headers: &HeaderMap, query: Option<String>, body: &Bytes) -> Params {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let body = if is_form {
        std::str::from_utf8(body).ok()
    } else {
        None
    };
    Params::parse(body, query.as_deref())
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

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn parse_query_param(p: &Params) -> Result<String> {
    let q = p.get("query").unwrap_or("").to_string();
    check_expr(&q).map_err(|e| Error::bad_data(format!("invalid parameter \"query\": {e}")))?;
    Ok(q)
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

async fn query(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = request_params(&headers, q, &body);
    respond(&engine, "query", async {
        let expr = parse_query_param(&p)?;
        let t = match p.get("time") {
            None | Some("") => now_ms(),
            Some(s) => parse_time("time", s)?,
        };
        let timeout = parse_timeout(&p)?;
        let v = engine.instant_query_with_timeout(&expr, t, timeout).await?;
        Ok(response::success(response::value_json(&v), &[]))
    })
    .await
}

async fn query_range(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = request_params(&headers, q, &body);
    respond(&engine, "query_range", async {
        let start = parse_time("start", p.get("start").unwrap_or(""))?;
        let end = parse_time("end", p.get("end").unwrap_or(""))?;
        if end < start {
            return Err(Error::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        let step = parse_duration("step", p.get("step").unwrap_or(""))?;
        if step <= 0 {
            return Err(Error::bad_data(
                "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if (end - start) / step > MAX_POINTS_PER_SERIES {
            return Err(Error::bad_data(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ));
        }
        let expr = parse_query_param(&p)?;
        let timeout = parse_timeout(&p)?;
        let v = engine
            .range_query_with_timeout(&expr, start, end, step, timeout)
            .await?;
        Ok(response::success(response::value_json(&v), &[]))
    })
    .await
}

/// `start`/`end` of the metadata endpoints (the whole time range when absent).
fn time_bounds(p: &Params) -> Result<(i64, i64)> {
    let start = match p.get("start") {
        None | Some("") => i64::MIN,
        Some(s) => parse_time("start", s)?,
    };
    let end = match p.get("end") {
        None | Some("") => i64::MAX,
        Some(s) => parse_time("end", s)?,
    };
    Ok((start, end))
}

/// Asks storage for one more than `limit` so truncation can be reported.
fn storage_limit(limit: u64) -> u64 {
    if limit == 0 { 0 } else { limit + 1 }
}

fn truncate<T>(v: &mut Vec<T>, limit: u64) -> Vec<String> {
    if limit > 0 && v.len() as u64 > limit {
        v.truncate(limit as usize);
        vec!["results truncated due to limit".to_string()]
    } else {
        Vec::new()
    }
}

async fn series(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = request_params(&headers, q, &body);
    respond(&engine, "series", async {
        let matches = p.get_all("match[]");
        if matches.is_empty() {
            return Err(Error::bad_data("no match[] parameter provided"));
        }
        let sets = parse_match_sets(&matches)?;
        let (start, end) = time_bounds(&p)?;
        let limit = parse_limit(p.get("limit"))?;
        let mut found = engine
            .series(sets, start, end, storage_limit(limit))
            .await?;
        let warnings = truncate(&mut found, limit);
        let items: Vec<String> = found.iter().map(response::labels_json).collect();
        Ok(response::success(
            format!("[{}]", items.join(",")),
            &warnings,
        ))
    })
    .await
}

async fn labels(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let p = request_params(&headers, q, &body);
    respond(&engine, "labels", async {
        let sets = parse_match_sets(&p.get_all("match[]"))?;
        let (start, end) = time_bounds(&p)?;
        let limit = parse_limit(p.get("limit"))?;
        let mut names = engine
            .label_names(sets, start, end, storage_limit(limit))
            .await?;
        let warnings = truncate(&mut names, limit);
        Ok(response::success(response::strings_json(&names), &warnings))
    })
    .await
}

/// A legacy Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

async fn label_values(
    State(engine): State<Arc<Engine>>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    let p = Params::parse(None, q.as_deref());
    respond(&engine, "label_values", async {
        if !is_label_name(&name) {
            return Err(Error::bad_data(format!("invalid label name: {name:?}")));
        }
        let sets = parse_match_sets(&p.get_all("match[]"))?;
        let (start, end) = time_bounds(&p)?;
        let limit = parse_limit(p.get("limit"))?;
        let mut values = engine
            .label_values(&name, sets, start, end, storage_limit(limit))
            .await?;
        let warnings = truncate(&mut values, limit);
        Ok(response::success(
            response::strings_json(&values),
            &warnings,
        ))
    })
    .await
}

async fn buildinfo(State(engine): State<Arc<Engine>>) -> Response {
    respond(&engine, "buildinfo", async {
        let data = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "revision": option_env!("TELLTALE_REVISION").unwrap_or("unknown"),
            "branch": option_env!("TELLTALE_BRANCH").unwrap_or("unknown"),
            "buildUser": option_env!("TELLTALE_BUILD_USER").unwrap_or("unknown"),
            "buildDate": option_env!("TELLTALE_BUILD_DATE").unwrap_or("unknown"),
            "goVersion": "none (Rust)",
        });
        Ok(response::success(data.to_string(), &[]))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names_are_validated() {
        assert!(is_label_name("job"));
        assert!(is_label_name("__name__"));
        assert!(!is_label_name("1abc"));
        assert!(!is_label_name("a-b"));
        assert!(!is_label_name(""));
    }
}
