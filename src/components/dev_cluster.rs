//! `telltale dev-cluster`: a sharded, replicated cluster on this machine. Every storage
//! replica is a child `telltale storage` process on a free 127.0.0.1 port with its own
//! data directory; the scraper/push role, the query role (with the web UI) and the rule
//! evaluator run in this process over a [`ShardedStorage`] client, so the HTTP address
//! serves what `telltale standalone` serves: remote_write (`/api/v1/write`), the
//! Prometheus API, `/api/v1/targets`, `/api/v1/alerts`, `/api/v1/rules`, the Alertmanager
//! `/api/v2` API and the UI — and `/api/v1/status/cluster` (every replica's Raft status
//! and disk per tier, plus its pid, restarts and log) so tests can kill replicas. A
//! replica that dies stays dead unless `--restart-dead`.
//!
//! `POST /dev-cluster/shards/{shard}/replicas?count=N` changes a shard's group live
//! ([`replicas`]): new replica processes are started and added one at a time as learners,
//! caught up and promoted; surplus ones are removed one at a time (the leader last) and
//! then stopped — through `telltale_storage_api::cluster::reconcile`, the implementation the
//! operator's rollout is to share.

/// `POST /dev-cluster/shards/{shard}/replicas`.
mod replicas;
/// `--grpc-tls`: the dev cluster's CA and certificates.
mod tls;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use telltale_storage_api::cluster::{Shard, ShardMap, ShardedOptions, ShardedStorage};
use telltale_storage_api::tls::Role;
use telltale_storage_api::{SampleReader, SampleWriter, StorageAdmin};
use tokio::process::{Child, Command};

use crate::cli::DevClusterArgs;
use crate::cluster_api::status::{self, ClusterStatus};
use crate::ops::{self, Readiness, Shutdown};

/// One replica process.
pub(super) struct Member {
    shard: u32,
    id: u64,
    address: String,
    data_dir: PathBuf,
    log: PathBuf,
    args: Vec<String>,
    child: tokio::sync::Mutex<Option<Child>>,
    state: Mutex<MemberState>,
}

#[derive(Default)]
struct MemberState {
    pid: Option<u32>,
    restarts: u32,
    exit: Option<String>,
    /// When the process was noticed dead.
    died: Option<std::time::Instant>,
    /// Removed from its group and stopped (it may be added again, with an empty disk).
    removed: bool,
}

pub(super) struct Cluster {
    members: Mutex<Vec<Arc<Member>>>,
    /// Restart dead replicas after this long (`None`: never).
    restart_after: Option<Duration>,
    exe: PathBuf,
    data_dir: PathBuf,
    shards: u32,
    raft_snapshot_every: u64,
    exemplars_limit: usize,
    /// The in-process client, told about every change of a shard's replicas.
    storage: ShardedStorage,
    map_file: PathBuf,
    /// One membership change at a time.
    changing: tokio::sync::Mutex<()>,
    /// With `--grpc-tls`: where the replicas' certificates come from.
    pki: Option<tls::DevPki>,
}

impl Cluster {
    /// The replicas that are members (not removed), in shard and id order.
    fn active(&self) -> Vec<Arc<Member>> {
        self.all()
            .into_iter()
            .filter(|m| !m.state().removed)
            .collect()
    }

    fn all(&self) -> Vec<Arc<Member>> {
        self.members
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The shards and their active replicas.
    fn shard_list(&self) -> Vec<Shard> {
        let mut shards: Vec<Shard> = (0..self.shards)
            .map(|id| Shard {
                id,
                replicas: Vec::new(),
            })
            .collect();
        for m in self.active() {
            if let Some(s) = shards.get_mut(m.shard as usize) {
                s.replicas.push(m.address.clone());
            }
        }
        shards
    }

    /// Tells the client and the shard map file about the active replicas.
    fn publish_map(&self) -> anyhow::Result<()> {
        let map = ShardMap::new(self.shard_list())?;
        std::fs::write(&self.map_file, map.to_yaml())
            .with_context(|| format!("cannot write {}", self.map_file.display()))?;
        self.storage.set_map(map);
        Ok(())
    }

    /// A new replica process's description (not started).
    fn new_member(&self, shard: u32, id: u64, port: u16, peers: &str) -> anyhow::Result<Member> {
        let address = format!("127.0.0.1:{port}");
        let shard_dir = self.data_dir.join(format!("shard-{shard}"));
        let data_dir = shard_dir.join(format!("replica-{id}"));
        let log = shard_dir.join(format!("replica-{id}.log"));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let args = vec![
            "storage".to_string(),
            "--data-dir".into(),
            data_dir.display().to_string(),
            "--grpc-listen".into(),
            address.clone(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--shard".into(),
            shard.to_string(),
            "--replica-id".into(),
            id.to_string(),
            "--peers".into(),
            peers.to_string(),
            "--raft-snapshot-every".into(),
            self.raft_snapshot_every.to_string(),
            "--storage.exemplars.exemplars-limit".into(),
            self.exemplars_limit.to_string(),
        ];
        let mut args = args;
        if let Some(pki) = &self.pki {
            let name = format!("shard-{shard}-replica-{id}");
            args.extend(tls::flags(&pki.issue(&name, Role::Storage, true)?));
        }
        Ok(Member {
            shard,
            id,
            address,
            data_dir,
            log,
            args,
            child: tokio::sync::Mutex::new(None),
            state: Mutex::new(MemberState::default()),
        })
    }
}

impl Member {
    fn state(&self) -> std::sync::MutexGuard<'_, MemberState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn spawn(&self, exe: &PathBuf) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let child = Command::new(exe)
            .args(&self.args)
            .env(super::storage::EXIT_WITH_PARENT_ENV, "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start replica {} of shard {}", self.id, self.shard))?;
        let pid = child.id();
        tracing::info!(shard = self.shard, replica = self.id, address = %self.address, pid, log = %self.log.display(), "replica process started");
        *self.child.lock().await = Some(child);
        let mut st = self.state();
        st.pid = pid;
        st.exit = None;
        st.died = None;
        Ok(())
    }

