//! `telltale query`: PromQL and the Prometheus HTTP API over a storage node.

use std::sync::Arc;

use telltale_storage_api::{GrpcStorage, SampleReader};

use crate::cli::QueryArgs;
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let registry = ops::new_registry("query")?;
    let reader: Arc<dyn SampleReader> = Arc::new(GrpcStorage::connect_lazy(&args.storage)?);
    let engine = Arc::new(telltale_query::Engine::new(
        reader,
        Default::default(),
        &registry,
    ));
    let http = ops::bind(args.listen, "HTTP").await?;
    let readiness = Readiness::default();
    let app = telltale_query::router(engine).merge(ops::router(&registry, readiness.clone()));
    tracing::info!(http = %http.local_addr()?, storage = %args.storage, "query started");
    readiness.set_ready();
    ops::serve_http(http, app, Shutdown::on_signals()).await
}
