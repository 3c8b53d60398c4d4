//! `telltale query`: PromQL and the Prometheus HTTP API over storage, and — so that the UI
//! and API clients see one server — the cluster's status, its scrapers' targets and its
//! alertmanager's API (see `cluster_api`).

use std::sync::Arc;

use telltale_storage_api::cluster::Shard;

use crate::cli::QueryArgs;
use crate::cluster_api::{self, status::Replicas};
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    args.grpc_tls.install_client()?;
    let registry = ops::new_registry("query")?;
    let storage = super::storage::client(&args.storage, args.shard_map.as_deref(), &registry)?;
    let reader = storage.reader;
    let engine = Arc::new(telltale_query::Engine::new(
        reader,
        args.cache.engine_options(),
        &registry,
    ));
    let web = args.web.load()?;
    let http = ops::bind(args.listen, "HTTP").await?;
    let readiness = Readiness::default();
    let shutdown = Shutdown::on_signals();
    ops::spawn_probes(&args.web, &readiness, shutdown.clone()).await?;
    let ui = telltale_ui::UiConfig::new(engine.clone(), &registry)?;
    let replicas = match &args.shard_map {
        Some(path) => Replicas::ShardMapFile(path.clone()),
        None => Replicas::Fixed(vec![Shard {
            id: 0,
            replicas: vec![args.storage.clone()],
        }]),
    };
    let admin = args.cache.enable_admin_api.then_some(storage.admin);
    let upstream = cluster_api::Upstream::new(args.peer_tls.settings());
    let mut app = telltale_query::router(engine.clone())
        .merge(telltale_query::admin_router(engine, admin))
        .merge(telltale_ui::router(ui))
        .merge(cluster_api::status::router(replicas))
        .merge(cluster_api::metadata::router(
            &args.scraper_urls,
            &upstream,
        )?)
        .merge(ops::router(&registry, readiness.clone()));
    if !args.scraper_urls.is_empty() {
        app = app.merge(cluster_api::targets::router(&args.scraper_urls, &upstream)?);
    }
    if let Some(url) = &args.alertmanager_url {
        app = app.merge(cluster_api::forward::router(url, &upstream)?);
    }
    tracing::info!(
        http = %http.local_addr()?,
        storage = %args.storage,
        scrapers = args.scraper_urls.len(),
        alertmanager = args.alertmanager_url.as_deref().unwrap_or("none"),
        "query started"
    );
    readiness.set_ready();
    ops::serve_http(http, app, web, shutdown).await
}
