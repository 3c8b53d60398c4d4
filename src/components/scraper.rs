//! `telltale scraper`: scraping and push receivers, writing to a storage node.

use std::sync::Arc;

use anyhow::Context;
use telltale_storage_api::SampleWriter;

use crate::cli::ScraperArgs;
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: ScraperArgs) -> anyhow::Result<()> {
    args.grpc_tls.install_client()?;
    let config = crate::config::load(&crate::config::Sources {
        no_secret_api: !args.kubernetes_discovery,
        ..crate::config::Sources::files(&args.files)
    })?;
    let registry = ops::new_registry("scraper")?;
    let storage =
        super::storage::client(&args.storage, args.shard_map.as_deref(), &registry)?.writer;
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
    // The member set: the ready endpoints of the scrapers' Service (watched), or the
    // StatefulSet's ordinals; its watch (or sender) lives as long as the manager.
    let mut client: Option<kube::Client> = None;
    let (manager, _member_set) = match (&args.member_name, args.members, &args.members_service) {
        (Some(name), replicas, Some(service)) => {
            let namespace = args
                .watch_namespace
                .clone()
                .or_else(|| args.pod_namespace.clone())
                .context("--members-service needs --watch-namespace or POD_NAMESPACE")?;
            let initial = match replicas {
                Some(n) => ordinals(name, n)?,
                None => Vec::new(),
            };
            let c = kube_client(&mut client).await?;
            tracing::info!(member = %name, %service, %namespace, "scraping this replica's share of targets; members from the Service's endpoints");
            let (membership, watch) = telltale_scraper::discovery::k8s::watch_member_set(
                c,
                name.clone(),
                initial,
                telltale_scraper::discovery::k8s::MemberSetOptions {
                    namespace,
                    service: service.clone(),
                    debounce: std::time::Duration::from_millis(500),
                },
            );
            let manager = telltale_scraper::ScrapeManager::with_membership(
                writer.clone(),
                &registry,
                membership,
            );
            (manager, Some(Box::new(watch) as KeepAlive))
        }
        (Some(name), Some(replicas), None) => {
            let members = ordinals(name, replicas)?;
            tracing::info!(member = %name, ?members, "scraping this replica's share of targets");
            let (membership, sender) =
                telltale_scraper::discovery::membership::Membership::new(name.clone(), members);
            let manager = telltale_scraper::ScrapeManager::with_membership(
                writer.clone(),
                &registry,
                membership,
            );
            (manager, Some(Box::new(sender) as KeepAlive))
        }
        _ => (
            telltale_scraper::ScrapeManager::new(writer.clone(), &registry),
            None,
        ),
    };
    // Kubernetes discovery replaces the files: both would set the same target list.
    let _discovery = if args.kubernetes_discovery {
        let c = kube_client(&mut client).await?;
        // Targets' Secrets are read through the API; their files refused (but the pod's
        // service-account token and CA).
        manager.use_kubernetes_secrets(c.clone(), telltale_scraper::pull::clients::REFRESH);
        // The MetricCluster's namespace: the one its unset namespace selectors mean.
        let monitors_namespace = args
            .watch_namespace
            .clone()
            .or_else(|| args.pod_namespace.clone());
        if args.metric_cluster.is_some() && monitors_namespace.is_none() {
            anyhow::bail!("--metric-cluster needs --watch-namespace or POD_NAMESPACE");
        }
        let sd = telltale_scraper::kubernetes_discovery(
            c,
            telltale_scraper::KubernetesSdOptions {
                namespace: args.watch_namespace.clone(),
                annotated_pods: args.scrape_annotated_pods.then(Default::default),
                scrape_targets: config.scrape_targets.clone(),
                monitors: match (&args.metric_cluster, monitors_namespace) {
                    (Some(metric_cluster), Some(namespace)) => {
                        Some(telltale_scraper::OperatorMonitors {
                            namespace,
                            metric_cluster: metric_cluster.clone(),
                        })
                    }
                    _ => None,
                },
                ..Default::default()
            },
        );
        tokio::spawn(manager.clone().follow(sd.targets()));
        Some(sd)
    } else {
        manager.apply(&config.scrape_targets);
        None
    };
    let web = args.web.load()?;
    let http = ops::bind(args.listen, "HTTP").await?;
    let readiness = Readiness::default();
    let shutdown = Shutdown::on_signals();
    ops::spawn_probes(&args.web, &readiness, shutdown.clone()).await?;
    let app = telltale_scraper::router(manager.clone(), writer, args.push.push_options()?)
        .merge(limited.router())
        .merge(ops::router(&registry, readiness.clone()));
    tracing::info!(http = %http.local_addr()?, storage = %args.storage, targets = config.scrape_targets.len(), "scraper started");
    readiness.set_ready();
    let result = ops::serve_http(http, app, web, shutdown).await;
    manager.shutdown();
    result
}

/// What keeps a replica's member set alive: its watch, or the sender of a fixed set.
type KeepAlive = Box<dyn std::any::Any + Send>;

/// The StatefulSet's member names of `name` with `replicas` replicas.
fn ordinals(name: &str, replicas: u32) -> anyhow::Result<Vec<String>> {
    telltale_scraper::discovery::membership::stateful_set_members(name, replicas)
        .with_context(|| format!("--member-name {name:?} is not `<statefulset>-<ordinal>`"))
}

/// The in-cluster (or kubeconfig) client, made once.
async fn kube_client(client: &mut Option<kube::Client>) -> anyhow::Result<kube::Client> {
    if let Some(c) = client {
        return Ok(c.clone());
    }
    let c = kube::Client::try_default().await.context(
        "Kubernetes discovery and --members-service need in-cluster or kubeconfig credentials",
    )?;
    *client = Some(c.clone());
    Ok(c)
}
