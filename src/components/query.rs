//! `telltale query`: PromQL and the Prometheus HTTP API over a storage node.

use std::sync::Arc;

use crate::cli::QueryArgs;
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let registry = ops::new_registry("query")?;
    let (_, reader) = super::storage::client(&args.storage, args.shard_map.as_deref(), &registry)?;
    let engine = Arc::new(telltale_query::Engine::new(
        reader,
        args.cache.engine_options(),
        &registry,
    ));
    let http = ops::bind(args.listen, "HTTP").await?;
    let readiness = Readiness::default();
    let ui = telltale_ui::UiConfig::new(engine.clone(), &registry)?;
    let app = telltale_query::router(engine)
        .merge(telltale_ui::router(ui))
        .merge(ops::router(&registry, readiness.clone()));
    tracing::info!(http = %http.local_addr()?, storage = %args.storage, "query started");
    readiness.set_ready();
    ops::serve_http(http, app, Shutdown::on_signals()).await
}
