//! The subset of Alertmanager's v2 HTTP API that `amtool` and Prometheus use:
//! `GET/POST /api/v2/alerts`, `GET /api/v2/alerts/groups`, `GET/POST /api/v2/silences`,
//! `GET/DELETE /api/v2/silence/{id}`, `GET /api/v2/status`, `GET /api/v2/receivers`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use regex::Regex;
use serde::{Deserialize, Serialize};
use telltale_model::now_ms;

use crate::alerting::dispatch::{AlertView, GroupView};
use crate::alerting::matcher::{Matcher, parse_matchers};
use crate::alerting::postable::parse_postable;
use crate::alerting::silence::{Silence, SilenceMatcher};
use crate::error::Error;
use crate::format::{parse_rfc3339, rfc3339_millis};
use crate::labels::{LabelSet, fingerprint_hex};
use crate::rules::manager::RuleManager;

pub use crate::alerting::postable::RESOLVE_TIMEOUT_MS;

#[derive(Clone)]
struct Api {
    manager: Arc<RuleManager>,
    started_ms: i64,
}

/// The v2 routes over `manager`.
pub fn router(manager: Arc<RuleManager>) -> Router {
    let api = Api {
        manager,
        started_ms: now_ms(),
    };
    Router::new()
        .route("/api/v2/alerts", get(get_alerts).post(post_alerts))
        .route("/api/v2/alerts/groups", get(get_groups))
        .route("/api/v2/silences", get(get_silences).post(post_silence))
        .route(
            "/api/v2/silence/{id}",
            get(get_silence).delete(delete_silence),
        )
        .route("/api/v2/status", get(status))
        .route("/api/v2/receivers", get(receivers))
        .with_state(api)
}

