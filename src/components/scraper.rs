//! `telltale scraper`: scraping and push receivers, writing to a storage node.

use std::sync::Arc;

use anyhow::Context;
use telltale_storage_api::SampleWriter;

use crate::cli::ScraperArgs;
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: ScraperArgs) -> anyhow::Result<()> {
    let config = crate::config::load(&args.files)?;
    let registry = ops::new_registry("scraper")?;
    let (storage, _) = super::storage::client(&args.storage, args.shard_map.as_deref(), &registry)?;
    // storage <- disk queue (when storage is unreachable) <- series limits <- collection
    let queue = telltale_scraper::DiskQueue::open(
        args.queue_dir.clone(),
        storage,
        telltale_scraper::QueueOptions {
            max_bytes: args.queue_max_bytes,
            ..Default::default()
        },
        &registry,
    )
    .await
    .with_context(|| format!("cannot open the queue in {}", args.queue_dir.display()))?;
    let limited =
        telltale_scraper::CardinalityWriter::new(Arc::new(queue), args.push.limits(), &registry);
    let writer: Arc<dyn SampleWriter> = limited.clone();
    // The member set is fixed by the StatefulSet's replica count; its sender lives as
    // long as the manager.
    let (manager, _member_set) = match (&args.member_name, args.members) {
        (Some(name), Some(replicas)) => {
            let members = telltale_scraper::membership::stateful_set_members(name, replicas)
                .with_context(|| {
                    format!("--member-name {name:?} is not `<statefulset>-<ordinal>`")
                })?;
            tracing::info!(member = %name, ?members, "scraping this replica's share of targets");
            let (membership, sender) =
                telltale_scraper::membership::Membership::new(name.clone(), members);
            let manager = telltale_scraper::ScrapeManager::with_membership(
                writer.clone(),
                &registry,
                membership,
            );
            (manager, Some(sender))
        }
        _ => (
            telltale_scraper::ScrapeManager::new(writer.clone(), &registry),
            None,
        ),
    };
    // Kubernetes discovery replaces the files: both would set the same target list.
    let _discovery = if args.kubernetes_discovery {
        let client = kube::Client::try_default()
            .await
            .context("--kubernetes-discovery needs in-cluster or kubeconfig credentials")?;
        let sd = telltale_scraper::kubernetes_discovery(
            client,
            telltale_scraper::KubernetesSdOptions {
                namespace: args.watch_namespace.clone(),
                annotated_pods: args.scrape_annotated_pods.then(Default::default),
                ..Default::default()
            },
        );
        tokio::spawn(manager.clone().follow(sd.targets()));
        Some(sd)
    } else {
        manager.apply(&config.scrape_targets);
        None
    };
    let http = ops::bind(args.listen, "HTTP").await?;
    let readiness = Readiness::default();
    let app = telltale_scraper::router(manager.clone(), writer, args.push.push_options()?)
        .merge(limited.router())
        .merge(ops::router(&registry, readiness.clone()));
    tracing::info!(http = %http.local_addr()?, storage = %args.storage, targets = config.scrape_targets.len(), "scraper started");
    readiness.set_ready();
    let result = ops::serve_http(http, app, Shutdown::on_signals()).await;
    manager.shutdown();
    result
}