    /// Notices an exit; returns true if the process is gone.
    async fn reap(&self) -> bool {
        let mut child = self.child.lock().await;
        let Some(c) = child.as_mut() else { return true };
        match c.try_wait() {
            Ok(Some(status)) => {
                tracing::warn!(shard = self.shard, replica = self.id, %status, "replica process exited");
                *child = None;
                let mut st = self.state();
                st.pid = None;
                st.exit = Some(status.to_string());
                st.died = Some(std::time::Instant::now());
                true
            }
            _ => false,
        }
    }

    async fn stop(&self) {
        let mut child = self.child.lock().await;
        if let Some(c) = child.as_mut() {
            if let Some(pid) = c.id() {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status()
                    .await;
            }
            if tokio::time::timeout(Duration::from_secs(10), c.wait())
                .await
                .is_err()
            {
                let _ = c.kill().await;
            }
        }
        *child = None;
    }
}

pub async fn run(args: DevClusterArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.shards > 0 && args.replicas > 0,
        "need at least one shard and one replica"
    );
    let registry = ops::new_registry("dev-cluster")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create {}", args.data_dir.display()))?;
    let exe = std::env::current_exe().context("cannot find the telltale binary")?;
    // Every gRPC client of this process (writes, reads, membership changes) presents the
    // dev cluster's own certificate.
    let pki = if args.grpc_tls {
        let pki = tls::DevPki::open(&args.data_dir)?;
        let own = pki.issue("dev-cluster", Role::Operator, false)?;
        telltale_storage_api::tls::client::global()
            .set("dev-cluster", telltale_storage_api::tls::Source::Files(own))?;
        Some(pki)
    } else {
        None
    };
    let mut ports = Vec::new();
    for _ in 0..args.shards {
        let shard_ports: Vec<u16> = (0..args.replicas)
            .map(|_| telltale_replica::loopback::stable_port())
            .collect::<Result<_, _>>()
            .context("cannot pick the replicas' ports")?;
        ports.push(shard_ports);
    }
    let shards: Vec<Shard> = ports
        .iter()
        .enumerate()
        .map(|(shard, ports)| Shard {
            id: shard as u32,
            replicas: ports.iter().map(|p| format!("127.0.0.1:{p}")).collect(),
        })
        .collect();
    let map = ShardMap::new(shards)?;
    let sharded = ShardedStorage::new(
        map,
        ShardedOptions {
            follower_reads: args.follower_reads,
            ..ShardedOptions::default()
        },
        &registry,
    )?;
    let map_file = args.data_dir.join("shard-map.yaml");
    let cluster = Arc::new(Cluster {
        members: Mutex::new(Vec::new()),
        restart_after: args.restart_dead.then(|| args.restart_delay.as_duration()),
        exe,
        data_dir: args.data_dir.clone(),
        shards: args.shards,
        raft_snapshot_every: args.raft_snapshot_every,
        exemplars_limit: args.exemplars_limit,
        storage: sharded.clone(),
        map_file: map_file.clone(),
        changing: tokio::sync::Mutex::new(()),
        pki,
    });
    for (shard, ports) in ports.iter().enumerate() {
        let peers: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1))
            .collect();
        let peers = peers.join(",");
        for (i, port) in ports.iter().enumerate() {
            let member = cluster.new_member(shard as u32, i as u64 + 1, *port, &peers)?;
            cluster
                .members
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Arc::new(member));
        }
    }
    for m in cluster.all() {
        m.spawn(&cluster.exe).await?;
    }
    cluster.publish_map()?;
    // Recording rules and ALERTS are Telltale's own series: not subject to the limits.
    let rules_writer: Arc<dyn SampleWriter> = Arc::new(sharded.clone());
    // Collection writes through the series limits (and their /api/v1/status/tsdb).
    let limited = telltale_scraper::CardinalityWriter::new(
        Arc::new(sharded.clone()),
        Default::default(),
        &registry,
    );
    let writer: Arc<dyn SampleWriter> = limited.clone();
    let admin: Option<Arc<dyn StorageAdmin>> = args
        .cache
        .enable_admin_api
        .then(|| Arc::new(sharded.clone()) as Arc<dyn StorageAdmin>);
    let reader: Arc<dyn SampleReader> = Arc::new(sharded);

    let supervisor = tokio::spawn(supervise(cluster.clone()));
    let config = crate::config::load(&crate::config::Sources::files(&args.files))?;
    let scraper = telltale_scraper::ScrapeManager::new(writer.clone(), &registry);
    scraper.apply(&config.scrape_targets);
    let query = Arc::new(telltale_query::Engine::new(
        reader,
        args.cache.engine_options(),
        &registry,
    ));
    let web = args.web.load()?;
    let http = ops::bind(args.listen, "HTTP").await?;
    let http_addr = http.local_addr()?;
    let rules = telltale_alertmanager::RuleManager::new(
        Arc::new(crate::rule_querier::EngineQuerier(query.clone())),
        config.alerting,
        telltale_alertmanager::ManagerOptions {
            external_url: format!("http://{http_addr}"),
            state_dir: Some(args.data_dir.join("alertmanager")),
            writer: Some(rules_writer),
            ..Default::default()
        },
        &registry,
    );
    rules.apply(&config.alert_rules);
    let readiness = Readiness::default();
    let shutdown = Shutdown::on_signals();
    ops::spawn_probes(&args.web, &readiness, shutdown.clone()).await?;
    let ui = telltale_ui::UiConfig::new(query.clone(), &registry)?;
    let app = telltale_query::router(query.clone())
        .merge(telltale_query::admin_router(query, admin.clone()))
        .merge(crate::backup_api::router(admin, "dev-cluster", None))
        .merge(telltale_ui::router(ui))
        .merge(telltale_scraper::router(
            scraper.clone(),
            writer,
            Default::default(),
        ))
        .merge(limited.router())
        .merge(telltale_alertmanager::router(rules.clone()))
        .merge(
            axum::Router::new()
                .route("/api/v1/status/cluster", get(cluster_status))
                .route(
                    "/dev-cluster/shards/{shard}/replicas",
                    post(replicas::set_count),
                )
                .with_state(cluster.clone()),
        )
        .merge(ops::router(&registry, readiness.clone()));
    tracing::info!(
        url = %format!("http://{http_addr}"),
        shards = args.shards,
        replicas = args.replicas,
        shard_map = %map_file.display(),
        "dev cluster started; replica processes: GET /api/v1/status/cluster"
    );
    for m in cluster.all() {
        println!(
            "shard {} replica {} pid {} address {} log {}",
            m.shard,
            m.id,
            m.state().pid.unwrap_or(0),
            m.address,
            m.log.display()
        );
    }
    readiness.set_ready();
    let served = ops::serve_http(http, app, web, shutdown).await;
    supervisor.abort();
    scraper.shutdown();
    rules.stop(Duration::from_secs(5)).await;
    for m in cluster.all() {
        m.stop().await;
    }
    served
}

