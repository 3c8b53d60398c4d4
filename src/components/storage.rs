//! `telltale storage`: one storage node.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use prometheus::Registry;

use crate::cli::{EngineArgs, StorageArgs};
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: StorageArgs) -> anyhow::Result<()> {
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

/// Opens (creating if needed) the engine under `dir` and starts its background work
/// (flushes, rollups, retention), which runs until the returned handle is dropped.
pub async fn open_engine(
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
    let maintenance = engine.start_maintenance(std::time::Duration::from_secs(1));
    Ok((engine, maintenance))
}
