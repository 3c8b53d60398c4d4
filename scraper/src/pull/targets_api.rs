//! `GET /api/v1/targets` in Prometheus's JSON shape, from [`ScrapeManager::targets`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use telltale_model::{format_duration, format_rfc3339_nanos};

use crate::discovery::DroppedTarget;
use crate::pull::manager::{ScrapeManager, TargetState};

/// Query parameters: `state` (`active`, `dropped`, `any`) and `scrapePool`.
#[derive(Debug, Default, Deserialize)]
pub struct TargetsQuery {
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default, rename = "scrapePool")]
    pub scrape_pool: Option<String>,
}

/// The envelope `{"status":"success","data":{...}}`.
#[derive(Debug, Serialize)]
pub struct TargetsResponse {
    pub status: &'static str,
    pub data: TargetsData,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetsData {
    pub active_targets: Vec<ActiveTarget>,
    /// Endpoints target relabeling dropped.
    pub dropped_targets: Vec<DroppedTargetView>,
}

/// One entry of `droppedTargets`: the labels before relabeling (and its pool).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DroppedTargetView {
    pub discovered_labels: BTreeMap<String, String>,
    pub scrape_pool: String,
}

/// One entry of `activeTargets`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveTarget {
    pub discovered_labels: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub scrape_pool: String,
    pub scrape_url: String,
    pub global_url: String,
    pub last_error: String,
    /// RFC 3339; `0001-01-01T00:00:00Z` before the first scrape, as Prometheus says it.
    pub last_scrape: String,
    pub last_scrape_duration: f64,
    pub health: &'static str,
    pub scrape_interval: String,
    pub scrape_timeout: String,
    /// The scraper replica that owns and scrapes the target (`null` without a
    /// membership: a single scraper).
    pub scraper: Option<String>,
}

/// The response for `states` and `dropped` under `query` (pure).
pub fn targets_response(
    states: &[TargetState],
    dropped: &[DroppedTarget],
    query: &TargetsQuery,
) -> TargetsResponse {
    let state = query.state.as_deref().unwrap_or("").to_ascii_lowercase();
    let show_active = matches!(state.as_str(), "" | "any" | "active");
    let show_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    let in_pool = |pool: &str| {
        query
            .scrape_pool
            .as_deref()
            .is_none_or(|p| p.is_empty() || p == pool)
    };
    let active_targets = if show_active {
        states
            .iter()
            .filter(|s| in_pool(&s.target.pool))
            .map(active_target)
            .collect()
    } else {
        Vec::new()
    };
    let dropped_targets = if show_dropped {
        dropped
            .iter()
            .filter(|d| in_pool(&d.pool))
            .map(|d| DroppedTargetView {
                discovered_labels: d.discovered_labels.iter().cloned().collect(),
                scrape_pool: d.pool.clone(),
            })
            .collect()
    } else {
        Vec::new()
    };
    TargetsResponse {
        status: "success",
        data: TargetsData {
            active_targets,
            dropped_targets,
        },
    }
}

fn active_target(s: &TargetState) -> ActiveTarget {
    let t = &s.target;
    ActiveTarget {
        discovered_labels: t.discovered_labels.iter().cloned().collect(),
        labels: t.labels.iter().cloned().collect(),
        scrape_pool: t.pool.clone(),
        scrape_url: t.url.to_string(),
        global_url: t.url.to_string(),
        last_error: s.health.last_error.clone().unwrap_or_default(),
        last_scrape: s
            .health
            .last_scrape
            .map(format_rfc3339_nanos)
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        last_scrape_duration: s.health.last_duration.as_secs_f64(),
        health: s.health.health.as_str(),
        scrape_interval: format_duration(t.interval),
        scrape_timeout: format_duration(t.timeout),
        scraper: s.scraper.clone(),
    }
}

