//! [`Replica`]: one member of a shard's Raft group — the engine as state machine, the
//! RocksDB log, the gRPC services (storage and Raft on one listener) and the bootstrap
//! of a new group by the replica with the lowest id.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use openraft::metrics::Metric;
use openraft::{BasicNode, Config, Raft, ServerState, SnapshotPolicy};
use telltale_storage::EngineOptions;
use telltale_storage_api::MAX_MESSAGE_BYTES;
use telltale_storage_api::pb::admin_server::AdminServer;
use telltale_storage_api::pb::storage_server::StorageServer;
use telltale_storage_api::tls::{ServerTls, incoming};
use tonic::transport::server::TcpIncoming;
use tracing::{info, warn};

use crate::admin_service::ReplicaAdmin;
use crate::error::{Error, Result};
use crate::local::LocalStorage;
use crate::log_bound::LogBound;
use crate::log_store::LogStore;
use crate::metrics::ReplicaMetrics;
use crate::network::{MAX_RAFT_MESSAGE_BYTES, NetworkFactory, raft_client};
use crate::peers::Peers;
use crate::raft_service::RaftService;
use crate::snapshots::Snapshots;
use crate::state_machine::{SharedEngine, StateMachine};
use crate::storage_service::ReplicaStorage;
use crate::types::{NodeId, TypeConfig};
use telltale_storage_api::client::channel;
use telltale_storage_api::raft_pb::StatusRequest;
use telltale_storage_api::raft_pb::raft_server::RaftServer;

/// The default bound of the Raft log's bytes since the last snapshot.
pub const DEFAULT_LOG_MAX_BYTES: u64 = 64 << 20;

/// Raft timing and log compaction.
#[derive(Debug, Clone)]
pub struct RaftOptions {
    pub heartbeat: Duration,
    pub election_timeout_min: Duration,
    pub election_timeout_max: Duration,
    /// A snapshot is built after this many entries since the last one; the log before
    /// it is then purged (keeping `logs_to_keep`).
    pub snapshot_every: u64,
    /// The bound of the entries' bytes since the last snapshot, held at all times: a
    /// snapshot is asked for at half of it and writes wait while it is reached
    /// ([`crate::log_bound`]); 0 for none.
    pub log_max_bytes: u64,
    /// Entries kept below the last snapshot, for followers slightly behind (0 in a group
    /// of one: nobody needs them).
    pub logs_to_keep: u64,
}

impl Default for RaftOptions {
    fn default() -> Self {
        RaftOptions {
            heartbeat: Duration::from_millis(100),
            election_timeout_min: Duration::from_millis(500),
            election_timeout_max: Duration::from_millis(1000),
            snapshot_every: 5000,
            log_max_bytes: DEFAULT_LOG_MAX_BYTES,
            logs_to_keep: 1000,
        }
    }
}

/// What a replica needs to start.
#[derive(Debug, Clone)]
pub struct ReplicaConfig {
    /// Holds `raft-log/`, `sm/` (the engine) and `snapshots/`.
    pub data_dir: PathBuf,
    pub shard: u32,
    pub id: NodeId,
    /// Every replica of the shard, this one included: the address of each replica id
    /// (also of replicas that join the group later).
    pub peers: Peers,
    /// How many of the peers, lowest ids first, form the group when it is created
    /// (`None`: all of them). The others wait until a membership change adds them.
    pub initial_voters: Option<usize>,
    pub engine: EngineOptions,
    pub raft: RaftOptions,
}

/// A running replica.
#[derive(Clone)]
pub struct Replica {
    raft: Raft<TypeConfig>,
    shared: Arc<SharedEngine>,
    snapshots: Arc<Snapshots>,
    log: LogStore,
    bound: Arc<LogBound>,
    config: ReplicaConfig,
    overrides: Arc<BTreeMap<NodeId, String>>,
    metrics: Arc<ReplicaMetrics>,
    left: tokio::sync::watch::Receiver<bool>,
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica")
            .field("shard", &self.config.shard)
            .field("id", &self.config.id)
            .finish_non_exhaustive()
    }
}

