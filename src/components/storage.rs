//! `telltale storage`: one storage node — a single node with the engine's own write-ahead
//! log, or (with `--peers`) one replica of a shard's Raft group — and [`client`], the
//! storage client the other components build from `--storage` or `--shard-map`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use prometheus::Registry;
use telltale_raft::{Peers, RaftOptions, Replica, ReplicaConfig, ShardedOptions, ShardedStorage};
use telltale_storage_api::{GrpcStorage, SampleReader, SampleWriter};

use crate::cli::{EngineArgs, StorageArgs};
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: StorageArgs) -> anyhow::Result<()> {
    match (&args.peers, args.replica_id) {
        (Some(peers), Some(id)) => run_replica(&args, peers, id).await,
        _ => run_single(args).await,
    }
}

async fn run_single(args: StorageArgs) -> anyhow::Result<()> {
    let registry = ops::new_registry("storage")?;
    let (engine, _maintenance) = open_engine(&args.data_dir, &args.engine, &registry).await?;
    let grpc = ops::bind(args.grpc_listen, "storage gRPC").await?;
    let http = ops::bind(args.listen, "HTTP").await?;
    let shutdown = Shutdown::on_signals();
    let readiness = Readiness::default();
    tracing::info!(grpc = %grpc.local_addr()?, http = %http.local_addr()?, data_dir = %args.data_dir.display(), "storage node started");
    readiness.set_ready();
    let grpc_task = telltale_storage::serve(engine, grpc, shutdown.clone().wait());
    let http_task = ops::serve_http(http, ops::router(&registry, readiness), shutdown);
    let (g, h) = tokio::join!(grpc_task, http_task);
    g.context("storage gRPC server failed")?;
    h
}

/// One replica of a shard: storage and Raft gRPC on `--grpc-listen`.
async fn run_replica(args: &StorageArgs, peers: &str, id: u64) -> anyhow::Result<()> {
    let registry = ops::new_registry("storage")?;
    let peers = Peers::parse(peers)?;
    let election = args.raft_election_timeout.as_duration();
    let config = ReplicaConfig {
        data_dir: args.data_dir.clone(),
        shard: args.shard,
        id,
        peers,
        engine: args.engine.options(),
        raft: RaftOptions {
            heartbeat: election / 5,
            election_timeout_min: election,
            election_timeout_max: election * 2,
            snapshot_every: args.raft_snapshot_every,
            logs_to_keep: args.raft_logs_to_keep,
        },
    };
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
    // Bind before starting Raft so peers reach us as soon as we vote.
    let grpc = ops::bind(args.grpc_listen, "storage gRPC").await?;
    let http = ops::bind(args.listen, "HTTP").await?;
    let replica = Replica::start(config, &registry)
        .await
        .with_context(|| format!("cannot start replica {id} in {}", args.data_dir.display()))?;
    exit_with_parent();
    let shutdown = Shutdown::on_signals();
    let readiness = Readiness::default();
    tracing::info!(grpc = %grpc.local_addr()?, http = %http.local_addr()?, shard = args.shard, replica = id, data_dir = %args.data_dir.display(), "storage replica started");
    readiness.set_ready();
    let grpc_task = replica.serve(grpc, shutdown.clone().wait());
    let http_task = ops::serve_http(http, ops::router(&registry, readiness), shutdown);
    let (g, h) = tokio::join!(grpc_task, http_task);
    g.context("storage replica failed")?;
    h
}

/// Environment variable `telltale dev-cluster` sets on its replicas: a replica exits when
/// the process that started it is gone (so a killed dev cluster leaves no orphans).
pub const EXIT_WITH_PARENT_ENV: &str = "TELLTALE_EXIT_WITH_PARENT";

fn exit_with_parent() {
    if std::env::var_os(EXIT_WITH_PARENT_ENV).is_none() {
        return;
    }
    let parent = std::os::unix::process::parent_id();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if std::os::unix::process::parent_id() != parent {
                // Everything acknowledged is in the synced Raft log already.
                tracing::warn!(parent, "the parent process is gone; exiting");
                std::process::exit(0);
            }
        }
    });
}

/// The storage client of a component: the sharded cluster in `shard_map` (a YAML file,
/// re-read when it changes) if given, else the single node at `storage`.
pub fn client(
    storage: &str,
    shard_map: Option<&Path>,
    registry: &Registry,
) -> anyhow::Result<(Arc<dyn SampleWriter>, Arc<dyn SampleReader>)> {
    match shard_map {
        Some(path) => {
            let sharded =
                ShardedStorage::from_file(path.to_path_buf(), ShardedOptions::default(), registry)
                    .with_context(|| format!("cannot use shard map {}", path.display()))?;
            tracing::info!(shard_map = %path.display(), shards = sharded.map().shards.len(), "sharded storage");
            Ok((Arc::new(sharded.clone()), Arc::new(sharded)))
        }
        None => {
            let grpc = GrpcStorage::connect_lazy(storage)?;
            Ok((Arc::new(grpc.clone()), Arc::new(grpc)))
        }
    }
}

/// Opens (creating if needed) the engine under `dir` and starts its background work
/// (flushes, rollups, retention), which runs until the returned handle is dropped.
async fn open_engine(
    dir: &Path,
    args: &EngineArgs,
    registry: &Registry,
) -> anyhow::Result<(Arc<telltale_storage::Engine>, telltale_storage::Maintenance)> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let dir = dir.to_path_buf();
    let registry = registry.clone();
    let opts = args.options();
    let engine = tokio::task::spawn_blocking(move || {
        telltale_storage::Engine::open(&dir, opts, &registry)
            .with_context(|| format!("cannot open storage in {}", dir.display()))
    })
    .await??;
    let engine = Arc::new(engine);
    let maintenance = engine.start_maintenance(Duration::from_secs(1));
    Ok((engine, maintenance))
}
