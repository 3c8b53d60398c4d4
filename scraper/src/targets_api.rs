//! `GET /api/v1/targets` in Prometheus's JSON shape, from [`ScrapeManager::targets`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use telltale_crds::PromDuration;

use crate::manager::{ScrapeManager, TargetState};

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
    /// Always empty: static targets are never dropped (there is no relabeling yet).
    pub dropped_targets: Vec<serde_json::Value>,
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
}

/// The response for `states` under `query` (pure).
pub fn targets_response(states: &[TargetState], query: &TargetsQuery) -> TargetsResponse {
    let state = query.state.as_deref().unwrap_or("").to_ascii_lowercase();
    let show_active = matches!(state.as_str(), "" | "any" | "active");
    let active_targets = if show_active {
        states
            .iter()
            .filter(|s| {
                query
                    .scrape_pool
                    .as_deref()
                    .is_none_or(|p| p.is_empty() || p == s.target.pool)
            })
            .map(active_target)
            .collect()
    } else {
        Vec::new()
    };
    TargetsResponse {
        status: "success",
        data: TargetsData {
            active_targets,
            dropped_targets: Vec::new(),
        },
    }
}

fn active_target(s: &TargetState) -> ActiveTarget {
    let t = &s.target;
    let interval = PromDuration(t.interval).to_string();
    let timeout = PromDuration(t.timeout).to_string();
    let mut discovered: BTreeMap<String, String> = t.group_labels.clone();
    discovered.insert("__address__".into(), t.address.clone());
    discovered.insert("__metrics_path__".into(), t.path.clone());
    discovered.insert("__scheme__".into(), t.scheme.as_str().into());
    discovered.insert("__scrape_interval__".into(), interval.clone());
    discovered.insert("__scrape_timeout__".into(), timeout.clone());
    discovered
        .entry("job".into())
        .or_insert_with(|| t.job.clone());
    for (name, values) in &t.params {
        if let Some(first) = values.first() {
            discovered.insert(format!("__param_{name}"), first.clone());
        }
    }
    ActiveTarget {
        discovered_labels: discovered,
        labels: t.labels.iter().cloned().collect(),
        scrape_pool: t.pool.clone(),
        scrape_url: t.url.to_string(),
        global_url: t.url.to_string(),
        last_error: s.health.last_error.clone().unwrap_or_default(),
        last_scrape: s
            .health
            .last_scrape
            .map(rfc3339)
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
        last_scrape_duration: s.health.last_duration.as_secs_f64(),
        health: s.health.health.as_str(),
        scrape_interval: interval,
        scrape_timeout: timeout,
    }
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// The axum handler.
pub async fn targets(
    State(manager): State<Arc<ScrapeManager>>,
    Query(query): Query<TargetsQuery>,
) -> Json<TargetsResponse> {
    Json(targets_response(&manager.targets(), &query))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use telltale_crds::Scheme;

    use super::*;
    use crate::health::{Health, ScrapeHealth};
    use crate::target::{Target, scrape_url, target_labels};

    fn state() -> TargetState {
        let params = BTreeMap::from([("module".to_string(), vec!["m".to_string()])]);
        let group = BTreeMap::from([("env".to_string(), "prod".to_string())]);
        TargetState {
            target: Arc::new(Target {
                pool: "ns/node".into(),
                job: "node".into(),
                address: "h:9100".into(),
                scheme: Scheme::Http,
                path: "/metrics".into(),
                params: params.clone(),
                interval: Duration::from_secs(30),
                timeout: Duration::from_secs(10),
                labels: target_labels("node", "h:9100", &group),
                group_labels: group,
                url: scrape_url(Scheme::Http, "h:9100", "/metrics", &params).unwrap(),
            }),
            health: ScrapeHealth {
                health: Health::Down,
                last_scrape: Some(UNIX_EPOCH + Duration::from_millis(1_600_000_000_500)),
                last_duration: Duration::from_millis(20),
                last_error: Some("server returned HTTP status 500".into()),
            },
        }
    }

    #[test]
    fn renders_prometheus_shape() {
        let resp = targets_response(&[state()], &TargetsQuery::default());
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
        assert_eq!(v["data"]["droppedTargets"], serde_json::json!([]));
    }

    #[test]
    fn filters_by_state_and_pool() {
        let q = |state: Option<&str>, pool: Option<&str>| TargetsQuery {
            state: state.map(String::from),
            scrape_pool: pool.map(String::from),
        };
        let n = |q: TargetsQuery| targets_response(&[state()], &q).data.active_targets.len();
        assert_eq!(n(q(Some("active"), None)), 1);
        assert_eq!(n(q(Some("dropped"), None)), 0);
        assert_eq!(n(q(None, Some("ns/node"))), 1);
        assert_eq!(n(q(Some("any"), Some("other"))), 0);
    }

    #[test]
    fn never_scraped_is_unknown_at_year_one() {
        let mut s = state();
        s.health = ScrapeHealth::default();
        let resp = targets_response(&[s], &TargetsQuery::default());
        let t = &resp.data.active_targets[0];
        assert_eq!(t.health, "unknown");
        assert_eq!(t.last_scrape, "0001-01-01T00:00:00Z");
    }
}
