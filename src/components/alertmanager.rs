//! `telltale alertmanager`: rule evaluation (through the query engine, as a library) and
//! notifications; with `--kubernetes`, AlertRules, routing and Secrets from the API.

use std::sync::Arc;

use anyhow::Context;

use crate::cli::AlertmanagerArgs;
use crate::ops::{self, Readiness, Shutdown};

pub async fn run(args: AlertmanagerArgs) -> anyhow::Result<()> {
    args.grpc_tls.install_client()?;
    let config = crate::config::load(&crate::config::Sources::files(&args.files))?;
    let registry = ops::new_registry("alertmanager")?;
    let super::storage::Clients { writer, reader, .. } =
        super::storage::client(&args.storage, args.shard_map.as_deref(), &registry)?;
    let engine = Arc::new(telltale_query::Engine::new(
        reader,
        Default::default(),
        &registry,
    ));
    let cluster = if args.kubernetes {
        let namespace = args
            .watch_namespace
            .clone()
            .context("--kubernetes needs --watch-namespace (or POD_NAMESPACE)")?;
        let client = kube::Client::try_default()
            .await
            .context("--kubernetes needs in-cluster or kubeconfig credentials")?;
        Some((client, namespace))
    } else {
        None
    };
    let mut options = telltale_alertmanager::ManagerOptions {
        state_dir: Some(args.data_dir.join("alertmanager")),
        writer: Some(writer),
        expr_check: crate::rule_querier::check_expr,
        external_labels: args.external_labels.iter().cloned().collect(),
        silence_limits: args.silences.limits(),
        ..Default::default()
    };
    if let Some((client, namespace)) = &cluster {
        options.secrets = Arc::new(telltale_alertmanager::KubernetesSecrets::new(
            client.clone(),
            namespace,
            telltale_alertmanager::kubernetes::secrets::DEFAULT_SECRET_TTL,
        ));
    }
    let web = args.web.load()?;
    let http = ops::bind(args.listen, "HTTP").await?;
    options.external_url = args
        .external_url
        .unwrap_or_else(|| format!("http://{}", http.local_addr().expect("bound")));
    let manager = telltale_alertmanager::RuleManager::new(
        Arc::new(crate::rule_querier::EngineQuerier(engine)),
        config.alerting,
        options,
        &registry,
    );
    manager.apply(&config.alert_rules);
    let _watch = cluster.map(|(client, namespace)| {
        tracing::info!(namespace = %namespace, metric_cluster = args.metric_cluster.as_deref().unwrap_or(""), "watching AlertRules and routing in Kubernetes");
        telltale_alertmanager::watch_cluster(
            client,
            manager.clone(),
            telltale_alertmanager::ClusterWatchOptions {
                namespace,
                metric_cluster: args.metric_cluster.clone(),
                file_rules: config.alert_rules.clone(),
                debounce: std::time::Duration::from_millis(200),
                // prometheus-operator's PrometheusRules, picked by the MetricCluster's
                // `ruleSelector` in this namespace (the operator's Role is namespaced).
                prometheus_rules: if args.metric_cluster.is_some() {
                    telltale_alertmanager::kubernetes::PrometheusRuleScope::OwnNamespace
                } else {
                    telltale_alertmanager::kubernetes::PrometheusRuleScope::Off
                },
            },
        )
    });
    let readiness = Readiness::default();
    let shutdown = Shutdown::on_signals();
    ops::spawn_probes(&args.web, &readiness, shutdown.clone()).await?;
    let app = telltale_alertmanager::router(manager.clone())
        .merge(ops::router(&registry, readiness.clone()));
    tracing::info!(http = %http.local_addr()?, storage = %args.storage, rules = config.alert_rules.len(), kubernetes = args.kubernetes, "alertmanager started");
    readiness.set_ready();
    let result = ops::serve_http(http, app, web, shutdown).await;
    manager.stop(std::time::Duration::from_secs(5)).await;
    result
}