impl Replica {
    /// Opens the engine and the log under the data directory, starts Raft (re-applying
    /// committed entries the engine lost in a crash) and the bootstrap of a new group.
    pub async fn start(config: ReplicaConfig, registry: &prometheus::Registry) -> Result<Self> {
        if config.peers.address(config.id).is_none() {
            return Err(Error::InvalidPeers {
                input: config.peers.to_string(),
                reason: format!("replica {} is not among the peers", config.id),
            });
        }
        if let Some(n) = config.initial_voters
            && !(1..=config.peers.0.len()).contains(&n)
        {
            return Err(Error::InvalidPeers {
                input: config.peers.to_string(),
                reason: format!(
                    "{n} initial voters: between 1 and the {} peers",
                    config.peers.0.len()
                ),
            });
        }
        let dir = &config.data_dir;
        // A RocksDB `CURRENT` file at the top is the layout of releases before the Raft log.
        if dir.join("CURRENT").is_file() && !dir.join("raft-log").exists() {
            return Err(Error::SingleNodeLayout { dir: dir.clone() });
        }
        let metrics = Arc::new(ReplicaMetrics::register(registry)?);
        let (dir, opts, reg) = (
            config.data_dir.clone(),
            config.engine.clone(),
            registry.clone(),
        );
        let shared = tokio::task::spawn_blocking(move || SharedEngine::open(&dir, opts, &reg))
            .await
            .map_err(|e| Error::Raft(e.to_string()))??;
        let log = LogStore::open(&config.data_dir.join("raft-log"), shared.durable_index())?;
        let snapshots = Snapshots::open(&config.data_dir)?;
        let sm = StateMachine::new(shared.clone(), snapshots.clone())?;
        let raft_config = Config {
            cluster_name: format!("telltale-shard-{}", config.shard),
            heartbeat_interval: config.raft.heartbeat.as_millis() as u64,
            election_timeout_min: config.raft.election_timeout_min.as_millis() as u64,
            election_timeout_max: config.raft.election_timeout_max.as_millis() as u64,
            install_snapshot_timeout: 10_000,
            snapshot_policy: SnapshotPolicy::LogsSinceLast(config.raft.snapshot_every),
            // A group of one has no follower to keep entries for.
            max_in_snapshot_log_to_keep: if config.peers.0.len() == 1 {
                0
            } else {
                config.raft.logs_to_keep
            },
            snapshot_max_chunk_size: 4 * 1024 * 1024,
            max_payload_entries: 64,
            ..Config::default()
        }
        .validate()
        .map_err(|e| Error::Raft(e.to_string()))?;
        let overrides = Arc::new(config.peers.0.clone());
        let network = NetworkFactory {
            overrides: overrides.clone(),
            snapshots: snapshots.clone(),
        };
        let log_handle = log.clone();
        let raft = Raft::new(config.id, Arc::new(raft_config), network, log, sm)
            .await
            .map_err(|e| Error::Raft(e.to_string()))?;
        let left = spawn_left_watch(&raft, config.id);
        let bound = LogBound::new(
            raft.clone(),
            log_handle.clone(),
            config.raft.log_max_bytes,
            metrics.clone(),
        );
        let replica = Replica {
            raft,
            shared,
            snapshots,
            log: log_handle,
            bound,
            config,
            overrides,
            metrics,
            left,
        };
        replica.spawn_metrics();
        replica.bound.spawn(replica.snapshots.clone());
        replica.spawn_bootstrap();
        if let Some(cold) = &replica.config.engine.cold {
            crate::cold::spawn_mover(replica.storage(), cold.storage.clone(), cold.move_every);
        }
        info!(shard = replica.config.shard, id = replica.config.id, peers = %replica.config.peers, "replica started");
        Ok(replica)
    }

    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    pub fn id(&self) -> NodeId {
        self.config.id
    }

    /// Entries in the Raft log and their bytes.
    pub fn log_size(&self) -> crate::log_store::LogSize {
        self.log.size()
    }

    /// Bytes of the log's entries since the last snapshot: what `log_max_bytes` bounds.
    pub fn log_since_snapshot(&self) -> u64 {
        self.bound.since_snapshot()
    }

    /// The engine in use (it changes when a snapshot is installed).
    pub fn engine(&self) -> Result<Arc<telltale_storage::Engine>> {
        self.shared.engine()
    }