/// Notices replica exits; restarts them only with `--restart-dead`, after the delay.
async fn supervise(cluster: Arc<Cluster>) {
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        for m in cluster.active() {
            if !m.reap().await {
                continue;
            }
            let Some(delay) = cluster.restart_after else {
                continue;
            };
            let due = m.state().died.is_none_or(|d| d.elapsed() >= delay);
            if due {
                m.state().restarts += 1;
                if let Err(e) = m.spawn(&cluster.exe).await {
                    tracing::error!(error = %e, "cannot restart a replica");
                }
            }
        }
    }
}

/// `GET /api/v1/status/cluster`: the replicas' Raft status and tiers, and each one's
/// process (pid, liveness, restarts, last exit, data directory and log file).
async fn cluster_status(State(cluster): State<Arc<Cluster>>) -> Response {
    let shards = cluster.shard_list();
    let mut report = ClusterStatus::from_probes(&status::probe(&shards).await);
    for m in cluster.active() {
        let Some(r) = report.replica_mut(m.shard, &m.address) else {
            continue;
        };
        r.id.get_or_insert(m.id);
        let st = m.state();
        let process = serde_json::json!({
            "pid": st.pid, "alive": st.pid.is_some(), "restarts": st.restarts,
            "exit": st.exit, "data_dir": m.data_dir, "log": m.log,
        });
        if let serde_json::Value::Object(fields) = process {
            r.extra.extend(fields);
        }
    }
    status::success(&report)
}
