//! The `telltale.storage.v1.Admin` service of a replica ([`ReplicaAdmin`]), and the same
//! operations for callers in the process ([`crate::LocalStorage`]): Prometheus's TSDB
//! admin API on one Raft group.
//!
//! - `DeleteSeries` / `CleanTombstones`: the leader (after a linearizable check, so it
//!   has applied everything committed before) prepares the engine's admin record and
//!   proposes it; every replica applies it from the log, and replays, restarts and
//!   snapshot installs carry it like any write.
//! - `Snapshot`: the leader writes `<data-dir>/snapshots/<name>/` laid out as a data
//!   directory — `sm/CURRENT` (`1`) and `sm/1/`, a RocksDB checkpoint of its engine
//!   (hard links; the head flushed first unless `skip_head`) — so
//!   `telltale standalone --data-dir <a copy of it>` (or `telltale storage` without
//!   peers) starts from it: a group of one holding the snapshot's data, with an empty
//!   Raft log.

use std::path::{Path, PathBuf};

use telltale_storage::matcher::Selector;
use telltale_storage_api::admin::is_valid_snapshot_name;
use telltale_storage_api::pb::admin_server::Admin;
use telltale_storage_api::pb::{
    BackupRequest, BackupResponse, CleanTombstonesRequest, CleanTombstonesResponse,
    DeleteSeriesRequest, DeleteSeriesResponse, SnapshotRequest, SnapshotResponse,
};
use telltale_storage_api::tls::{Role, require};
use tonic::{Request, Response, Status};
use tracing::info;

use crate::storage_service::{ReplicaStorage, run_blocking};

impl ReplicaStorage {
    /// Deletes the matching series' data in the request's bounds through the log.
    pub(crate) async fn delete_series(&self, req: DeleteSeriesRequest) -> Result<(), Status> {
        if req.match_sets.is_empty() {
            return Err(Status::invalid_argument("no match[] parameter provided"));
        }
        let engine = self.admit(false).await?;
        let record = run_blocking(move || {
            let selectors = req
                .match_sets
                .iter()
                .map(|set| Selector::from_proto(&set.matchers))
                .collect::<telltale_storage::Result<Vec<_>>>()?;
            engine.prepare_delete(&selectors, req.start_ms, req.end_ms)
        })
        .await?;
        if let Some(record) = record {
            let index = self.propose_admin(record).await?;
            info!(log_index = index, "delete_series applied");
        }
        Ok(())
    }

    /// Rewrites the chunks holding deleted data and drops the tombstones, through the log.
    pub(crate) async fn clean_tombstones(&self) -> Result<(), Status> {
        let engine = self.admit(false).await?;
        let index = self
            .propose_admin(engine.prepare_clean_tombstones())
            .await?;
        info!(log_index = index, "clean_tombstones applied");
        Ok(())
    }

    /// Writes snapshot `name` of the leader's data; returns its directory.
    pub(crate) async fn snapshot(&self, name: &str, skip_head: bool) -> Result<PathBuf, Status> {
        if !is_valid_snapshot_name(name) {
            return Err(Status::invalid_argument(format!(
                "invalid snapshot name {name:?}"
            )));
        }
        let engine = self.admit(false).await?;
        let dir = self.shared().data_dir().join("snapshots").join(name);
        if dir.exists() {
            return Err(Status::already_exists(format!(
                "snapshot {} exists",
                dir.display()
            )));
        }
        let out = dir.clone();
        run_blocking(move || write_snapshot(&engine, &out, skip_head)).await?;
        info!(dir = %dir.display(), skip_head, "snapshot written");
        Ok(dir)
    }
}

/// `dir/sm/1/` (the checkpoint) and `dir/sm/CURRENT`, a data directory's engine layout.
fn write_snapshot(
    engine: &telltale_storage::Engine,
    dir: &Path,
    skip_head: bool,
) -> telltale_storage::Result<()> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| telltale_storage::Error::Io { path, source }
    };
    let sm = dir.join("sm");
    std::fs::create_dir_all(&sm).map_err(io(&sm))?;
    engine.checkpoint_into(&sm.join("1"), !skip_head)?;
    let current = sm.join("CURRENT");
    std::fs::write(&current, b"1").map_err(io(&current))?;
    Ok(())
}

/// The admin gRPC service of a replica.
#[derive(Clone, Debug)]
pub struct ReplicaAdmin {
    storage: ReplicaStorage,
}

impl ReplicaAdmin {
    pub(crate) fn new(storage: ReplicaStorage) -> Self {
        ReplicaAdmin { storage }
    }
}

/// Over mutual TLS, the TSDB admin calls come from the query API (its
/// `--web.enable-admin-api`), the operator or another replica.
const ADMINS: &[Role] = &[Role::Query, Role::Operator, Role::Storage];

#[tonic::async_trait]
impl Admin for ReplicaAdmin {
    async fn delete_series(
        &self,
        req: Request<DeleteSeriesRequest>,
    ) -> Result<Response<DeleteSeriesResponse>, Status> {
        require(&req, "DeleteSeries", ADMINS)?;
        self.storage.delete_series(req.into_inner()).await?;
        Ok(Response::new(DeleteSeriesResponse {}))
    }

    async fn clean_tombstones(
        &self,
        req: Request<CleanTombstonesRequest>,
    ) -> Result<Response<CleanTombstonesResponse>, Status> {
        require(&req, "CleanTombstones", ADMINS)?;
        self.storage.clean_tombstones().await?;
        Ok(Response::new(CleanTombstonesResponse {}))
    }

    async fn backup(
        &self,
        req: Request<BackupRequest>,
    ) -> Result<Response<BackupResponse>, Status> {
        require(&req, "Backup", ADMINS)?;
        let req = req.into_inner();
        let to = telltale_backup::Location::parse(&req.to)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let name = telltale_storage_api::admin::new_snapshot_name();
        let dir = self.storage.snapshot(&name, false).await?;
        let uploaded = telltale_backup::upload_dir(&dir, &to, req.shard).await;
        if let Err(e) = tokio::fs::remove_dir_all(&dir).await {
            tracing::warn!(dir = %dir.display(), error = %e, "the snapshot of a backup was not removed");
        }
        let manifest = uploaded.map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(Response::new(BackupResponse {
            files: manifest.files.len() as u64,
            bytes: manifest.bytes(),
        }))
    }

    async fn snapshot(
        &self,
        req: Request<SnapshotRequest>,
    ) -> Result<Response<SnapshotResponse>, Status> {
        require(&req, "Snapshot", ADMINS)?;
        let req = req.into_inner();
        let dir = self.storage.snapshot(&req.name, req.skip_head).await?;
        Ok(Response::new(SnapshotResponse {
            name: req.name,
            path: dir.display().to_string(),
        }))
    }
}
