//! `telltale storage`: one replica of a shard's Raft group (without `--peers`, a group of
//! one, as in standalone) — and [`client`], the storage client the other components
//! build from `--storage` or `--shard-map`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use prometheus::Registry;
use telltale_replica::{Peers, RaftOptions, Replica, ReplicaConfig};
use telltale_storage_api::cluster::{ShardedOptions, ShardedStorage};
use telltale_storage_api::tls::{ServerTls, Source};
use telltale_storage_api::{GrpcStorage, SampleReader, SampleWriter, StorageAdmin};

use crate::cli::StorageArgs;
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: StorageArgs) -> anyhow::Result<()> {
    run_replica(&args).await
}

/// One replica of a shard: storage and Raft gRPC on `--grpc-listen`. Without `--peers`
/// the group has this one replica (id 1), reached at its own gRPC address.
async fn run_replica(args: &StorageArgs) -> anyhow::Result<()> {
    let registry = ops::new_registry("storage")?;
    // Bind before starting Raft so peers reach us as soon as we vote.
    let grpc = ops::bind(args.grpc_listen, "storage gRPC").await?;
    let web = args.web.load()?;
    // Raft to the peers goes through the process's client identity, the server checks
    // its clients against the same CA.
    let tls = match args.grpc_tls.install_client()? {
        Some(paths) => Some(Arc::new(
            ServerTls::new(Source::Files(paths)).context("--grpc.tls-*")?,
        )),
        None => None,
    };
    let http = ops::bind(args.listen, "HTTP").await?;
    let (peers, id) = match (&args.peers, args.replica_id) {
        (Some(peers), Some(id)) => (Peers::parse(peers)?, id),
        _ => {
            let mut own = grpc.local_addr()?;
            if own.ip().is_unspecified() {
                own.set_ip([127, 0, 0, 1].into());
            }
            (
                Peers(std::collections::BTreeMap::from([(1, own.to_string())])),
                1,
            )
        }
    };
    let election = args.raft_election_timeout.as_duration();
    let config = ReplicaConfig {
        data_dir: args.data_dir.clone(),
        shard: args.shard,
        id,
        peers,
        initial_voters: args.initial_voters,
        engine: args.engine.options(&args.data_dir, args.shard)?,
        raft: RaftOptions {
            heartbeat: election / 5,
            election_timeout_min: election,
            election_timeout_max: election * 2,
            snapshot_every: args.raft_log.raft_snapshot_every,
            log_max_bytes: args.raft_log.raft_log_max_bytes,
            logs_to_keep: args.raft_log.raft_logs_to_keep,
        },
    };
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
    let replica = Replica::start(config, &registry)
        .await
        .with_context(|| format!("cannot start replica {id} in {}", args.data_dir.display()))?;
    exit_with_parent();
    let shutdown = Shutdown::on_signals();
    let readiness = Readiness::default();
    ops::spawn_probes(&args.web, &readiness, shutdown.clone()).await?;
    tracing::info!(grpc = %grpc.local_addr()?, http = %http.local_addr()?, shard = args.shard, replica = id, data_dir = %args.data_dir.display(), "storage replica started");
    readiness.set_ready();
    let admin = args
        .enable_admin_api
        .then(|| Arc::new(replica.local_storage()) as Arc<dyn StorageAdmin>);
    let app = ops::router(&registry, readiness).merge(crate::backup_api::router(
        admin,
        "storage",
        Some(args.shard),
    ));
    let grpc_task = replica.serve_tls(grpc, tls, shutdown.clone().wait());
    let http_task = ops::serve_http(http, app, web, shutdown);
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

/// The storage clients of a component, all over one connection (pool).
pub struct Clients {
    pub writer: Arc<dyn SampleWriter>,
    pub reader: Arc<dyn SampleReader>,
    /// The TSDB admin operations (the query API's `--web.enable-admin-api`).
    pub admin: Arc<dyn StorageAdmin>,
}

/// The storage client of a component: the sharded cluster in `shard_map` (a YAML file,
/// re-read when it changes) if given, else the single node at `storage`.
pub fn client(
    storage: &str,
    shard_map: Option<&Path>,
    registry: &Registry,
) -> anyhow::Result<Clients> {
    match shard_map {
        Some(path) => {
            let sharded =
                ShardedStorage::from_file(path.to_path_buf(), ShardedOptions::default(), registry)
                    .with_context(|| format!("cannot use shard map {}", path.display()))?;
            tracing::info!(shard_map = %path.display(), shards = sharded.map().shards.len(), "sharded storage");
            Ok(Clients {
                writer: Arc::new(sharded.clone()),
                reader: Arc::new(sharded.clone()),
                admin: Arc::new(sharded),
            })
        }
        None => {
            let grpc = GrpcStorage::connect_lazy(storage)?;
            Ok(Clients {
                writer: Arc::new(grpc.clone()),
                reader: Arc::new(grpc.clone()),
                admin: Arc::new(grpc),
            })
        }
    }
}
