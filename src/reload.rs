//! Reloading standalone's configuration while it runs, as Prometheus does: on SIGHUP and
//! on `POST /-/reload` (or `PUT`; answered 403 when `--web.enable-lifecycle=false`), the
//! configuration file and `-f` files are read again and, when all of it is valid, applied
//! to the scraper, the rule evaluator and the remote_write forwarders at once; a bad file changes nothing and is
//! logged (and answered with a 500 naming it). `prometheus_config_last_reload_successful`
//! and `prometheus_config_last_reload_success_timestamp_seconds` keep Prometheus's names,
//! so the usual "config reload failed" alerts work unchanged.

use std::sync::{Arc, RwLock};

use axum::http::StatusCode;
use axum::routing::post;
use prometheus::{Gauge, IntGauge, Registry};
use telltale_crds::ScrapeTarget;

use crate::config::{Config, Sources};
use crate::remote_write::Forwarding;

/// The running components a configuration is applied to.
pub struct Components {
    pub scraper: Arc<telltale_scraper::ScrapeManager>,
    pub rules: Arc<telltale_alertmanager::RuleManager>,
    /// prometheus.yml's `remote_write`.
    pub forwarding: Arc<Forwarding>,
    /// prometheus.yml's `alerting.alertmanagers`.
    pub alertmanagers: Arc<telltale_alertmanager::ExternalAlertmanagers>,
}

/// The discoveries a configuration runs; dropping them stops them.
#[derive(Default)]
struct Running {
    alertmanagers: Option<crate::alertmanager_sd::AlertmanagerDiscovery>,
    cluster: Option<ClusterScrapes>,
}

/// The Kubernetes discovery of the jobs that select cluster objects, followed by the
/// scraper beside the other jobs.
struct ClusterScrapes {
    _sd: telltale_scraper::KubernetesDiscovery,
    follow: tokio::task::JoinHandle<()>,
}

impl Drop for ClusterScrapes {
    fn drop(&mut self) {
        self.follow.abort();
    }
}

/// Applies the configuration to the running components.
pub struct Reloader {
    sources: Sources,
    to: Components,
    /// `--external-label` flags, over prometheus.yml's external labels.
    external_labels: Vec<(String, String)>,
    /// Telltale's scrape of itself, added unless the files define that job.
    self_target: ScrapeTarget,
    /// What `/api/v1/status/config` shows.
    yaml: Arc<RwLock<String>>,
    /// One reload at a time; the discoveries of the configuration applied last.
    running: tokio::sync::Mutex<Running>,
    successful: IntGauge,
    success_time: Gauge,
}

impl Reloader {
    pub fn new(
        sources: Sources,
        to: Components,
        external_labels: Vec<(String, String)>,
        self_target: ScrapeTarget,
        registry: &Registry,
    ) -> anyhow::Result<Arc<Self>> {
        let successful = IntGauge::new(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
        )?;
        let success_time = Gauge::new(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
        )?;
        registry.register(Box::new(successful.clone()))?;
        registry.register(Box::new(success_time.clone()))?;
        Ok(Arc::new(Reloader {
            sources,
            to,
            external_labels,
            self_target,
            yaml: Arc::default(),
            running: tokio::sync::Mutex::new(Running::default()),
            successful,
            success_time,
        }))
    }

    /// The YAML `/api/v1/status/config` serves, kept current by every apply.
    pub fn yaml(&self) -> Arc<RwLock<String>> {
        self.yaml.clone()
    }

