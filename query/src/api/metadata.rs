//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`,
//! `/api/v1/query_exemplars` and `/api/v1/status/buildinfo` (`/api/v1/metadata` comes
//! from the scrapers, which read it from the targets: `telltale_scraper::pull::metadata_api`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};

use super::params::{Params, parse_limit, parse_match_sets, parse_time};
use super::{query_param, query_param_error, request_params, respond, response};
use crate::engine::Engine;
use crate::error::{Error, Result};

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

/// Cuts `v` to `limit` (0: none) with Prometheus' warning when something was cut.
fn truncate<T>(v: &mut Vec<T>, limit: u64) -> Vec<String> {
    if limit > 0 && v.len() as u64 > limit {
        v.truncate(limit as usize);
        vec!["results truncated due to limit".to_string()]
    } else {
        Vec::new()
    }
}

/// `GET|POST /api/v1/series`.
pub async fn series(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    respond(&engine, "series", async {
        let p = request_params(&engine, &headers, q, body).await?;
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

/// `GET|POST /api/v1/labels`.
pub async fn labels(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    respond(&engine, "labels", async {
        let p = request_params(&engine, &headers, q, body).await?;
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

/// `GET|POST /api/v1/label/<name>/values`.
pub async fn label_values(
    State(engine): State<Arc<Engine>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    respond(&engine, "label_values", async {
        let p = request_params(&engine, &headers, q, body).await?;
        if !telltale_model::is_valid_label_name(&name) {
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

/// `GET|POST /api/v1/query_exemplars`: the exemplars of the series every selector of
/// `query` selects within `[start, end]`, in Prometheus's shape:
/// `[{"seriesLabels":{...},"exemplars":[{"labels":{...},"value":"1.5","timestamp":1600000000.123}]}]`
/// (an expression without selectors: `204 No Content`, no body, as Prometheus answers).
pub async fn exemplars(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    respond(&engine, "query_exemplars", async {
        let p = request_params(&engine, &headers, q, body).await?;
        let (start, end) = time_bounds(&p)?;
        if end < start {
            return Err(Error::bad_data(
                "invalid parameter \"end\": end timestamp must not be before start time",
            ));
        }
        let found = engine
            .exemplars(&query_param(&p), start, end)
            .await
            .map_err(query_param_error)?;
        Ok(match found {
            None => axum::http::StatusCode::NO_CONTENT.into_response(),
            Some(found) => response::success(response::exemplars_json(&found), &[]),
        })
    })
    .await
}

/// `GET /api/v1/status/buildinfo`.
pub async fn buildinfo(State(engine): State<Arc<Engine>>) -> Response {
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
    fn truncation_warns() {
        let mut v = vec![1, 2, 3];
        assert_eq!(truncate(&mut v, 2), vec!["results truncated due to limit"]);
        assert_eq!(v, vec![1, 2]);
        assert!(truncate(&mut v, 0).is_empty());
        assert_eq!(storage_limit(0), 0);
        assert_eq!(storage_limit(5), 6);
    }
}
