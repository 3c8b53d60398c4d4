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
use telltale_storage::{Engine, PreparedWrite};
use telltale_storage_api::pb::storage_server::Storage;
use telltale_storage_api::pb::{
    ExemplarsRequest, ExemplarsResponse, InfoRequest, InfoResponse, LabelNamesRequest,
    LabelValuesRequest, SelectRequest, SelectResponse, SeriesChunks, SeriesRequest, SeriesResponse,
    StringsResponse, TimeSeries, WriteRequest, WriteResponse,
};
use telltale_storage_api::{BatchId, SharedSample};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};
use tracing::error;

use telltale_storage_api::headers::{
    HEADER_APPLIED_INDEX, HEADER_BATCH_SEQ, HEADER_LEADER, HEADER_LEADER_ID, HEADER_LOG_INDEX,
    HEADER_READ, HEADER_WRITER_ID,
};

use crate::convert;
use crate::log_bound::LogBound;
use crate::metrics::ReplicaMetrics;
use crate::state_machine::SharedEngine;
use crate::types::{NodeId, Request as Entry, TypeConfig};

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
    /// True while this replica is out of its group's voters and does not lead (see
    /// [`crate::replica::spawn_left_watch`]).
    left: tokio::sync::watch::Receiver<bool>,
    /// Writes wait here while the log is at its byte bound.
    bound: Arc<LogBound>,
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
        left: tokio::sync::watch::Receiver<bool>,
        bound: Arc<LogBound>,
    ) -> Self {
        ReplicaStorage {
            raft,
            shared,
            overrides,
            metrics,
            left,
            bound,
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

    /// Admits a read: any replica when `follower_ok`, else the leader once a quorum
    /// confirmed it still leads and it applied everything committed before the read.
    pub(crate) async fn admit(&self, follower_ok: bool) -> Result<Arc<Engine>, Status> {
        if !follower_ok {
            match self.raft.ensure_linearizable().await {
                Ok(_) => {}
                Err(RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                    return Err(not_leader(f.leader_id, self.leader_address(f.leader_id)));
                }
                Err(e) => return Err(Status::unavailable(e.to_string())),
            }
        }
        self.shared
            .engine()
            .map_err(|e| Status::unavailable(e.to_string()))
    }

    /// Proposes `series` as one log entry (as the writer's batch `batch`, if given) and
    /// answers once it is committed and applied. The series are prepared against this
    /// replica's engine first (stored series named by id; a hash lookup per series, cheap
    /// enough to run in place); only the leader can propose.
    pub(crate) async fn propose(
        &self,
        series: &[TimeSeries],
        batch: Option<BatchId>,
    ) -> Result<Committed, Status> {
        let prepared = self.engine()?.prepare(series).map_err(status)?;
        self.propose_prepared(prepared, batch).await
    }

    /// [`Self::propose`] for samples whose label sets the writer shares (in process).
    pub(crate) async fn propose_shared(
        &self,
        samples: &[SharedSample],
    ) -> Result<Committed, Status> {
        let prepared = self.engine()?.prepare_shared(samples).map_err(status)?;
        self.propose_prepared(prepared, None).await
    }

    fn engine(&self) -> Result<Arc<Engine>, Status> {
        self.shared
            .engine()
            .map_err(|e| Status::unavailable(e.to_string()))
    }

    async fn propose_prepared(
        &self,
        prepared: PreparedWrite,
        batch: Option<BatchId>,
    ) -> Result<Committed, Status> {
        if prepared.is_empty() {
            return Ok(Committed::default());
        }
        let _admitted = self.bound.admit(prepared.record.len()).await.map_err(|e| {
            self.metrics.writes.with_label_values(&["log_full"]).inc();
            Status::unavailable(e.to_string())
        })?;
        let entry = Entry {
            client_id: batch.map_or(0, |b| b.writer),
            batch_seq: batch.map_or(0, |b| b.seq),
            command: prepared.record,
        };
        let timer = self.metrics.write_duration.start_timer();
        // A leader removed from the group steps down once the membership without it
        // commits; entries it proposed after that membership are committed by the new
        // leader, which it no longer hears from, so their answers would never come. The
        // writer is told to retry elsewhere: its batch id makes the retry a no-op if the
        // entry did commit.
        let mut left = self.left.clone();
        let result = tokio::select! {
            result = self.raft.client_write(entry) => result,
            _ = left.wait_for(|left| *left) => {
                timer.observe_duration();
                self.metrics.writes.with_label_values(&["not_leader"]).inc();
                return Err(not_leader(None, None));
            }
        };
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
                Ok(Committed {
                    samples: prepared.samples,
                    exemplars: resp.data.exemplars,
                    histograms: prepared.histograms,
                    log_index: resp.log_id.index,
                })
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

    /// Proposes an admin record (`delete_series`, `clean_tombstones`: see
    /// [`crate::admin_service`]) as one log entry and answers its log index once it is
    /// committed and applied. Only the leader can propose.
    pub(crate) async fn propose_admin(&self, record: Vec<u8>) -> Result<u64, Status> {
        let entry = Entry {
            client_id: 0,
            batch_seq: 0,
            command: record,
        };
        match self.raft.client_write(entry).await {
            Ok(resp) => Ok(resp.log_id.index),
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f))) => {
                Err(not_leader(f.leader_id, self.leader_address(f.leader_id)))
            }
            Err(e) => Err(Status::unavailable(e.to_string())),
        }
    }

    pub(crate) fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// The replica's engine holder (its data directory, for snapshots).
    pub(crate) fn shared(&self) -> &SharedEngine {
        &self.shared
    }

    /// This replica's applied log index.
    pub(crate) fn applied_index(&self) -> u64 {
        self.raft
            .metrics()
            .borrow()
            .last_applied
            .map(|l| l.index)
            .unwrap_or(0)
    }

    fn with_applied<T>(&self, mut resp: Response<T>) -> Response<T> {
        if let Ok(v) = self.applied_index().to_string().parse() {
            resp.metadata_mut().insert(HEADER_APPLIED_INDEX, v);
        }
        resp
    }

    /// Admits a read as its request asks and runs `f` on the engine on a blocking thread.
    async fn read<Q, T>(
        &self,
        method: &str,
        req: Request<Q>,
        f: impl FnOnce(&Engine, Q) -> telltale_storage::Result<T> + Send + 'static,
    ) -> Result<Response<T>, Status>
    where
        Q: Send + 'static,
        T: Send + 'static,
    {
        self.metrics
            .grpc_requests
            .with_label_values(&[method])
            .inc();
        let follower_ok = req
            .metadata()
            .get(HEADER_READ)
            .is_some_and(|v| v.as_bytes() == b"any");
        let engine = self.admit(follower_ok).await?;
        let msg = req.into_inner();
        let out = run_blocking(move || f(&engine, msg)).await?;
        Ok(self.with_applied(Response::new(out)))
    }
}