/// An error as Alertmanager answers it: the status and the message as a JSON string.
struct ApiError(StatusCode, String);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(
            StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            e.to_string(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

/// The `filter` matchers and boolean flags of a query string.
struct Filters {
    matchers: Vec<Matcher>,
    flags: BTreeMap<String, String>,
}

impl Filters {
    fn parse(pairs: Vec<(String, String)>) -> Result<Filters, ApiError> {
        let mut matchers = Vec::new();
        let mut flags = BTreeMap::new();
        for (key, value) in pairs {
            if key == "filter" {
                matchers.extend(parse_matchers(&value).map_err(|e| bad_request(e.to_string()))?);
            } else {
                flags.insert(key, value);
            }
        }
        Ok(Filters { matchers, flags })
    }

    fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.flags.get(name).map(String::as_str) {
            None => Ok(true),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(bad_request(format!("{name}: {other:?} is not a boolean"))),
        }
    }

    fn matches(&self, labels: &LabelSet) -> bool {
        self.matchers.iter().all(|m| m.matches(labels))
    }
}

#[derive(Serialize)]
struct ReceiverName {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AlertStatusJson {
    state: &'static str,
    silenced_by: Vec<String>,
    inhibited_by: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableAlert {
    labels: LabelSet,
    annotations: LabelSet,
    starts_at: String,
    ends_at: String,
    updated_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: String,
    fingerprint: String,
    receivers: Vec<ReceiverName>,
    status: AlertStatusJson,
}

impl GettableAlert {
    fn of(v: &AlertView) -> GettableAlert {
        let muted = !v.silenced_by.is_empty() || !v.inhibited_by.is_empty();
        GettableAlert {
            labels: v.alert.labels.clone(),
            annotations: v.alert.annotations.clone(),
            starts_at: rfc3339_millis(v.alert.starts_at_ms),
            ends_at: rfc3339_millis(v.alert.ends_at_ms.unwrap_or(-1)),
            updated_at: rfc3339_millis(v.updated_at_ms),
            generator_url: v.alert.generator_url.clone(),
            fingerprint: fingerprint_hex(&v.alert.labels),
            receivers: v
                .receivers
                .iter()
                .map(|r| ReceiverName { name: r.clone() })
                .collect(),
            status: AlertStatusJson {
                state: if muted { "suppressed" } else { "active" },
                silenced_by: v.silenced_by.clone(),
                inhibited_by: v.inhibited_by.clone(),
            },
        }
    }
}

/// Whether the alert passes the `active`, `silenced`, `inhibited` and `receiver` filters.
fn alert_wanted(v: &AlertView, f: &Filters, receiver: Option<&Regex>) -> Result<bool, ApiError> {
    let silenced = !v.silenced_by.is_empty();
    let inhibited = !v.inhibited_by.is_empty();
    if !f.flag("active")? && !silenced && !inhibited {
        return Ok(false);
    }
    if (!f.flag("silenced")? && silenced) || (!f.flag("inhibited")? && inhibited) {
        return Ok(false);
    }
    if let Some(re) = receiver
        && !v.receivers.iter().any(|r| re.is_match(r))
    {
        return Ok(false);
    }
    Ok(f.matches(&v.alert.labels))
}

fn receiver_regex(f: &Filters) -> Result<Option<Regex>, ApiError> {
    f.flags
        .get("receiver")
        .map(|r| Regex::new(&format!("^(?:{r})$")).map_err(|e| bad_request(e.to_string())))
        .transpose()
}

async fn get_alerts(
    State(api): State<Api>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<GettableAlert>>, ApiError> {
    let f = Filters::parse(query)?;
    let receiver = receiver_regex(&f)?;
    let mut out = Vec::new();
    for v in api.manager.dispatcher().alerts(now_ms()) {
        if alert_wanted(&v, &f, receiver.as_ref())? {
            out.push(GettableAlert::of(&v));
        }
    }
    Ok(Json(out))
}

fn time_field(name: &str, value: &Option<String>) -> Result<Option<i64>, ApiError> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => match parse_rfc3339(s) {
            Some(i64::MIN) => Ok(None),
            Some(t) => Ok(Some(t)),
            None => Err(bad_request(format!(
                "{name}: {s:?} is not an RFC 3339 time"
            ))),
        },
    }
}

async fn post_alerts(
    State(api): State<Api>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    let now = now_ms();
    let accepted = match parse_postable(&body, now) {
        Ok(a) => a,
        Err(message) => {
            api.manager.dispatcher().count_invalid();
            return Err(bad_request(message));
        }
    };
    let manager = api.manager.clone();
    // Storing many alerts costs in proportion to them: off the async workers.
    let _ = tokio::task::spawn_blocking(move || manager.dispatcher().put(accepted, now)).await;
    Ok(StatusCode::OK)
}

#[derive(Serialize)]
struct AlertGroupJson {
    labels: LabelSet,
    receiver: ReceiverName,
    alerts: Vec<GettableAlert>,
}

async fn get_groups(
    State(api): State<Api>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<AlertGroupJson>>, ApiError> {
    let f = Filters::parse(query)?;
    let receiver = receiver_regex(&f)?;
    let mut out = Vec::new();
    for GroupView {
        labels,
        receiver: name,
        alerts,
    } in api.manager.dispatcher().groups(now_ms())
    {
        let mut kept = Vec::new();
        for v in &alerts {
            if alert_wanted(v, &f, receiver.as_ref())? {
                kept.push(GettableAlert::of(v));
            }
        }
        if !kept.is_empty() {
            out.push(AlertGroupJson {
                labels,
                receiver: ReceiverName { name },
                alerts: kept,
            });
        }
    }
    Ok(Json(out))
}

#[derive(Serialize)]
struct SilenceStatusJson {
    state: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GettableSilence {
    id: String,
    status: SilenceStatusJson,
    updated_at: String,
    matchers: Vec<SilenceMatcher>,
    starts_at: String,
    ends_at: String,
    created_by: String,
    comment: String,
}

impl GettableSilence {
    fn of(s: &Silence, now: i64) -> GettableSilence {
        GettableSilence {
            id: s.id.clone(),
            status: SilenceStatusJson {
                state: s.state(now).as_str(),
            },
            updated_at: rfc3339_millis(s.updated_at_ms),
            matchers: s.matchers.clone(),
            starts_at: rfc3339_millis(s.starts_at_ms),
            ends_at: rfc3339_millis(s.ends_at_ms),
            created_by: s.created_by.clone(),
            comment: s.comment.clone(),
        }
    }
}

/// Whether the label set the silence's equality matchers describe passes the filter, as
/// Alertmanager filters silences.
fn silence_wanted(s: &Silence, f: &Filters) -> bool {
    let labels: LabelSet = s
        .matchers
        .iter()
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    f.matches(&labels)
}

async fn get_silences(
    State(api): State<Api>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Vec<GettableSilence>>, ApiError> {
    let f = Filters::parse(query)?;
    let now = now_ms();
    let mut silences: Vec<Silence> = api
        .manager
        .dispatcher()
        .silences()
        .into_iter()
        .filter(|s| silence_wanted(s, &f))
        .collect();
    // Active first, then pending, then expired; newest end first within each.
    silences.sort_by_key(|s| {
        let rank = match s.state(now).as_str() {
            "active" => 0,
            "pending" => 1,
            _ => 2,
        };
        (rank, std::cmp::Reverse(s.ends_at_ms))
    });
    Ok(Json(
        silences
            .iter()
            .map(|s| GettableSilence::of(s, now))
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostableSilence {
    #[serde(default)]
    id: String,
    matchers: Vec<SilenceMatcher>,
    starts_at: String,
    ends_at: String,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SilenceCreated {
    #[serde(rename = "silenceID")]
    silence_id: String,
}

async fn post_silence(
    State(api): State<Api>,
    Json(p): Json<PostableSilence>,
) -> Result<Json<SilenceCreated>, ApiError> {
    let starts = time_field("startsAt", &Some(p.starts_at))?
        .ok_or_else(|| bad_request("startsAt is required"))?;
    let ends =
        time_field("endsAt", &Some(p.ends_at))?.ok_or_else(|| bad_request("endsAt is required"))?;
    let id = api.manager.dispatcher().set_silence(Silence {
        id: p.id,
        matchers: p.matchers,
        starts_at_ms: starts,
        ends_at_ms: ends,
        updated_at_ms: 0,
        created_by: p.created_by,
        comment: p.comment,
    })?;
    tracing::info!(%id, "silence set");
    Ok(Json(SilenceCreated { silence_id: id }))
}

async fn get_silence(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<Json<GettableSilence>, ApiError> {
    let s = api
        .manager
        .dispatcher()
        .silence(&id)
        .ok_or(Error::SilenceNotFound { id })?;
    Ok(Json(GettableSilence::of(&s, now_ms())))
}

async fn delete_silence(
    State(api): State<Api>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    api.manager.dispatcher().expire_silence(&id)?;
    tracing::info!(%id, "silence expired");
    Ok(StatusCode::OK)
}

async fn receivers(State(api): State<Api>) -> Json<Vec<ReceiverName>> {
    Json(
        api.manager
            .dispatcher()
            .receivers()
            .into_iter()
            .map(|name| ReceiverName { name })
            .collect(),
    )
}

async fn status(State(api): State<Api>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "cluster": {"status": "disabled", "peers": []},
        "versionInfo": {
            "branch": "",
            "buildDate": "",
            "buildUser": "",
            "goVersion": "",
            "revision": "",
            "version": concat!("telltale-", env!("CARGO_PKG_VERSION")),
        },
        "config": {"original": api.manager.alerting_yaml()},
        "uptime": rfc3339_millis(api.started_ms),
    }))
}
