//! `/api/v1/query`, `/api/v1/query_range` and `/api/v1/format_query`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;

use super::params::{Params, parse_duration, parse_time};
use super::{parse_timeout, query_param, query_param_error, request_params, respond, response};
use crate::engine::{Engine, QueryOutput, QueryRequest};
use crate::error::{Error, Result};
use telltale_model::now_ms;

/// The response header naming the storage tiers a query read.
pub const TIER_HEADER: &str = "x-telltale-tier";

/// `GET|POST /api/v1/query`.
pub async fn instant(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    respond(&engine, "query", async {
        let p = request_params(&engine, &headers, q, body).await?;
        let t = match p.get("time") {
            None | Some("") => now_ms(),
            Some(s) => parse_time("time", s)?,
        };
        let req = QueryRequest {
            expr: query_param(&p),
            start_ms: t,
            end_ms: t,
            step_ms: 0,
            timeout: parse_timeout(&p)?,
            lookback_ms: parse_lookback(&p)?,
        };
        run(&engine, &p, req).await
    })
    .await
}

/// `GET|POST /api/v1/query_range`.
pub async fn range(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    respond(&engine, "query_range", async {
        let p = request_params(&engine, &headers, q, body).await?;
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
        let req = QueryRequest {
            expr: query_param(&p),
            start_ms: start,
            end_ms: end,
            step_ms: step,
            timeout: parse_timeout(&p)?,
            lookback_ms: parse_lookback(&p)?,
        };
        run(&engine, &p, req).await
    })
    .await
}

/// The optional `lookback_delta` parameter.
fn parse_lookback(p: &Params) -> Result<Option<i64>> {
    match p.get("lookback_delta") {
        None | Some("") => Ok(None),
        Some(s) => parse_duration("lookback_delta", s).map(Some),
    }
}

async fn run(engine: &Engine, p: &Params, req: QueryRequest) -> Result<Response> {
    let started = Instant::now();
    let out = engine.query(req).await.map_err(query_param_error)?;
    let stats = match p.get("stats") {
        None | Some("") => None,
        Some(_) => Some(stats_json(&out, started.elapsed().as_secs_f64())),
    };
    let mut data = response::value_json(&out.value);
    if let Some(stats) = stats {
        // `{"resultType":...,"result":...}` gains `,"stats":{...}` before its brace.
        data.pop();
        data.push_str(&format!(",\"stats\":{stats}}}"));
    }
    let mut resp = response::success_annotated(data, &out.warnings, &out.infos);
    if let Ok(v) = HeaderValue::from_str(&out.stats.tier_header()) {
        resp.headers_mut().insert(TIER_HEADER, v);
    }
    Ok(resp)
}

/// Prometheus' `stats` block, with the tiers read.
fn stats_json(out: &QueryOutput, seconds: f64) -> String {
    let tiers: Vec<&str> = out.stats.tiers.iter().map(|t| t.as_str()).collect();
    serde_json::json!({
        "timings": {
            "evalTotalTime": seconds,
            "resultSortTime": 0.0,
            // Reading the selected series from storage, as Prometheus' preparation
            // (series selection and loading) is.
            "queryPreparationTime": out.stats.fetch.as_secs_f64(),
            "innerEvalTime": out.stats.eval.as_secs_f64(),
            "execQueueTime": 0.0,
            "execTotalTime": seconds,
        },
        "samples": {
            "totalQueryableSamples": out.stats.samples_loaded,
            "peakSamples": out.stats.samples_loaded,
        },
        "seriesLoaded": out.stats.series_loaded,
        "tier": out.stats.tier_header(),
        "tiers": tiers,
    })
    .to_string()
}

/// `GET|POST /api/v1/format_query`: the expression pretty-printed.
pub async fn format(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    respond(&engine, "format_query", async {
        let p = request_params(&engine, &headers, q, body).await?;
        let expr = promql_parser::parser::parse(p.get("query").unwrap_or(""))
            .map_err(|e| Error::bad_data(format!("invalid parameter \"query\": {e}")))?;
        Ok(response::success(
            response::json_string(&expr.prettify()),
            &[],
        ))
    })
    .await
}
