//! `GET /api/v1/metadata` of a cluster: every scraper replica is asked for all it knows
//! (without the request's limits), the answers are merged, and the request's `metric`,
//! `limit` and `limit_per_metric` apply to the whole (`telltale_scraper::metadata_api`).
//! A replica that does not answer adds a warning; with no scraper configured the answer
//! is empty, as Prometheus's without targets.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use telltale_scraper::metadata_api::{Metadata, MetadataQuery};

use super::{Scrapers, error_body};

/// `GET /api/v1/metadata` merged from the scraper replicas at `urls` (base URLs).
pub fn router(urls: &[String]) -> anyhow::Result<axum::Router> {
    Ok(axum::Router::new()
        .route("/api/v1/metadata", get(handler))
        .with_state(Scrapers::new(urls)?))
}

async fn handler(State(s): State<Scrapers>, Query(query): Query<MetadataQuery>) -> Response {
    let mut merged = Metadata::default();
    let mut warnings = Vec::new();
    for (base, answer) in s.ask_all("/api/v1/metadata", None).await {
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
