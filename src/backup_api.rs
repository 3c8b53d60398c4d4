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
//!  telltale restore ... --if-empty [--peers ... --initial-voters N]   (a MetricCluster's
//!     init container, spec.restore)
//!     └─ DIR holds data, or a peer belongs to the group ─▶ nothing (exit 0)
//!     └─ else restored into DIR/.telltale-restore/data ─▶ renamed DIR/.telltale-restored
//!        (complete) ─▶ its entries moved up into DIR (a later run finishes an
//!        interrupted move)
//! ```

use std::collections::HashMap;
use std::path::Path;
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
use telltale_storage_api::cluster::reconcile;
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
    if args.if_empty {
        return restore_if_empty(&args).await;
    }
    restore_into(&args, &args.data_dir).await
}

/// The backup's shard (`--shard`) restored into `dir` (absent or empty), made a group of
/// one.
async fn restore_into(args: &RestoreArgs, dir: &Path) -> anyhow::Result<()> {
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
    let manifest = restore_shard(&from, shard, dir).await?;
    // The snapshot remembers its group's voters: the restored data starts a group of one.
    telltale_replica::restore::become_group_of_one(dir)
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

/// `--if-empty`'s restore is staged in this directory inside the data directory...
const STAGING: &str = ".telltale-restore";
/// ...and renamed to this one once complete (a group of one), whose entries are then
/// moved up into the data directory: a run that finds it finishes the move.
const RESTORED: &str = ".telltale-restored";

/// `--if-empty`: restores into `--data-dir` only when it holds no data (and, with
/// `--peers`, the shard's group does not exist), inside it, so that the data directory
/// may be a volume's mount point on a read-only root.
async fn restore_if_empty(args: &RestoreArgs) -> anyhow::Result<()> {
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let restored = dir.join(RESTORED);
    if !restored.exists() {
        if let Some(entry) = data_entry(dir)? {
            println!("{} holds data ({entry}): not restored", dir.display());
            return Ok(());
        }
        if let Some(peers) = &args.peers {
            args.grpc_tls.install_client()?;
            if group_exists(peers, args.initial_voters).await? {
                println!(
                    "the shard's group exists: {} is left empty, for replica 1 to rejoin it",
                    dir.display()
                );
                return Ok(());
            }
        }
        let staging = dir.join(STAGING);
        if staging.exists() {
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("cannot remove {}", staging.display()))?;
        }
        std::fs::create_dir(&staging)?;
        let data = staging.join("data");
        restore_into(args, &data).await?;
        std::fs::rename(&data, &restored)?;
        sync_dir(dir)?;
    }
    for entry in std::fs::read_dir(&restored)? {
        let entry = entry?;
        std::fs::rename(entry.path(), dir.join(entry.file_name()))
            .with_context(|| format!("cannot move {} into place", entry.path().display()))?;
    }
    sync_dir(dir)?;
    std::fs::remove_dir(&restored)?;
    let staging = dir.join(STAGING);
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    tracing::info!(dir = %dir.display(), "restored data in place");
    Ok(())
}

/// The first entry of `dir` that is data: anything but a file system's `lost+found` and
/// an unfinished restore's staging directory.
fn data_entry(dir: &Path) -> anyhow::Result<Option<String>> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name != "lost+found" && name != STAGING {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))
}

/// Whether the group the restored data would be replica 1 of exists: `true` as soon as a
/// peer says it belongs to a group; `false` once a majority of the first
/// `initial_voters` (replica 1 included) answers and none does. Waits until one of them.
async fn group_exists(peers: &str, initial_voters: Option<usize>) -> anyhow::Result<bool> {
    let peers = telltale_replica::Peers::parse(peers)?;
    anyhow::ensure!(
        peers.0.contains_key(&1),
        "--peers has no replica 1 (the restored data's)"
    );
    let initial: Vec<u64> = peers
        .0
        .keys()
        .take(initial_voters.unwrap_or(peers.0.len()))
        .copied()
        .collect();
    let timeout = std::time::Duration::from_secs(1);
    let started = std::time::Instant::now();
    let mut said = std::time::Instant::now();
    loop {
        let asks = peers
            .0
            .iter()
            .filter(|(id, _)| **id != 1)
            .map(|(id, address)| async move {
                let status = reconcile::status(address, timeout).await;
                (*id, status.map(|s| s.initialized))
            });
        let answers: Vec<(u64, bool)> = futures::future::join_all(asks)
            .await
            .into_iter()
            .filter_map(|(id, s)| Some((id, s?)))
            .collect();
        if let Some((id, _)) = answers.iter().find(|(_, initialized)| *initialized) {
            tracing::info!(replica = id, "a peer belongs to the shard's group");
            return Ok(true);
        }
        let uninitialized = 1 + answers
            .iter()
            .filter(|(id, _)| initial.contains(id))
            .count();
        if uninitialized > initial.len() / 2 {
            return Ok(false);
        }
        if said.elapsed() >= std::time::Duration::from_secs(10) {
            said = std::time::Instant::now();
            tracing::info!(answering = uninitialized, initial_voters = initial.len(), waited = ?started.elapsed(), "waiting for a majority of the initial voters to answer before restoring");
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}