/// A write committed through the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Committed {
    pub samples: u64,
    /// Exemplars the exemplar store took.
    pub exemplars: u64,
    /// Native histogram samples (also counted in `samples`).
    pub histograms: u64,
    pub log_index: u64,
}

/// The gRPC status of an engine error: bad input is `INVALID_ARGUMENT`, an exhausted
/// select budget `RESOURCE_EXHAUSTED`, the rest `INTERNAL`.
pub(crate) fn status(e: telltale_storage::Error) -> Status {
    if e.is_invalid_argument() {
        Status::invalid_argument(e.to_string())
    } else if matches!(e, telltale_storage::Error::OverBudget { .. }) {
        Status::resource_exhausted(e.to_string())
    } else {
        Status::internal(e.to_string())
    }
}

/// Runs engine work on a blocking thread; its error becomes the matching gRPC status.
pub(crate) async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> telltale_storage::Result<T> + Send + 'static,
) -> Result<T, Status> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Status::internal(format!("storage task failed: {e}")))?
        .map_err(|e| {
            if !e.is_invalid_argument() {
                error!(error = %e, "storage request failed");
            }
            status(e)
        })
}

/// Bytes of series data per streamed `Select` message.
const SELECT_BATCH_BYTES: usize = 1 << 20;

/// Runs a select on a blocking thread, streaming its series in batches as the engine
/// produces them; an error (an exhausted budget, a closed stream) ends the stream.
fn stream_select(
    engine: Arc<Engine>,
    req: SelectRequest,
) -> ReceiverStream<Result<SelectResponse, Status>> {
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let result = convert::select_spec(&req).and_then(|spec| {
            let mut batch: Vec<SeriesChunks> = Vec::new();
            let mut bytes = 0;
            engine.select_chunks(&spec, &mut |s| {
                bytes += s.chunks.iter().map(|c| c.data.len()).sum::<usize>() + 64;
                batch.push(convert::series_chunks(s));
                if bytes >= SELECT_BATCH_BYTES {
                    bytes = 0;
                    let series = std::mem::take(&mut batch);
                    tx.blocking_send(Ok(SelectResponse { series }))
                        .map_err(|_| {
                            telltale_storage::Error::Task("the reader went away".into())
                        })?;
                }
                Ok(())
            })?;
            if !batch.is_empty() {
                let _ = tx.blocking_send(Ok(SelectResponse { series: batch }));
            }
            Ok(())
        });
        if let Err(e) = result {
            if !e.is_invalid_argument() {
                error!(error = %e, "select failed");
            }
            let _ = tx.blocking_send(Err(status(e)));
        }
    });
    ReceiverStream::new(rx)
}

