//! `GET /api/v1/targets` of a cluster. Each scraper replica lists the targets it owns,
//! naming itself in `scraper`; every replica is asked at once with the request's own
//! query and the answers are merged: active targets in (pool, URL) order, dropped targets
//! once each (every replica discovers them all). A replica that does not answer adds a
//! warning (its targets are missing) instead of failing the page; none answering is 503.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{Scrapers, Upstream, error_body};

/// `GET /api/v1/targets` merged from the scraper replicas at `urls` (base URLs).
pub fn router(urls: &[String], client: &Upstream) -> anyhow::Result<axum::Router> {
    Ok(axum::Router::new()
        .route("/api/v1/targets", get(handler))
        .with_state(Scrapers::new(urls, client)?))
}

async fn handler(
    State(s): State<Scrapers>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let answers = s.ask_all("/api/v1/targets", query, &headers).await;
    match merge(answers) {
        Ok(body) => Json(body).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            error_body("unavailable", e),
        )
            .into_response(),
    }
}

/// One answer per scraper replica (its base URL, its body or why there is none) merged
/// into one `/api/v1/targets` body (pure).
pub fn merge(answers: Vec<(String, Result<Value, String>)>) -> Result<Value, String> {
    let mut active: Vec<Value> = Vec::new();
    let mut dropped: Vec<Value> = Vec::new();
    let mut seen_dropped = std::collections::HashSet::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut answered = 0;
    for (base, answer) in answers {
        let body = match answer {
            Ok(body) if body["status"] == "success" => body,
            Ok(body) => {
                warnings.push(format!("scraper {base}: {}", body["error"]));
                continue;
            }
            Err(e) => {
                warnings.push(format!("scraper {base} did not answer: {e}"));
                continue;
            }
        };
        answered += 1;
        let data = &body["data"];
        active.extend(
            data["activeTargets"]
                .as_array()
                .into_iter()
                .flatten()
                .cloned(),
        );
        for d in data["droppedTargets"].as_array().into_iter().flatten() {
            if seen_dropped.insert(d.to_string()) {
                dropped.push(d.clone());
            }
        }
        for w in body["warnings"].as_array().into_iter().flatten() {
            warnings.push(format!(
                "scraper {base}: {}",
                w.as_str().unwrap_or_default()
            ));
        }
    }
    if answered == 0 {
        return Err(if warnings.is_empty() {
            "no scraper replica is configured".into()
        } else {
            warnings.join("; ")
        });
    }
    let key = |t: &Value| {
        (
            t["scrapePool"].as_str().unwrap_or_default().to_string(),
            t["scrapeUrl"].as_str().unwrap_or_default().to_string(),
        )
    };
    active.sort_by_key(key);
    let mut body = json!({
        "status": "success",
        "data": {"activeTargets": active, "droppedTargets": dropped},
    });
    if !warnings.is_empty() {
        body["warnings"] = json!(warnings);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(pool: &str, url: &str, scraper: &str) -> Value {
        json!({"scrapePool": pool, "scrapeUrl": url, "health": "up", "scraper": scraper})
    }

    fn answer(active: Vec<Value>, dropped: Vec<Value>) -> Result<Value, String> {
        Ok(json!({"status": "success",
                  "data": {"activeTargets": active, "droppedTargets": dropped}}))
    }

    #[test]
    fn every_replica_s_own_targets_in_order_dropped_ones_once() {
        let gone = json!({"discoveredLabels": {"__address__": "x:1"}, "scrapePool": "p"});
        let body = merge(vec![
            (
                "http://s0".into(),
                answer(
                    vec![target("p", "http://b/metrics", "s-0")],
                    vec![gone.clone()],
                ),
            ),
            (
                "http://s1".into(),
                answer(
                    vec![
                        target("p", "http://a/metrics", "s-1"),
                        target("o", "http://z/metrics", "s-1"),
                    ],
                    vec![gone.clone()],
                ),
            ),
        ])
        .unwrap();
        let owners: Vec<(&str, &str)> = body["data"]["activeTargets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["scrapeUrl"].as_str().unwrap(),
                    t["scraper"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            owners,
            [
                ("http://z/metrics", "s-1"),
                ("http://a/metrics", "s-1"),
                ("http://b/metrics", "s-0")
            ]
        );
        assert_eq!(body["data"]["droppedTargets"], json!([gone]));
        assert!(body.get("warnings").is_none());
    }

    #[test]
    fn a_silent_replica_is_a_warning_none_answering_an_error() {
        let body = merge(vec![
            (
                "http://s0".into(),
                answer(vec![target("p", "u", "s-0")], vec![]),
            ),
            ("http://s1".into(), Err("connection refused".into())),
        ])
        .unwrap();
        assert_eq!(body["data"]["activeTargets"].as_array().unwrap().len(), 1);
        assert_eq!(
            body["warnings"],
            json!(["scraper http://s1 did not answer: connection refused"])
        );
        let err = merge(vec![("http://s1".into(), Err("timed out".into()))]).unwrap_err();
        assert!(
            err.contains("http://s1") && err.contains("timed out"),
            "{err}"
        );
    }
}