    fn storage(&self) -> ReplicaStorage {
        ReplicaStorage::new(
            self.raft.clone(),
            self.shared.clone(),
            self.overrides.clone(),
            self.metrics.clone(),
            self.left.clone(),
            self.bound.clone(),
        )
    }

    /// The storage API of this replica, ready to add to a tonic server.
    pub fn storage_service(&self) -> StorageServer<ReplicaStorage> {
        StorageServer::new(self.storage())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The TSDB admin API of this replica (delete series, clean tombstones, snapshot).
    pub fn admin_service(&self) -> AdminServer<ReplicaAdmin> {
        AdminServer::new(ReplicaAdmin::new(self.storage()))
    }

    /// The storage API of this replica for callers in the same process.
    pub fn local_storage(&self) -> LocalStorage {
        LocalStorage::new(self.storage())
    }

    /// The Raft and admin API of this replica, ready to add to a tonic server.
    pub fn raft_service(&self) -> RaftServer<RaftService> {
        RaftServer::new(self.raft_handler())
            .max_decoding_message_size(MAX_RAFT_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_RAFT_MESSAGE_BYTES)
    }

    fn raft_handler(&self) -> RaftService {
        RaftService::new(
            self.raft.clone(),
            self.shared.clone(),
            self.snapshots.clone(),
            self.overrides.clone(),
        )
    }

    /// This replica's view of the group.
    pub fn status(&self) -> telltale_storage_api::raft_pb::StatusResponse {
        self.raft_handler().status()
    }

    /// Serves both services on `listener` until `shutdown`, then stops Raft.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        self.serve_tls(listener, None, shutdown).await
    }

    /// [`serve`](Self::serve), over mutual TLS when `tls` is given: a client without a
    /// certificate of its CA is refused at the handshake, and the Raft and admin calls
    /// check the certificate's role.
    pub async fn serve_tls(
        self,
        listener: tokio::net::TcpListener,
        tls: Option<Arc<ServerTls>>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        if let Ok(addr) = listener.local_addr() {
            let tls = tls.is_some();
            info!(%addr, tls, "replica gRPC (storage + admin + raft) listening");
        }
        let router = tonic::transport::Server::builder()
            .add_service(self.storage_service())
            .add_service(self.admin_service())
            .add_service(self.raft_service());
        let served = match tls {
            Some(tls) => {
                router
                    .serve_with_incoming_shutdown(incoming(listener, tls), shutdown)
                    .await
            }
            None => {
                router
                    .serve_with_incoming_shutdown(
                        // No Nagle: a response's header and data frames go out at once,
                        // not one delayed-ACK (40 ms) apart.
                        TcpIncoming::from(listener).with_nodelay(Some(true)),
                        shutdown,
                    )
                    .await
            }
        };
        self.shutdown().await;
        served?;
        Ok(())
    }

    /// Stops Raft (the engine closes when the last handle is dropped). A snapshot first
    /// flushes the engine and purges the log, so a clean stop leaves a small log and
    /// nothing to replay.
    pub async fn shutdown(&self) {
        let applied = self.raft.metrics().borrow().last_applied;
        if applied.is_some() && self.raft.trigger().snapshot().await.is_ok() {
            let built = self
                .raft
                .wait(Some(Duration::from_secs(10)))
                .ge(Metric::Snapshot(applied), "the snapshot at shutdown")
                .await;
            if let Err(e) = built {
                warn!(error = %e, "no snapshot at shutdown; the log is replayed at the next start");
            }
        }
        if let Err(e) = self.raft.shutdown().await {
            warn!(error = %e, "raft shutdown failed");
        }
    }

