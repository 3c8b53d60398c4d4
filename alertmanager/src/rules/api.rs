//! The Prometheus-compatible HTTP API of the rule evaluator: `GET /api/v1/alerts`,
//! `GET /api/v1/rules` and `GET /api/v1/alertmanagers` (where firing alerts go: the
//! built-in Alertmanager's `/api/v2/alerts` at the external URL); [`router`] also serves
//! the Alertmanager v2 API.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::format::{go_float_e, rfc3339, rfc3339_or_zero};
use crate::labels::LabelSet;
use crate::rules::group::{GroupState, RuleStatus};
use crate::rules::manager::RuleManager;
use crate::rules::state::{Alert, AlertState};

/// The routes, over `manager`: Prometheus's `/api/v1/alerts` and `/api/v1/rules`, and
/// Alertmanager's v2 API ([`crate::alerting::api_v2`]).
pub fn router(manager: Arc<RuleManager>) -> Router {
    Router::new()
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alertmanagers", get(alertmanagers))
        .with_state(manager.clone())
        .merge(crate::alerting::api_v2::router(manager))
}

/// `GET /api/v1/alertmanagers`: the evaluator notifies the Alertmanager it runs beside,
/// reached at the external URL, and the configured external ones.
async fn alertmanagers(State(manager): State<Arc<RuleManager>>) -> Json<serde_json::Value> {
    let mut active = vec![serde_json::json!({"url": format!(
        "{}/api/v2/alerts",
        manager.external_url().trim_end_matches('/')
    )})];
    if let Some(external) = manager.external_alertmanagers() {
        active.extend(
            external
                .endpoints()
                .into_iter()
                .map(|e| serde_json::json!({"url": e.url})),
        );
    }
    Json(serde_json::json!({"status": "success", "data": {
        "activeAlertmanagers": active,
        "droppedAlertmanagers": [],
    }}))
}

#[derive(Serialize)]
struct Envelope<T> {
    status: &'static str,
    data: T,
}

fn success<T>(data: T) -> Json<Envelope<T>> {
    Json(Envelope {
        status: "success",
        data,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertView {
    labels: LabelSet,
    annotations: LabelSet,
    state: &'static str,
    active_at: String,
    value: String,
}

impl AlertView {
    fn of(alert: &Alert) -> AlertView {
        AlertView {
            labels: alert.labels.clone(),
            annotations: alert.annotations.clone(),
            state: alert.state.as_str(),
            active_at: rfc3339(alert.active_at_ms),
            value: go_float_e(alert.value),
        }
    }
}

/// Pending and firing alerts of a rule (resolved ones are not active).
fn active_alerts(rule: &RuleStatus) -> Vec<AlertView> {
    rule.alerts
        .iter()
        .filter(|a| a.state != AlertState::Inactive)
        .map(AlertView::of)
        .collect()
}

#[derive(Serialize)]
struct AlertsData {
    alerts: Vec<AlertView>,
}

async fn alerts(State(manager): State<Arc<RuleManager>>) -> Json<Envelope<AlertsData>> {
    let alerts = manager
        .groups()
        .iter()
        .flat_map(|g| g.rules.iter().flat_map(active_alerts))
        .collect();
    success(AlertsData { alerts })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleView {
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    name: String,
    query: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<f64>,
    labels: LabelSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<LabelSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alerts: Option<Vec<AlertView>>,
    health: &'static str,
    last_error: String,
    evaluation_time: f64,
    last_evaluation: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl RuleView {
    fn of(rule: &RuleStatus) -> RuleView {
        let state = if rule.alerts.count(AlertState::Firing) > 0 {
            AlertState::Firing
        } else if rule.alerts.count(AlertState::Pending) > 0 {
            AlertState::Pending
        } else {
            AlertState::Inactive
        };
        let alerting = !rule.rule.is_recording();
        RuleView {
            state: alerting.then_some(state.as_str()),
            name: rule.rule.name().to_string(),
            query: rule.rule.expr.clone(),
            duration: alerting.then(|| rule.rule.for_.as_duration().as_secs_f64()),
            labels: rule.rule.labels.clone(),
            annotations: alerting.then(|| rule.rule.annotations.clone()),
            alerts: alerting.then(|| active_alerts(rule)),
            health: rule.health.as_str(),
            last_error: rule.last_error.clone().unwrap_or_default(),
            evaluation_time: rule.evaluation_seconds,
            last_evaluation: rfc3339_or_zero(rule.last_evaluation_ms),
            kind: if alerting { "alerting" } else { "recording" },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupView {
    name: String,
    file: String,
    rules: Vec<RuleView>,
    interval: f64,
    evaluation_time: f64,
    last_evaluation: String,
}

impl GroupView {
    fn of(group: &GroupState) -> GroupView {
        GroupView {
            name: group.key.group.clone(),
            file: group.key.file.clone(),
            rules: group.rules.iter().map(RuleView::of).collect(),
            interval: group.interval.as_secs_f64(),
            evaluation_time: group.evaluation_seconds,
            last_evaluation: rfc3339_or_zero(group.last_evaluation_ms),
        }
    }
}

#[derive(Serialize)]
struct RulesData {
    groups: Vec<GroupView>,
}

async fn rules(State(manager): State<Arc<RuleManager>>) -> Json<Envelope<RulesData>> {
    let groups = manager.groups().iter().map(GroupView::of).collect();
    success(RulesData { groups })
}
