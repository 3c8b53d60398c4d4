//! `GET /api/v1/metadata` and `GET /api/v1/targets/metadata`: the type, help and unit of
//! each metric (per target for the second), from what the
//! `# TYPE`, `# HELP` and `# UNIT` lines of the targets' last scrapes said, as
//! Prometheus answers it: `{"<metric>": [{"type", "help", "unit"}, ...]}` with each
//! distinct triple once, a family without a `# TYPE` (or `untyped`) typed `unknown`. `metric` keeps one
//! metric; `limit` caps the metrics and `limit_per_metric` the entries of each (negative
//! or absent: no cap). [`Metadata`] merges the answers of several scrapers the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::pull::manager::ScrapeManager;
use crate::pull::text::MetricType;

/// The query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct MetadataQuery {
    #[serde(default)]
    pub metric: Option<String>,
    #[serde(default)]
    pub limit: Option<String>,
    #[serde(default)]
    pub limit_per_metric: Option<String>,
}

/// One metadata entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    #[serde(rename = "type")]
    pub kind: String,
    pub help: String,
    pub unit: String,
}

/// Metric name -> its distinct entries.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Metadata(pub BTreeMap<String, BTreeSet<Entry>>);

/// A parameter that must be an integer when present (negative: no cap).
fn cap(name: &str, v: Option<&str>) -> Result<Option<usize>, String> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => {
            let n: i64 = v.parse().map_err(|_| format!("{name} must be a number"))?;
            Ok(usize::try_from(n).ok())
        }
    }
}

/// What a target's metadata says about one metric family.
fn entry_of(m: &crate::pull::text::Metadata) -> Entry {
    Entry {
        // The text format's `untyped` is Prometheus's `unknown`.
        kind: match m.kind {
            None | Some(MetricType::Untyped) => MetricType::Unknown,
            Some(k) => k,
        }
        .as_str()
        .to_string(),
        help: m.help.clone().unwrap_or_default(),
        unit: m.unit.clone().unwrap_or_default(),
    }
}

impl Metadata {
    /// Adds one entry of `metric`.
    pub fn add(&mut self, metric: &str, entry: Entry) {
        self.0.entry(metric.to_string()).or_default().insert(entry);
    }

    /// Every entry of the manager's targets.
    pub fn of(manager: &ScrapeManager) -> Self {
        let mut out = Metadata::default();
        for state in manager.targets() {
            for m in state.health.metadata.iter() {
                out.add(&m.name, entry_of(m));
            }
        }
        out
    }

    /// Adds the `data` of another `/api/v1/metadata` answer.
    pub fn merge_json(&mut self, data: &serde_json::Value) {
        for (metric, entries) in data.as_object().into_iter().flatten() {
            for e in entries.as_array().into_iter().flatten() {
                if let Ok(entry) = serde_json::from_value::<Entry>(e.clone()) {
                    self.add(metric, entry);
                }
            }
        }
    }

    /// The `data` of the answer to `query` (Prometheus's filtering and limits), or the
    /// parameter error.
    pub fn answer(&self, query: &MetadataQuery) -> Result<serde_json::Value, String> {
        let limit = cap("limit", query.limit.as_deref())?;
        let per_metric = cap("limit_per_metric", query.limit_per_metric.as_deref())?;
        let metric = query.metric.as_deref().filter(|m| !m.is_empty());
        let mut out = serde_json::Map::new();
        for (name, entries) in &self.0 {
            if metric.is_some_and(|m| m != name) {
                continue;
            }
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
            let list: Vec<&Entry> = entries
                .iter()
                .take(per_metric.unwrap_or(usize::MAX))
                .collect();
            out.insert(name.clone(), json!(list));
        }
        Ok(serde_json::Value::Object(out))
    }
}

/// The query parameters of `/api/v1/targets/metadata`.
#[derive(Debug, Default, Deserialize)]
pub struct TargetMetadataQuery {
    /// A series selector the target's labels must match (`{job="node"}`).
    #[serde(default)]
    pub match_target: Option<String>,
    #[serde(default)]
    pub metric: Option<String>,
    #[serde(default)]
    pub limit: Option<String>,
}

/// One entry of `/api/v1/targets/metadata`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TargetEntry {
    pub target: BTreeMap<String, String>,
    /// Absent when the request named the metric.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    #[serde(flatten)]
    pub entry: Entry,
}

/// The matchers of a `match_target` selector.
fn target_matchers(selector: &str) -> Result<Vec<promql_parser::label::Matcher>, String> {
    use promql_parser::parser::{Expr, parse};
    match parse(selector) {
        Ok(Expr::VectorSelector(vs)) if vs.matchers.or_matchers.is_empty() => {
            Ok(vs.matchers.matchers)
        }
        Ok(_) => Err(format!("match_target {selector:?} is not a label selector")),
        Err(e) => Err(format!("invalid match_target {selector:?}: {e}")),
    }
}

