//! `telltale scraper`: scraping and push receivers, writing to a storage node.

use std::sync::Arc;

use telltale_storage_api::{GrpcStorage, SampleWriter};

use crate::cli::ScraperArgs;
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: ScraperArgs) -> anyhow::Result<()> {
    let config = crate::config::load(&args.files)?;
    let registry = ops::new_registry("scraper")?;
    let writer: Arc<dyn SampleWriter> = Arc::new(GrpcStorage::connect_lazy(&args.storage)?);
    let manager = telltale_scraper::ScrapeManager::new(writer.clone(), &registry);
    manager.apply(&config.scrape_targets);
    let http = ops::bind(args.listen, "HTTP").await?;
    let readiness = Readiness::default();
    let app = telltale_scraper::router(manager.clone(), writer, Default::default())
        .merge(ops::router(&registry, readiness.clone()));
    tracing::info!(http = %http.local_addr()?, storage = %args.storage, targets = config.scrape_targets.len(), "scraper started");
    readiness.set_ready();
    let result = ops::serve_http(http, app, Shutdown::on_signals()).await;
    manager.shutdown();
    result
}
