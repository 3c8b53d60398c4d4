//! `/api/v1/admin/tsdb/...`: Prometheus's TSDB admin API (`delete_series`,
//! `clean_tombstones`, `snapshot`), as Prometheus 2.42's `web/api/v1` answers it: POST
//! or PUT only; without `--web.enable-admin-api` every call is 503 `unavailable`,
//! "admin APIs disabled"; `delete_series` and `clean_tombstones` answer 204 with no body,
//! `snapshot` `{"name": ...}`. Storage does the work ([`StorageAdmin`]): deletes and
//! cleans through every shard's Raft log, a snapshot per shard leader under one name.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use telltale_storage_api::admin::new_snapshot_name;
use telltale_storage_api::{DeleteSeriesRequest, SnapshotRequest, StorageAdmin};
use tracing::info;

use super::params::{Params, parse_match_sets, parse_time};
use super::{request_params, respond, response};
use crate::engine::Engine;
use crate::error::{Error, Result};

/// What the admin routes need: the engine (limits, metrics) and the storage's admin
/// operations, `None` when the admin API is off.
#[derive(Clone)]
struct AdminState {
    engine: Arc<Engine>,
    admin: Option<Arc<dyn StorageAdmin>>,
}

/// The admin routes; `admin` is `None` without `--web.enable-admin-api`.
pub fn router(engine: Arc<Engine>, admin: Option<Arc<dyn StorageAdmin>>) -> Router {
    Router::new()
        .route(
            "/api/v1/admin/tsdb/delete_series",
            post(delete_series).put(delete_series),
        )
        .route(
            "/api/v1/admin/tsdb/clean_tombstones",
            post(clean_tombstones).put(clean_tombstones),
        )
        .route("/api/v1/admin/tsdb/snapshot", post(snapshot).put(snapshot))
        .with_state(AdminState { engine, admin })
}

impl AdminState {
    fn enabled(&self) -> Result<&Arc<dyn StorageAdmin>> {
        self.admin.as_ref().ok_or_else(|| Error::Unavailable {
            message: "admin APIs disabled".to_string(),
        })
    }
}

fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `start` / `end`, all time when absent (Prometheus's `MinTime` / `MaxTime`).
fn bound(p: &Params, name: &str, default: i64) -> Result<i64> {
    match p.get(name) {
        None | Some("") => Ok(default),
        Some(s) => parse_time(name, s),
    }
}

/// `POST|PUT /api/v1/admin/tsdb/delete_series?match[]=...&start=...&end=...`.
async fn delete_series(
    State(st): State<AdminState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    respond(&st.engine, "admin_delete_series", async {
        let admin = st.enabled()?;
        let p = request_params(&st.engine, &headers, q, body).await?;
        let matches = p.get_all("match[]");
        if matches.is_empty() {
            return Err(Error::bad_data("no match[] parameter provided"));
        }
        let start = bound(&p, "start", i64::MIN)?;
        let end = bound(&p, "end", i64::MAX)?;
        let match_sets = parse_match_sets(&matches)?;
        admin
            .delete_series(DeleteSeriesRequest {
                match_sets,
                start_ms: start,
                end_ms: end,
            })
            .await?;
        info!(matches = ?matches, start, end, "delete_series done");
        Ok(no_content())
    })
    .await
}

/// `POST|PUT /api/v1/admin/tsdb/clean_tombstones`.
async fn clean_tombstones(State(st): State<AdminState>) -> Response {
    respond(&st.engine, "admin_clean_tombstones", async {
        st.enabled()?.clean_tombstones().await?;
        info!("clean_tombstones done");
        Ok(no_content())
    })
    .await
}

/// `POST|PUT /api/v1/admin/tsdb/snapshot?skip_head=<bool>`.
async fn snapshot(
    State(st): State<AdminState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    respond(&st.engine, "admin_snapshot", async {
        let admin = st.enabled()?;
        let p = request_params(&st.engine, &headers, q, body).await?;
        let skip_head = match p.get("skip_head") {
            None | Some("") => false,
            Some(s) => parse_go_bool(s).ok_or_else(|| {
                Error::bad_data(format!(
                    "invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing {s:?}: invalid syntax"
                ))
            })?,
        };
        let name = new_snapshot_name();
        let dirs = admin
            .snapshot(SnapshotRequest {
                name: name.clone(),
                skip_head,
            })
            .await?;
        info!(name, skip_head, dirs = ?dirs, "snapshot written");
        Ok(response::success(
            format!("{{\"name\":{}}}", response::json_string(&name)),
            &[],
        ))
    })
    .await
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_parse_as_go_s() {
        assert_eq!(parse_go_bool("T"), Some(true));
        assert_eq!(parse_go_bool("False"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
        assert_eq!(parse_go_bool("tRUE"), None);
    }
}