#[tonic::async_trait]
impl Storage for ReplicaStorage {
    async fn write(&self, req: Request<WriteRequest>) -> Result<Response<WriteResponse>, Status> {
        self.metrics
            .grpc_requests
            .with_label_values(&["write"])
            .inc();
        let writer = header_u64(req.metadata(), HEADER_WRITER_ID)?;
        let seq = header_u64(req.metadata(), HEADER_BATCH_SEQ)?;
        let batch = (writer != 0).then_some(BatchId { writer, seq });
        let series = req.into_inner().series;
        let committed = self.propose(&series, batch).await?;
        let mut out = Response::new(WriteResponse {
            samples_written: committed.samples - committed.histograms,
            exemplars_written: committed.exemplars,
            histograms_written: committed.histograms,
        });
        if committed.log_index > 0
            && let Ok(v) = committed.log_index.to_string().parse()
        {
            out.metadata_mut().insert(HEADER_LOG_INDEX, v);
        }
        Ok(out)
    }

    type SelectStream = ReceiverStream<Result<SelectResponse, Status>>;

    async fn select(
        &self,
        req: Request<SelectRequest>,
    ) -> Result<Response<Self::SelectStream>, Status> {
        self.metrics
            .grpc_requests
            .with_label_values(&["select"])
            .inc();
        let follower_ok = req
            .metadata()
            .get(HEADER_READ)
            .is_some_and(|v| v.as_bytes() == b"any");
        let engine = self.admit(follower_ok).await?;
        let stream = stream_select(engine, req.into_inner());
        Ok(self.with_applied(Response::new(stream)))
    }

    async fn info(&self, req: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        self.read("info", req, |e, _| {
            Ok(InfoResponse {
                tiers: e.info()?,
                late_writes: Some(e.late_writes()),
            })
        })
        .await
    }

    async fn series(
        &self,
        req: Request<SeriesRequest>,
    ) -> Result<Response<SeriesResponse>, Status> {
        self.read("series", req, |e, r| {
            Ok(SeriesResponse {
                series: convert::series(e, &r)?,
            })
        })
        .await
    }

    async fn label_names(
        &self,
        req: Request<LabelNamesRequest>,
    ) -> Result<Response<StringsResponse>, Status> {
        self.read("label_names", req, |e, r| {
            Ok(StringsResponse {
                values: convert::label_names(e, &r)?,
            })
        })
        .await
    }

    async fn label_values(
        &self,
        req: Request<LabelValuesRequest>,
    ) -> Result<Response<StringsResponse>, Status> {
        self.read("label_values", req, |e, r| {
            Ok(StringsResponse {
                values: convert::label_values(e, &r)?,
            })
        })
        .await
    }

    async fn query_exemplars(
        &self,
        req: Request<ExemplarsRequest>,
    ) -> Result<Response<ExemplarsResponse>, Status> {
        self.read("query_exemplars", req, |e, r| {
            Ok(ExemplarsResponse {
                series: convert::exemplars(e, &r)?,
            })
        })
        .await
    }
}
