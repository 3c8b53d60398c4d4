//! [`ReplicaStorage`]: the `telltale.storage.v1.Storage` service of a replica. Writes
//! become Raft log entries and are acknowledged once committed on a quorum and applied;
//! a replica that is not the leader answers `FAILED_PRECONDITION` with the leader's
//! address in the [`HEADER_LEADER`] metadata. Reads run on the local engine: on the
//! leader after confirming leadership with a quorum (linearizable) by default, on any
//! replica when the request carries [`HEADER_READ`]` = any` (follower read; the answer
//! carries the replica's applied index in [`HEADER_APPLIED_INDEX`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use openraft::Raft;
use openraft::error::{CheckIsLeaderError, ClientWriteError, RaftError};
use telltale_storage::{GrpcService, WriteCommand};
use telltale_storage_api::pb::storage_server::Storage;
use telltale_storage_api::pb::{
    InfoRequest, InfoResponse, LabelNamesRequest, LabelValuesRequest, SelectRequest,
    SelectResponse, SeriesRequest, SeriesResponse, StringsResponse, WriteRequest, WriteResponse,
};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::metrics::ReplicaMetrics;
use crate::state_machine::SharedEngine;
use crate::types::{NodeId, Request as Entry, TypeConfig};

/// Response metadata: the leader's gRPC address, on `FAILED_PRECONDITION`.
pub const HEADER_LEADER: &str = "telltale-leader";
/// Response metadata: the leader's replica id, on `FAILED_PRECONDITION`.
pub const HEADER_LEADER_ID: &str = "telltale-leader-id";
/// Request metadata: the writer's id, for idempotent retries.
pub const HEADER_CLIENT_ID: &str = "telltale-client-id";
/// Request metadata: the writer's batch number (increasing per writer).
pub const HEADER_BATCH_SEQ: &str = "telltale-batch-seq";
/// Request metadata: `any` lets a follower answer a read.
pub const HEADER_READ: &str = "telltale-read";
/// Response metadata: the answering replica's applied log index.
pub const HEADER_APPLIED_INDEX: &str = "telltale-applied-index";
/// Response metadata: the log index a write was committed at.
pub const HEADER_LOG_INDEX: &str = "telltale-log-index";

/// `FAILED_PRECONDITION` naming the leader, if known.
pub fn not_leader(leader_id: Option<NodeId>, address: Option<String>) -> Status {
    let mut status = Status::failed_precondition(match &address {
        Some(a) => format!("not the leader; the leader is {a}"),
        None => "not the leader; no leader is known yet".to_string(),
    });
    if let Some(Ok(v)) = address.map(|a| a.parse()) {
        status.metadata_mut().insert(HEADER_LEADER, v);
    }
    if let Some(Ok(v)) = leader_id.map(|id| id.to_string().parse()) {
        status.metadata_mut().insert(HEADER_LEADER_ID, v);
    }
    status
}

fn header_u64(md: &MetadataMap, name: &str) -> Result<u64, Status> {
    match md.get(name) {
        None => Ok(0),
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Status::invalid_argument(format!("bad {name} header"))),
    }
}

/// The storage API of one replica.
#[derive(Clone)]
pub struct ReplicaStorage {
    raft: Raft<TypeConfig>,
    shared: Arc<SharedEngine>,
    overrides: Arc<BTreeMap<NodeId, String>>,
    metrics: Arc<ReplicaMetrics>,
}

impl std::fmt::Debug for ReplicaStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaStorage").finish_non_exhaustive()
    }
}

impl ReplicaStorage {
    pub fn new(
        raft: Raft<TypeConfig>,
        shared: Arc<SharedEngine>,
        overrides: Arc<BTreeMap<NodeId, String>>,
        metrics: Arc<ReplicaMetrics>,
    ) -> Self {
        ReplicaStorage {
            raft,
            shared,
            overrides,
            metrics,
        }
    }

    fn leader_address(&self, id: Option<NodeId>) -> Option<String> {
        let id = id?;
        self.overrides.get(&id).cloned().or_else(|| {
            let m = self.raft.metrics().borrow().clone();
            m.membership_config
                .membership()
                .get_node(&id)
                .map(|n| n.addr.clone())
        })
    }