/// The axum handler.
pub async fn targets(
    State(manager): State<Arc<ScrapeManager>>,
    Query(query): Query<TargetsQuery>,
) -> Json<TargetsResponse> {
    Json(targets_response(
        &manager.targets(),
        &manager.dropped_targets(),
        &query,
    ))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::pull::health::{Health, ScrapeHealth};

    fn state() -> TargetState {
        let res = crate::discovery::discover(
            &[serde_yaml::from_str(
                "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\n\
                 metadata: {name: node, namespace: ns}\n\
                 spec: {params: {module: [m]}, static: [{targets: ['h:9100'], labels: {env: prod}}]}",
            )
            .unwrap()],
            &crate::discovery::file_sd::FileSdCache::default(),
        );
        TargetState {
            target: Arc::new(res.active[0].clone()),
            health: ScrapeHealth {
                health: Health::Down,
                last_scrape: Some(UNIX_EPOCH + Duration::from_millis(1_600_000_000_500)),
                last_duration: Duration::from_millis(20),
                last_error: Some("server returned HTTP status 500".into()),
                metadata: Arc::from(Vec::new()),
            },
            scraper: Some("telltale-scraper-1".into()),
        }
    }

    fn dropped() -> DroppedTarget {
        DroppedTarget {
            pool: "ns/node".into(),
            discovered_labels: vec![("__address__".into(), "gone:1".into())],
        }
    }

    #[test]
    fn renders_prometheus_shape() {
        let resp = targets_response(&[state()], &[dropped()], &TargetsQuery::default());
        let v = serde_json::to_value(&resp).unwrap();
        assert_eq!(v["status"], "success");
        let t = &v["data"]["activeTargets"][0];
        assert_eq!(t["health"], "down");
        assert_eq!(t["scrapePool"], "ns/node");
        assert_eq!(t["scrapeUrl"], "http://h:9100/metrics?module=m");
        assert_eq!(t["labels"]["instance"], "h:9100");
        assert_eq!(t["labels"]["env"], "prod");
        assert_eq!(t["discoveredLabels"]["__address__"], "h:9100");
        assert_eq!(t["discoveredLabels"]["__param_module"], "m");
        assert_eq!(t["lastError"], "server returned HTTP status 500");
        assert_eq!(t["lastScrape"], "2020-09-13T12:26:40.500000000Z");
        assert_eq!(t["lastScrapeDuration"], 0.02);
        assert_eq!(t["scrapeInterval"], "30s");
        assert_eq!(t["scraper"], "telltale-scraper-1");
        assert_eq!(t["discoveredLabels"]["__scheme__"], "http");
        assert_eq!(t["discoveredLabels"]["job"], "node");
        assert_eq!(
            v["data"]["droppedTargets"][0]["discoveredLabels"]["__address__"],
            "gone:1"
        );
    }

    #[test]
    fn filters_by_state_and_pool() {
        let q = |state: Option<&str>, pool: Option<&str>| TargetsQuery {
            state: state.map(String::from),
            scrape_pool: pool.map(String::from),
        };
        let n = |q: TargetsQuery| {
            targets_response(&[state()], &[dropped()], &q)
                .data
                .active_targets
                .len()
        };
        let d = |q: TargetsQuery| {
            targets_response(&[state()], &[dropped()], &q)
                .data
                .dropped_targets
                .len()
        };
        assert_eq!(n(q(Some("active"), None)), 1);
        assert_eq!(d(q(Some("active"), None)), 0);
        assert_eq!(n(q(Some("dropped"), None)), 0);
        assert_eq!(d(q(Some("dropped"), None)), 1);
        assert_eq!(d(q(None, Some("other"))), 0);
        assert_eq!(n(q(None, Some("ns/node"))), 1);
        assert_eq!(n(q(Some("any"), Some("other"))), 0);
    }

    #[test]
    fn never_scraped_is_unknown_at_year_one() {
        let mut s = state();
        s.health = ScrapeHealth::default();
        let resp = targets_response(&[s], &[], &TargetsQuery::default());
        let t = &resp.data.active_targets[0];
        assert_eq!(t.health, "unknown");
        assert_eq!(t.last_scrape, "0001-01-01T00:00:00Z");
    }
}
