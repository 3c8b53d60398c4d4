//! Backups of a running Telltale to object storage, and restores from them:
//!
//! ```text
//!  telltale backup --url http://HOST:PORT --to s3://bucket/prefix
//!     └─ POST /api/v1/admin/backup?to=URL (standalone, dev-cluster, a storage node's
//!        leader; --web.enable-admin-api)
//!          └─ a snapshot per shard through Raft (everything acknowledged before it is in
//!             it) ─▶ telltale_backup::upload_dir per shard ─▶ backup.json ─▶ snapshots removed
//!  telltale restore --from URL --data-dir DIR [--shard N]
//!     └─ telltale_backup::restore_shard ─▶ DIR ─▶ become_group_of_one: a data directory
//!        `standalone` (or a new cluster's first replica) starts from
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use telltale_backup::manifest::{BackupIndex, FORMAT};
use telltale_backup::{Location, read_index, restore_shard, upload_dir, write_index};
use telltale_storage_api::admin::new_snapshot_name;
use telltale_storage_api::{SnapshotRequest, StorageAdmin};

use crate::cli::{BackupArgs, RestoreArgs};

#[derive(Clone)]
struct BackupState {
    admin: Option<Arc<dyn StorageAdmin>>,
    source: &'static str,
    shard: Option<u32>,
}

/// `POST /api/v1/admin/backup?to=URL`; `admin` is `None` without
/// `--web.enable-admin-api` (503, as the other admin routes). `source` names what is
/// backed up in the backup's index. The snapshots `admin` answers are shards 0, 1, …
/// unless `shard` names the one shard a storage node holds.
pub fn router(
    admin: Option<Arc<dyn StorageAdmin>>,
    source: &'static str,
    shard: Option<u32>,
) -> Router {
    Router::new()
        .route("/api/v1/admin/backup", post(backup).put(backup))
        .with_state(BackupState {
            admin,
            source,
            shard,
        })
}

fn error(code: StatusCode, kind: &str, message: String) -> Response {
    (
        code,
        axum::Json(json!({"status": "error", "errorType": kind, "error": message})),
    )
        .into_response()
}

async fn backup(
    State(st): State<BackupState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(admin) = st.admin else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "admin APIs disabled".into(),
        );
    };
    let Some(to) = q.get("to").filter(|t| !t.is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "bad_data",
            "to is required: s3://BUCKET/PREFIX or file:///PATH".into(),
        );
    };
    let location = match Location::parse(to) {
        Ok(l) => l,
        Err(e) => return error(StatusCode::BAD_REQUEST, "bad_data", e.to_string()),
    };
    let name = new_snapshot_name();
    let created_ms = telltale_model::now_ms();
    let dirs = match admin
        .snapshot(SnapshotRequest {
            name: name.clone(),
            skip_head: false,
        })
        .await
    {
        Ok(dirs) => dirs,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            );
        }
    };
    let result = async {
        let mut shards = Vec::new();
        let mut ids = Vec::new();
        for (i, dir) in dirs.iter().enumerate() {
            let shard = st.shard.unwrap_or(i as u32);
            let manifest = upload_dir(std::path::Path::new(dir), &location, shard).await?;
            shards.push(
                json!({"shard": shard, "files": manifest.files.len(), "bytes": manifest.bytes()}),
            );
            ids.push(shard);
        }
        let index = BackupIndex {
            format: FORMAT,
            created_ms,
            source: st.source.to_string(),
            shards: ids,
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        write_index(&location, &index).await?;
        Ok::<_, telltale_backup::Error>(shards)
    }
    .await;
    // The local snapshots were only the backup's source.
    for dir in &dirs {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            tracing::warn!(%dir, error = %e, "the snapshot of a backup was not removed");
        }
    }
    match result {
        Ok(shards) => {
            tracing::info!(to = %location.url, snapshot = %name, "backup written");
            axum::Json(json!({"status": "success", "data": {"to": to, "createdMs": created_ms, "shards": shards}}))
                .into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()),
    }
}

/// `telltale backup`: asks the process at `--url` to back up to `--to`, prints its answer.
pub async fn backup_command(args: BackupArgs) -> anyhow::Result<()> {
    let url = format!("{}/api/v1/admin/backup", args.url.trim_end_matches('/'));
    let resp = reqwest::Client::new()
        .post(&url)
        .query(&[("to", &args.to)])
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status();
    let body: serde_json::Value = resp
        .json()
        .await
        .with_context(|| format!("{url} answered {status} without JSON"))?;
    anyhow::ensure!(
        status.is_success(),
        "backup to {} failed ({status}): {}",
        args.to,
        body["error"].as_str().unwrap_or_default()
    );
    println!("{}", serde_json::to_string_pretty(&body["data"])?);
    Ok(())
}

/// `telltale restore`: one shard of the backup at `--from` into `--data-dir`.
pub async fn restore_command(args: RestoreArgs) -> anyhow::Result<()> {
    let from = Location::parse(&args.from)?;
    let index = read_index(&from).await?;
    let shard = match (args.shard, index.shards.as_slice()) {
        (Some(s), shards) if shards.contains(&s) => s,
        (Some(s), shards) => {
            anyhow::bail!("the backup has no shard {s}: its shards are {shards:?}")
        }
        (None, [only]) => *only,
        (None, shards) => anyhow::bail!(
            "the backup has the shards {shards:?}: choose one with --shard (each restores into a data directory of its own)"
        ),
    };
    let dir: PathBuf = args.data_dir;
    let manifest = restore_shard(&from, shard, &dir).await?;
    // The snapshot remembers its group's voters: the restored data starts a group of one.
    telltale_replica::restore::become_group_of_one(&dir)
        .await
        .with_context(|| format!("cannot make {} a group of one", dir.display()))?;
    println!(
        "restored shard {shard} of {} (taken {} by {} {}): {} files, {} bytes into {}",
        args.from,
        telltale_model::format_rfc3339(index.created_ms),
        index.source,
        index.version,
        manifest.files.len(),
        manifest.bytes(),
        dir.display()
    );
    Ok(())
}
