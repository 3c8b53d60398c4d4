//! `GET /api/v1/metadata` and `GET /api/v1/targets/metadata` of a cluster. For the first,
//! every scraper replica is asked for all it knows (without the request's limits), the
//! answers are merged, and the request's `metric`, `limit` and `limit_per_metric` apply
//! to the whole (`telltale_scraper::pull::metadata_api`); with no scraper configured the answer
//! is empty, as Prometheus's without targets. For the second, each replica answers for
//! the targets it scrapes and the lists are joined (cut at `limit`; nothing found is a
//! 404, as Prometheus). A replica that does not answer adds a warning.

use axum::Json;
use axum::extract::{Query, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use telltale_scraper::pull::metadata_api::{Metadata, MetadataQuery, TargetMetadataQuery};

use super::{Scrapers, Upstream, error_body};

/// `GET /api/v1/metadata` merged from the scraper replicas at `urls` (base URLs).
pub fn router(urls: &[String], client: &Upstream) -> anyhow::Result<axum::Router> {
    Ok(axum::Router::new()
        .route("/api/v1/metadata", get(handler))
        .route("/api/v1/targets/metadata", get(targets_handler))
        .with_state(Scrapers::new(urls, client)?))
}

async fn handler(
    State(s): State<Scrapers>,
    headers: HeaderMap,
    Query(query): Query<MetadataQuery>,
) -> Response {
    let mut merged = Metadata::default();
    let mut warnings = Vec::new();
    for (base, answer) in s.ask_all("/api/v1/metadata", None, &headers).await {
        match answer {
            Ok(body) => merged.merge_json(&body["data"]),
            Err(e) => warnings.push(format!("scraper {base} did not answer: {e}")),
        }
    }
    match merged.answer(&query) {
        Ok(data) => {
            let mut body = json!({"status": "success", "data": data});
            if !warnings.is_empty() {
                body["warnings"] = json!(warnings);
            }
            Json(body).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, error_body("bad_data", e)).into_response(),
    }
}

async fn targets_handler(
    State(s): State<Scrapers>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    Query(query): Query<TargetMetadataQuery>,
) -> Response {
    let limit = query
        .limit
        .as_deref()
        .and_then(|l| l.trim().parse::<i64>().ok())
        .and_then(|l| usize::try_from(l).ok());
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for (base, answer) in s.ask_all("/api/v1/targets/metadata", raw, &headers).await {
        match answer {
            Ok(body) => entries.extend(body["data"].as_array().cloned().unwrap_or_default()),
            // Nothing of this replica's targets matched.
            Err(e) if e.starts_with("HTTP 404") => {}
            Err(e) if e.starts_with("HTTP 400") => {
                return (StatusCode::BAD_REQUEST, error_body("bad_data", e)).into_response();
            }
            Err(e) => warnings.push(format!("scraper {base} did not answer: {e}")),
        }
    }
    if let Some(l) = limit {
        entries.truncate(l);
    }
    if entries.is_empty() && warnings.is_empty() {
        return (
            StatusCode::NOT_FOUND,
            error_body("not_found", "specified metadata not found".into()),
        )
            .into_response();
    }
    let mut body = json!({"status": "success", "data": entries});
    if !warnings.is_empty() {
        body["warnings"] = json!(warnings);
    }
    Json(body).into_response()
}