    /// Admits a read: any replica for follower reads, else the leader once a quorum
    /// confirmed it still leads and it applied everything committed before the read.
    async fn admit<T>(&self, req: &Request<T>) -> Result<GrpcService, Status> {
        let follower_ok = req
            .metadata()
            .get(HEADER_READ)
            .is_some_and(|v| v.as_bytes() == b"any");
        if !follower_ok {
            match self.raft.ensure_linearizable().await {
                Ok(_) => {}
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                    return Err(not_leader(f.leader_id, self.leader_address(f.leader_id)));
                }
                Err(e) => return Err(Status::unavailable(e.to_string())),
            }
        }
        let engine = self
            .shared
            .engine()
            .map_err(|e| Status::unavailable(e.to_string()))?;
        Ok(GrpcService::new(engine))
    }

    fn with_applied<T>(&self, mut resp: Response<T>) -> Response<T> {
        let applied = self
            .raft
            .metrics()
            .borrow()
            .last_applied
            .map(|l| l.index)
            .unwrap_or(0);
        if let Ok(v) = applied.to_string().parse() {
            resp.metadata_mut().insert(HEADER_APPLIED_INDEX, v);
        }
        resp
    }
}

#[tonic::async_trait]
impl Storage for ReplicaStorage {
    async fn write(&self, req: Request<WriteRequest>) -> Result<Response<WriteResponse>, Status> {
        let client_id = header_u64(req.metadata(), HEADER_CLIENT_ID)?;
        let batch_seq = header_u64(req.metadata(), HEADER_BATCH_SEQ)?;
        let series = req.into_inner().series;
        let cmd = tokio::task::spawn_blocking(move || WriteCommand::validate(series))
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(Status::from)?;
        let samples = cmd.sample_count() as u64;
        if samples == 0 {
            return Ok(Response::new(WriteResponse { samples_written: 0 }));
        }
        let entry = Entry {
            client_id,
            batch_seq,
            command: cmd.encode(),
        };
        let timer = self.metrics.write_duration.start_timer();
        let result = self.raft.client_write(entry).await;
        timer.observe_duration();
        match result {
            Ok(resp) => {
                let label = if resp.data.duplicate {
                    "duplicate"
                } else {
                    "ok"
                };
                self.metrics.writes.with_label_values(&[label]).inc();
                self.metrics.samples.inc_by(resp.data.samples);
                let mut out = Response::new(WriteResponse {
                    samples_written: samples,
                });
                if let Ok(v) = resp.log_id.index.to_string().parse() {
                    out.metadata_mut().insert(HEADER_LOG_INDEX, v);
                }
                Ok(out)
            }
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                self.metrics.writes.with_label_values(&["not_leader"]).inc();
                Err(not_leader(f.leader_id, self.leader_address(f.leader_id)))
            }
            Err(e) => {
                self.metrics.writes.with_label_values(&["error"]).inc();
                Err(Status::unavailable(e.to_string()))
            }
        }
    }

    async fn select(
        &self,
        req: Request<SelectRequest>,
    ) -> Result<Response<SelectResponse>, Status> {
        let svc = self.admit(&req).await?;
        Ok(self.with_applied(svc.select(req).await?))
    }

    async fn info(&self, req: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let svc = self.admit(&req).await?;
        Ok(self.with_applied(svc.info(req).await?))
    }

    async fn series(
        &self,
        req: Request<SeriesRequest>,
    ) -> Result<Response<SeriesResponse>, Status> {
        let svc = self.admit(&req).await?;
        Ok(self.with_applied(svc.series(req).await?))
    }

    async fn label_names(
        &self,
        req: Request<LabelNamesRequest>,
    ) -> Result<Response<StringsResponse>, Status> {
        let svc = self.admit(&req).await?;
        Ok(self.with_applied(svc.label_names(req).await?))
    }

    async fn label_values(
        &self,
        req: Request<LabelValuesRequest>,
    ) -> Result<Response<StringsResponse>, Status> {
        let svc = self.admit(&req).await?;
        Ok(self.with_applied(svc.label_values(req).await?))
    }
}
