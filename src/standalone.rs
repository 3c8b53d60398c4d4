//! `telltale standalone`: every component in one process, on an embedded default.
//!
//! Storage is a one-replica Raft group (the cluster's code path with N = 1): its log is the
//! write-ahead log and the engine its state machine, so a standalone data directory has the
//! layout of a cluster replica's. The other components call the replica in process
//! ([`telltale_replica::LocalStorage`]: the same proposals and reads as over gRPC, without
//! encoding or sockets); its gRPC API stays up on a loopback port for callers outside. Its
//! HTTP address serves what a cluster's query service serves, `/api/v1/status/cluster`
//! (the one replica) included.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use telltale_crds::{PromDuration, ScrapeTarget, ScrapeTargetSpec, StaticTargets};
use telltale_replica::{Peers, RaftOptions, Replica, ReplicaConfig};
use telltale_storage_api::{SampleReader, SampleWriter, StorageAdmin};

use crate::cli::StandaloneArgs;
use crate::cluster_api::status::Replicas;
use crate::ops::{self, Readiness, Shutdown};

/// The job name of Telltale's scrape of itself (unless the files define that job).
const SELF_JOB: &str = "telltale";

pub async fn run(args: StandaloneArgs) -> anyhow::Result<()> {
    let sources = crate::config::Sources {
        config_file: args.config_file.clone(),
        files: args.files.clone(),
        // Standalone reads Secrets from nowhere: targets name files.
        no_secret_api: true,
    };
    let config = crate::config::load(&sources)?;
    let registry = ops::new_registry("standalone")?;
    let shutdown = Shutdown::on_signals();

    // The HTTP address first: a port already taken fails before anything is opened.
    let web = args.web.load()?;
    let http = ops::bind(args.listen, "HTTP").await?;
    let http_addr = http.local_addr()?;
    let grpc = ops::bind(args.grpc_listen, "storage gRPC").await?;
    let grpc_addr = grpc.local_addr()?;
    let replica = start_replica(&args, grpc_addr, &registry).await?;
    let storage = replica.local_storage();
    let storage_task = tokio::spawn(replica.serve(grpc, shutdown.clone().wait()));
    // Collection writes through the series limits (and their /api/v1/status/tsdb).
    let limited = telltale_scraper::CardinalityWriter::new(
        Arc::new(storage.clone()),
        args.push.limits(),
        &registry,
    );
    // prometheus.yml's remote_write: what is written locally is also queued for them.
    let forwarding =
        crate::remote_write::Forwarding::new(args.data_dir.join("remote_write"), &registry);
    let writer: Arc<dyn SampleWriter> = Arc::new(crate::remote_write::Tee {
        local: limited.clone(),
        forwarding: forwarding.clone(),
    });
    // Recording rules and ALERTS are Telltale's own series: not subject to the limits.
    let rules_writer: Arc<dyn SampleWriter> = Arc::new(crate::remote_write::Tee {
        local: Arc::new(storage.clone()),
        forwarding: forwarding.clone(),
    });
    let admin: Option<Arc<dyn StorageAdmin>> = args
        .cache
        .enable_admin_api
        .then(|| Arc::new(storage.clone()) as Arc<dyn StorageAdmin>);
    let reader: Arc<dyn SampleReader> = Arc::new(storage);

    let query = Arc::new(telltale_query::Engine::new(
        reader,
        args.cache.engine_options(),
        &registry,
    ));

    let scraper = telltale_scraper::ScrapeManager::new(writer.clone(), &registry);
    let alertmanagers = Arc::new(telltale_alertmanager::ExternalAlertmanagers::new(
        &registry,
    )?);
    let scheme = match &web {
        Some(w) if w.tls_enabled() => "https",
        _ => "http",
    };
    let external_url = args
        .external_url
        .unwrap_or_else(|| format!("{scheme}://{http_addr}"));
    // With a web configuration (TLS, passwords) the self-scrape reads /metrics from a
    // second listener on loopback, plain and metrics-only, labelled with the public address.
    let (self_addr, self_metrics) = match &web {
        Some(_) => {
            let listener =
                ops::bind(SocketAddr::from(([127, 0, 0, 1], 0)), "self-scrape HTTP").await?;
            (listener.local_addr()?, Some(listener))
        }
        None => (http_addr, None),
    };
    let rules = telltale_alertmanager::RuleManager::new(
        Arc::new(crate::rule_querier::EngineQuerier(query.clone())),
        config.alerting.clone(),
        telltale_alertmanager::ManagerOptions {
            external_url,
            external_labels: config
                .external_labels(&args.external_labels)
                .into_iter()
                .collect(),
            state_dir: Some(args.data_dir.join("alertmanager")),
            writer: Some(rules_writer),
            expr_check: crate::rule_querier::check_expr,
            external: Some(alertmanagers.clone()),
            silence_limits: args.silences.limits(),
            ..Default::default()
        },
        &registry,
    );
    let (scrape_targets, alert_rules) = (config.scrape_targets.len(), config.alert_rules.len());
    let reloader = crate::reload::Reloader::new(
        sources,
        crate::reload::Components {
            scraper: scraper.clone(),
            rules: rules.clone(),
            forwarding: forwarding.clone(),
            alertmanagers,
        },
        args.external_labels.clone(),
        self_target(self_addr, http_addr, args.self_scrape_interval),
        &registry,
    )?;
    reloader.apply(config).await?;
    reloader.on_sighup()?;

    let readiness = Readiness::default();
    ops::spawn_probes(&args.web, &readiness, shutdown.clone()).await?;
    let ui = telltale_ui::UiConfig::new(query.clone(), &registry)?;
    let app = telltale_query::router(query.clone())
        .merge(telltale_query::admin_router(query, admin.clone()))
        .merge(crate::backup_api::router(admin, "standalone", None))
        .merge(telltale_ui::router(ui))
        .merge(telltale_scraper::router(
            scraper.clone(),
            writer,
            args.push.push_options()?,
        ))
        .merge(limited.router())
        .merge(telltale_alertmanager::router(rules.clone()))
        .merge(crate::cluster_api::status::router(Replicas::Fixed(vec![
            telltale_storage_api::cluster::Shard {
                id: 0,
                replicas: vec![grpc_addr.to_string()],
            },
        ])))
        .merge(crate::config::router(reloader.yaml()))
        .merge(reloader.router(args.enable_lifecycle))
        .merge(ops::router(&registry, readiness.clone()));

    tracing::info!(
        url = %format!("http://{http_addr}"),
        grpc = %grpc_addr,
        data_dir = %args.data_dir.display(),
        scrape_targets,
        alert_rules,
        "telltale standalone started"
    );
    if let Some(listener) = self_metrics {
        let metrics = ops::router(&registry, readiness.clone());
        tokio::spawn(ops::serve_http(listener, metrics, None, shutdown.clone()));
    }
    readiness.set_ready();
    let served = ops::serve_http(http, app, web, shutdown).await;
    scraper.shutdown();
    rules.stop(Duration::from_secs(5)).await;
    forwarding.close_all().await;
    storage_task
        .await
        .context("storage task panicked")?
        .context("storage gRPC server failed")?;
    served
}

