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
    /// One reload at a time; the discovery of the Alertmanagers applied last.
    running: tokio::sync::Mutex<Option<crate::alertmanager_sd::AlertmanagerDiscovery>>,
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
            running: tokio::sync::Mutex::new(None),
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
        let mut discovery = self.running.lock().await;
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
        let (sections, relabel) = match &config.prometheus {
            Some(p) => (p.alertmanagers(), alert_relabel(&p.alert_relabelings())?),
            None => (&[][..], None),
        };
        // The last configuration's discovery stops before the new one's first set is used.
        discovery.take();
        let (started, endpoints) =
            crate::alertmanager_sd::start(sections, self.to.alertmanagers.clone()).await;
        self.to
            .alertmanagers
            .configure(endpoints, external_labels.into_iter().collect(), relabel);
        *discovery = Some(started);
        self.to.rules.set_alerting(&config.alerting)?;
        let self_job = self.self_target.metadata.name.as_deref();
        if !config
            .scrape_targets
            .iter()
            .any(|t| t.metadata.name.as_deref() == self_job)
        {
            config.scrape_targets.push(self.self_target.clone());
        }
        self.to.scraper.apply(&config.scrape_targets);
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