    /// Applies a loaded configuration (the one read at start).
    pub async fn apply(&self, mut config: Config) -> anyhow::Result<()> {
        let mut running = self.running.lock().await;
        // Jobs selecting cluster objects (prometheus.yml's `kubernetes_sd_configs`, or a
        // ScrapeTarget's selectors) are discovered through the Kubernetes API, the rest
        // from their static targets and files.
        let self_job = self.self_target.metadata.name.as_deref();
        if !config
            .scrape_targets
            .iter()
            .any(|t| t.metadata.name.as_deref() == self_job)
        {
            config.scrape_targets.push(self.self_target.clone());
        }
        let (local, cluster) =
            telltale_scraper::discovery::k8s::split_by_discovery(&config.scrape_targets);
        let sections = config
            .prometheus
            .as_ref()
            .map(|p| p.alertmanagers())
            .unwrap_or_default();
        let kube = if !cluster.is_empty()
            || sections.iter().any(|s| !s.kubernetes_sd_configs.is_empty())
        {
            Some(crate::kube_connection::client(config.prometheus.as_ref()).await?)
        } else {
            None
        };
        let remote_writes = config
            .prometheus
            .as_ref()
            .map(|p| p.remote_writes().to_vec())
            .unwrap_or_default();
        let external_labels = config.external_labels(&self.external_labels);
        self.to
            .forwarding
            .apply(&remote_writes, &external_labels)
            .await?;
        let relabel = match &config.prometheus {
            Some(p) => alert_relabel(&p.alert_relabelings())?,
            None => None,
        };
        // The last configuration's discoveries stop before the new one's first set is used.
        *running = Running::default();
        let (started, endpoints) =
            crate::alertmanager_sd::start(sections, kube.clone(), self.to.alertmanagers.clone())
                .await;
        self.to
            .alertmanagers
            .configure(endpoints, external_labels.into_iter().collect(), relabel);
        running.alertmanagers = Some(started);
        self.to.rules.set_alerting(&config.alerting)?;
        self.to.scraper.set_alongside(Default::default());
        if let Some(client) = kube.filter(|_| !cluster.is_empty()) {
            let sd = telltale_scraper::kubernetes_discovery(
                client,
                telltale_scraper::KubernetesSdOptions {
                    scrape_targets: cluster,
                    watch_scrape_targets: false,
                    ..Default::default()
                },
            );
            let follow = tokio::spawn(self.to.scraper.clone().follow_alongside(sd.targets()));
            running.cluster = Some(ClusterScrapes { _sd: sd, follow });
        }
        self.to.scraper.apply(&local);
        self.to.rules.apply(&config.alert_rules);
        *self.yaml.write().unwrap_or_else(|e| e.into_inner()) = config.to_yaml();
        self.successful.set(1);
        self.success_time.set(now_seconds());
        tracing::info!(
            scrape_targets = config.scrape_targets.len(),
            alert_rules = config.alert_rules.len(),
            "configuration applied"
        );
        Ok(())
    }

    /// Reads the files again and applies them; on an error nothing changes.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let result = match crate::config::load(&self.sources) {
            Ok(config) => self.apply(config).await,
            Err(e) => Err(e.into()),
        };
        if let Err(e) = &result {
            self.successful.set(0);
            tracing::error!(error = %e, "configuration reload failed; the previous one stays");
        }
        result
    }

    /// Reloads on every SIGHUP until the process ends.
    pub fn on_sighup(self: &Arc<Self>) -> anyhow::Result<()> {
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let me = self.clone();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading the configuration");
                let _ = me.reload().await;
            }
        });
        Ok(())
    }

    /// `POST /-/reload` and `PUT /-/reload`, when `enabled` (Prometheus's
    /// `--web.enable-lifecycle`).
    pub fn router(self: &Arc<Self>, enabled: bool) -> axum::Router {
        let me = self.clone();
        let handler = move || {
            let me = me.clone();
            async move {
                if !enabled {
                    return (
                        StatusCode::FORBIDDEN,
                        "Lifecycle API is not enabled.".to_string(),
                    );
                }
                match me.reload().await {
                    Ok(()) => (StatusCode::OK, String::new()),
                    Err(e) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("failed to reload config: {e:#}"),
                    ),
                }
            }
        };
        axum::Router::new().route("/-/reload", post(handler.clone()).put(handler))
    }
}

/// `alerting.alert_relabel_configs` as the function the external Alertmanagers' sender
/// applies (`None` when there are none).
fn alert_relabel(
    steps: &[telltale_crds::scrape_target::RelabelConfig],
) -> anyhow::Result<Option<telltale_alertmanager::AlertRelabel>> {
    if steps.is_empty() {
        return Ok(None);
    }
    let relabeler = telltale_scraper::pipeline::relabel::Relabeler::new(
        steps,
        "alerting.alert_relabel_configs",
    )?;
    Ok(Some(Arc::new(move |labels| relabeler.process(labels))))
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