/// The entries of `/api/v1/targets/metadata` for `query` (Prometheus's semantics: with
/// `metric`, one entry per target that has it; `limit` stops before the next target once
/// reached).
pub fn target_entries(
    manager: &ScrapeManager,
    query: &TargetMetadataQuery,
) -> Result<Vec<TargetEntry>, String> {
    let limit = cap("limit", query.limit.as_deref())?;
    let matchers = match query.match_target.as_deref().filter(|m| !m.is_empty()) {
        Some(m) => target_matchers(m)?,
        None => Vec::new(),
    };
    let metric = query.metric.as_deref().filter(|m| !m.is_empty());
    let mut out = Vec::new();
    for state in manager.targets() {
        if limit.is_some_and(|l| out.len() >= l) {
            break;
        }
        let labels: BTreeMap<String, String> = state
            .target
            .labels
            .iter()
            .filter(|(n, _)| !n.starts_with("__"))
            .cloned()
            .collect();
        let matches = matchers
            .iter()
            .all(|m| m.is_match(labels.get(&m.name).map(String::as_str).unwrap_or("")));
        if !matches {
            continue;
        }
        for m in state.health.metadata.iter() {
            if metric.is_some_and(|want| want != m.name) {
                continue;
            }
            out.push(TargetEntry {
                target: labels.clone(),
                metric: metric.is_none().then(|| m.name.clone()),
                entry: entry_of(m),
            });
        }
    }
    Ok(out)
}

/// The axum handler of `/api/v1/targets/metadata`: 404 when nothing matches, as
/// Prometheus.
pub async fn target_metadata(
    State(manager): State<Arc<ScrapeManager>>,
    Query(query): Query<TargetMetadataQuery>,
) -> Response {
    match target_entries(&manager, &query) {
        Ok(entries) if entries.is_empty() => (
            StatusCode::NOT_FOUND,
            Json(json!({"status": "error", "errorType": "not_found",
                        "error": "specified metadata not found"})),
        )
            .into_response(),
        Ok(entries) => Json(json!({"status": "success", "data": entries})).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errorType": "bad_data", "error": e})),
        )
            .into_response(),
    }
}

/// The axum handler of `/api/v1/metadata`.
pub async fn metadata(
    State(manager): State<Arc<ScrapeManager>>,
    Query(query): Query<MetadataQuery>,
) -> Response {
    match Metadata::of(&manager).answer(&query) {
        Ok(data) => Json(json!({"status": "success", "data": data})).into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "error", "errorType": "bad_data", "error": e})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, help: &str) -> Entry {
        Entry {
            kind: kind.into(),
            help: help.into(),
            unit: String::new(),
        }
    }

    fn q(metric: &str, limit: &str, per: &str) -> MetadataQuery {
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        MetadataQuery {
            metric: opt(metric),
            limit: opt(limit),
            limit_per_metric: opt(per),
        }
    }

    #[test]
    fn distinct_entries_filtered_and_limited() {
        let mut m = Metadata::default();
        m.add("a_total", entry("counter", "A."));
        m.add("a_total", entry("counter", "A."));
        m.add("a_total", entry("counter", "A, from another target."));
        m.add("b", entry("gauge", "B."));
        let all = m.answer(&q("", "", "")).unwrap();
        assert_eq!(all["a_total"].as_array().unwrap().len(), 2);
        assert_eq!(
            all["b"][0],
            json!({"type": "gauge", "help": "B.", "unit": ""})
        );
        assert_eq!(
            m.answer(&q("b", "", ""))
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            m.answer(&q("", "1", ""))
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            m.answer(&q("", "-1", ""))
                .unwrap()
                .as_object()
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            m.answer(&q("", "", "1")).unwrap()["a_total"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            m.answer(&q("", "x", "")).unwrap_err(),
            "limit must be a number"
        );
        let mut merged = Metadata::default();
        merged.merge_json(&all);
        merged.merge_json(&json!({"c": [{"type": "summary", "help": "", "unit": "seconds"}]}));
        assert_eq!(merged.0.len(), 3);
        assert_eq!(merged.0["a_total"], m.0["a_total"]);
    }

    #[test]
    fn match_target_is_a_label_selector() {
        assert_eq!(target_matchers("{job=\"node\"}").unwrap().len(), 1);
        assert_eq!(
            target_matchers("{job=~\"n.*\", instance!=\"x\"}")
                .unwrap()
                .len(),
            2
        );
        assert!(target_matchers("rate(x[5m])").is_err());
        assert!(target_matchers("{job=").is_err());
        let entry = TargetEntry {
            target: BTreeMap::from([("job".to_string(), "node".to_string())]),
            metric: None,
            entry: entry("gauge", "G."),
        };
        assert_eq!(
            serde_json::to_value(&entry).unwrap(),
            json!({"target": {"job": "node"}, "type": "gauge", "help": "G.", "unit": ""})
        );
    }
}