/// The replica id of the standalone storage: its group has this one member.
const REPLICA_ID: u64 = 1;

/// Starts the one-replica Raft group under `--data-dir` and waits until it leads (at once
/// on a fresh directory after the bootstrap, one election timeout after a restart).
async fn start_replica(
    args: &StandaloneArgs,
    grpc_addr: SocketAddr,
    registry: &prometheus::Registry,
) -> anyhow::Result<Replica> {
    let dir = &args.data_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let config = ReplicaConfig {
        data_dir: dir.clone(),
        shard: 0,
        id: REPLICA_ID,
        peers: Peers(BTreeMap::from([(REPLICA_ID, grpc_addr.to_string())])),
        initial_voters: None,
        engine: args.engine.options(dir, 0)?,
        raft: RaftOptions {
            snapshot_every: args.raft_log.raft_snapshot_every,
            log_max_bytes: args.raft_log.raft_log_max_bytes,
            logs_to_keep: args.raft_log.raft_logs_to_keep,
            ..RaftOptions::default()
        },
    };
    let replica = Replica::start(config, registry)
        .await
        .with_context(|| format!("cannot start storage in {}", dir.display()))?;
    replica
        .raft()
        .wait(Some(Duration::from_secs(30)))
        .current_leader(REPLICA_ID, "standalone storage leads its group")
        .await
        .with_context(|| format!("storage in {} did not become ready", dir.display()))?;
    Ok(replica)
}

/// Telltale scraping its own `/metrics` (monitoring the monitor).
fn self_target(addr: SocketAddr, public: SocketAddr, interval: PromDuration) -> ScrapeTarget {
    let loopback = |a: SocketAddr| {
        if a.ip().is_unspecified() {
            SocketAddr::new([127, 0, 0, 1].into(), a.port())
        } else {
            a
        }
    };
    let host = loopback(addr);
    // The instance is the public address even when /metrics is read elsewhere.
    let labels = if addr == public {
        BTreeMap::new()
    } else {
        BTreeMap::from([("instance".to_string(), loopback(public).to_string())])
    };
    let timeout = PromDuration(interval.0.min(Duration::from_secs(10)));
    ScrapeTarget::new(
        SELF_JOB,
        ScrapeTargetSpec {
            job: Some(SELF_JOB.into()),
            static_targets: vec![StaticTargets {
                targets: vec![host.to_string()],
                labels,
            }],
            path: "/metrics".into(),
            scheme: Default::default(),
            interval,
            scrape_timeout: Some(timeout),
            params: BTreeMap::new(),
            ..Default::default()
        },
    )
}
