//! `telltale alertmanager`: rule evaluation (through the query engine, as a library) and
//! notifications.

use std::sync::Arc;

use crate::cli::AlertmanagerArgs;
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: AlertmanagerArgs) -> anyhow::Result<()> {
    let config = crate::config::load(&args.files)?;
    let registry = ops::new_registry("alertmanager")?;
    let (writer, reader) =
        super::storage::client(&args.storage, args.shard_map.as_deref(), &registry)?;
    let engine = Arc::new(telltale_query::Engine::new(
        reader,
        Default::default(),
        &registry,
    ));
    let http = ops::bind(args.listen, "HTTP").await?;
    let external_url = args
        .external_url
        .unwrap_or_else(|| format!("http://{}", http.local_addr().expect("bound")));
    let manager = telltale_alertmanager::RuleManager::new(
        engine,
        config.alerting,
        telltale_alertmanager::ManagerOptions {
            external_url,
            state_dir: Some(args.data_dir.join("alertmanager")),
            writer: Some(writer),
            ..Default::default()
        },
        &registry,
    );
    manager.apply(&config.alert_rules);
    let readiness = Readiness::default();
    let app = telltale_alertmanager::router(manager.clone())
        .merge(ops::router(&registry, readiness.clone()));
    tracing::info!(http = %http.local_addr()?, storage = %args.storage, rules = config.alert_rules.len(), "alertmanager started");
    readiness.set_ready();
    let result = ops::serve_http(http, app, Shutdown::on_signals()).await;
    manager.stop(std::time::Duration::from_secs(5)).await;
    result
}