    fn spawn_metrics(&self) {
        let mut rx = self.raft.metrics();
        let metrics = self.metrics.clone();
        tokio::spawn(async move {
            let mut leader = None;
            loop {
                {
                    let m = rx.borrow_and_update();
                    metrics.term.set(m.current_term as i64);
                    metrics
                        .is_leader
                        .set(i64::from(m.state == ServerState::Leader));
                    metrics
                        .last_log_index
                        .set(m.last_log_index.unwrap_or(0) as i64);
                    metrics
                        .applied_index
                        .set(m.last_applied.map(|l| l.index).unwrap_or(0) as i64);
                    metrics
                        .snapshot_index
                        .set(m.snapshot.map(|l| l.index).unwrap_or(0) as i64);
                    if m.current_leader != leader {
                        if m.current_leader.is_some() {
                            metrics.leader_changes.inc();
                        }
                        leader = m.current_leader;
                    }
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        });
    }

    /// The replicas that form the group when it is created: the first
    /// `initial_voters` peers by id.
    fn initial_voters(&self) -> BTreeMap<NodeId, String> {
        let peers = &self.config.peers.0;
        let n = self.config.initial_voters.unwrap_or(peers.len());
        peers
            .iter()
            .take(n)
            .map(|(id, a)| (*id, a.clone()))
            .collect()
    }

    /// The replica with the lowest id initializes the group with the initial voters once
    /// a majority of them answers that it is uninitialized and no peer says otherwise (so
    /// a replica that lost its disk never starts a second group); others wait to be
    /// contacted by the leader.
    fn spawn_bootstrap(&self) {
        if self.config.peers.lowest() != Some(self.config.id) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                match this.raft.is_initialized().await {
                    Ok(true) | Err(_) => return,
                    Ok(false) => {}
                }
                match this.probe_peers().await {
                    Probe::Initialized => {
                        info!("the group exists already; waiting for its leader");
                        return;
                    }
                    Probe::Majority => {
                        let members: BTreeMap<NodeId, BasicNode> = this
                            .initial_voters()
                            .iter()
                            .map(|(id, a)| (*id, BasicNode::new(a)))
                            .collect();
                        match this.raft.initialize(members).await {
                            Ok(()) => info!("initialized the group"),
                            Err(e) => info!(error = %e, "group not initialized"),
                        }
                        return;
                    }
                    Probe::Wait => tokio::time::sleep(Duration::from_millis(300)).await,
                }
            }
        });
    }

    /// Asks every other peer whether it belongs to a group: one that does means the group
    /// exists; otherwise a majority of the initial voters answering "no" (this one
    /// included) means it can be created.
    async fn probe_peers(&self) -> Probe {
        let initial = self.initial_voters();
        let others: Vec<(NodeId, String)> = self
            .config
            .peers
            .0
            .iter()
            .filter(|(id, _)| **id != self.config.id)
            .map(|(id, a)| (*id, a.clone()))
            .collect();
        let asks = others.iter().map(|(id, address)| async move {
            let mut client = raft_client(channel(address).ok()?);
            let mut req = tonic::Request::new(StatusRequest {});
            req.set_timeout(Duration::from_secs(1));
            client
                .status(req)
                .await
                .ok()
                .map(|r| (*id, r.into_inner().initialized))
        });
        let answers: Vec<(NodeId, bool)> = futures::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect();
        if answers.iter().any(|(_, initialized)| *initialized) {
            return Probe::Initialized;
        }
        let uninitialized = 1 + answers
            .iter()
            .filter(|(id, _)| initial.contains_key(id))
            .count();
        if uninitialized > initial.len() / 2 {
            Probe::Majority
        } else {
            Probe::Wait
        }
    }
}

/// A flag that is true while replica `id` is in an initialized group's membership but
/// not among its voters, and does not lead: removed from the group (or a learner, which
/// never leads). It changes only when that does, so waiting on it costs writes nothing.
pub(crate) fn spawn_left_watch(
    raft: &Raft<TypeConfig>,
    id: NodeId,
) -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut metrics = raft.metrics();
    tokio::spawn(async move {
        loop {
            let left = {
                let m = metrics.borrow_and_update();
                let membership = m.membership_config.membership();
                let initialized = membership.voter_ids().next().is_some();
                initialized
                    && m.state != ServerState::Leader
                    && !membership.voter_ids().any(|v| v == id)
            };
            tx.send_if_modified(|current| std::mem::replace(current, left) != left);
            if metrics.changed().await.is_err() || tx.is_closed() {
                return;
            }
        }
    });
    rx
}

enum Probe {
    Initialized,
    Majority,
    Wait,
}
