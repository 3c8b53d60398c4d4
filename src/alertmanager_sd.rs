//! prometheus.yml's `alerting.alertmanagers`: which Alertmanagers alerts go to. Each
//! section's `static_configs`, `file_sd_configs` and `http_sd_configs` are discovered
//! with the scraper's discovery, its `kubernetes_sd_configs` with the scraper's
//! Kubernetes watches (the section read as a ScrapeTarget that is never
//! scraped: `__address__`, `__scheme__` and the alerts path, relabeled by the section's
//! `relabel_configs`, `__alerts_path__` being the scrape's `__metrics_path__`), and every
//! target left is one Alertmanager at `<scheme>://<address><path_prefix>/api/v2/alerts`
//! with the section's client settings and timeout, as Prometheus's notifier discovers
//! them. Files are read again and URLs fetched again at their refresh intervals; the
//! endpoints are replaced whenever the set changes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use telltale_alertmanager::{AlertmanagerEndpoint, ExternalAlertmanagers};
use telltale_crds::ScrapeTarget;
use telltale_crds::prometheus::AlertmanagerConfig;
use telltale_crds::scrape_target::FileSdConfig;
use telltale_scraper::file_sd::FileSdCache;
use telltale_scraper::http_sd::{self, HttpSdCache};
use tokio::task::JoinHandle;

/// How often files and URLs are checked for being due.
const TICK: Duration = Duration::from_secs(1);

/// The longest an HTTP discovery request may take (a start or a reload waits for the
/// first answers).
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// One section as discovery sees it.
struct Section {
    target: ScrapeTarget,
    client: telltale_web::client::ClientSettings,
    timeout: Duration,
}

/// The running discovery of one configuration's Alertmanagers; dropping it stops it.
pub struct AlertmanagerDiscovery(JoinHandle<()>);

impl Drop for AlertmanagerDiscovery {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Discovers the Alertmanagers of `sections`: the first set (files read, URLs fetched
/// once, the Kubernetes objects listed when `kube` is given and a section asks for them)
/// is returned, and later changes go to `to`.
pub async fn start(
    sections: &[AlertmanagerConfig],
    kube: Option<kube::Client>,
    to: Arc<ExternalAlertmanagers>,
) -> (AlertmanagerDiscovery, Vec<AlertmanagerEndpoint>) {
    let sections = translate(sections);
    let mut state = State::default();
    let (_, cluster) = telltale_scraper::discovery::k8s::split_by_discovery(
        &sections
            .iter()
            .map(|s| s.target.clone())
            .collect::<Vec<_>>(),
    );
    let watches = match kube {
        Some(client) if !cluster.is_empty() => {
            let sd = telltale_scraper::kubernetes_discovery(
                client,
                telltale_scraper::KubernetesSdOptions {
                    scrape_targets: cluster,
                    watch_scrape_targets: false,
                    ..Default::default()
                },
            );
            let mut rx = sd.targets();
            // The first set once the watches have listed (or given up for now).
            let _ = tokio::time::timeout(FETCH_TIMEOUT, rx.changed()).await;
            state.cluster = rx.borrow_and_update().active.clone();
            Some((sd, rx))
        }
        _ => None,
    };
    state.refresh(&sections, true).await;
    let first = state.endpoints(&sections);
    let handle = tokio::spawn(async move {
        let (_sd, mut rx) = match watches {
            Some((sd, rx)) => (Some(sd), Some(rx)),
            None => (None, None),
        };
        loop {
            let cluster_changed = match rx.as_mut() {
                Some(rx) => tokio::select! {
                    r = rx.changed() => r.is_ok(),
                    _ = tokio::time::sleep(TICK) => false,
                },
                None => {
                    tokio::time::sleep(TICK).await;
                    false
                }
            };
            if let (true, Some(rx)) = (cluster_changed, rx.as_mut()) {
                state.cluster = rx.borrow_and_update().active.clone();
            }
            if state.refresh(&sections, false).await || cluster_changed {
                to.set_endpoints(state.endpoints(&sections));
            }
        }
    });
    (AlertmanagerDiscovery(handle), first)
}

/// Each section as a ScrapeTarget (named `alertmanagers-<i>`,
/// `AlertmanagerConfig::to_scrape_target`) with its client settings;
/// a section whose client settings are invalid is skipped with an error logged.
fn translate(sections: &[AlertmanagerConfig]) -> Vec<Section> {
    let mut out = Vec::new();
    for (i, am) in sections.iter().enumerate() {
        let at = format!("alerting.alertmanagers[{i}]");
        if am.api_version() != "v2" {
            tracing::warn!(
                section = i,
                "{at}: api_version v1 is not supported; alerts are sent through v2"
            );
        }
        let client = match telltale_web::client::from_prometheus(&am.http, &at) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(section = i, error = %e, "{at}: section skipped");
                continue;
            }
        };
        out.push(Section {
            target: am.to_scrape_target(&format!("alertmanagers-{i}")),
            client,
            timeout: am.timeout().0,
        });
    }
    out
}

/// What has been read and fetched, and when each URL is due.
#[derive(Default)]
struct State {
    files: FileSdCache,
    http: HttpSdCache,
    files_due: Option<Instant>,
    urls_due: BTreeMap<String, Instant>,
    client: reqwest::Client,
    /// The targets of the sections' Kubernetes discovery (their pool is the section's
    /// ScrapeTarget name).
    cluster: Vec<telltale_scraper::Target>,
}

impl State {
    /// Reads the files and fetches the URLs that are due (all when `all`); true when
    /// anything changed.
    async fn refresh(&mut self, sections: &[Section], all: bool) -> bool {
        let now = Instant::now();
        let mut changed = false;
        let files: Vec<&FileSdConfig> = sections
            .iter()
            .flat_map(|s| &s.target.spec.file_sd)
            .collect();
        if !files.is_empty() && (all || self.files_due.is_none_or(|d| d <= now)) {
            let period = files
                .iter()
                .filter_map(|f| f.refresh_interval)
                .min()
                .map_or(Duration::from_secs(300), |p| p.0);
            changed |= self.files.refresh(
                files
                    .iter()
                    .flat_map(|f| f.files.iter().map(String::as_str)),
            );
            self.files_due = Some(now + period);
        }
        for sd in sections.iter().flat_map(|s| &s.target.spec.http_sd) {
            if !all && self.urls_due.get(&sd.url).is_some_and(|d| *d > now) {
                continue;
            }
            let period = sd.refresh_interval.map_or(Duration::from_secs(60), |p| p.0);
            let timeout = period.min(FETCH_TIMEOUT);
            let fetched = http_sd::fetch(&self.client, &sd.url, period, timeout).await;
            changed |= self.http.update(&sd.url, fetched);
            self.urls_due.insert(sd.url.clone(), now + period);
        }
        changed || all
    }

    /// The Alertmanagers of every section, in order, each once.
    fn endpoints(&self, sections: &[Section]) -> Vec<AlertmanagerEndpoint> {
        let mut out: Vec<AlertmanagerEndpoint> = Vec::new();
        for s in sections {
            let found = telltale_scraper::discovery::discover_from(
                std::slice::from_ref(&s.target),
                &self.files,
                &self.http,
            );
            let name = s.target.metadata.name.as_deref().unwrap_or_default();
            let from_cluster = self.cluster.iter().filter(|t| t.pool == name).cloned();
            for t in found.active.into_iter().chain(from_cluster) {
                let url = t.url.to_string();
                if !out.iter().any(|e| e.url == url) {
                    out.push(AlertmanagerEndpoint {
                        url,
                        timeout: s.timeout,
                        client: s.client.clone(),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sections(yaml: &str) -> Vec<Section> {
        let c = telltale_crds::PrometheusConfig::from_str(
            std::path::Path::new("/etc/p/prometheus.yml"),
            yaml,
        )
        .unwrap();
        translate(c.alertmanagers())
    }

    #[tokio::test]
    async fn static_files_and_relabeling_give_the_alertmanagers() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("am.json"),
            r#"[{"targets": ["am-1:9093", "am-2:9093"], "labels": {"env": "prod"}},
                {"targets": ["am-3:9093"], "labels": {"env": "test"}}]"#,
        )
        .unwrap();
        let s = sections(&format!(
            "alerting:
  alertmanagers:
    - static_configs: [{{targets: ['am-0:9093']}}]
      path_prefix: /am
      scheme: https
    - file_sd_configs: [{{files: ['{}/*.json']}}]
      relabel_configs:
        - {{source_labels: [env], regex: prod, action: keep}}
        - {{target_label: __alerts_path__, replacement: /custom/api/v2/alerts}}
",
            dir.path().display()
        ));
        let mut state = State::default();
        assert!(state.refresh(&s, true).await);
        let urls: Vec<String> = state.endpoints(&s).into_iter().map(|e| e.url).collect();
        assert_eq!(
            urls,
            [
                "https://am-0:9093/am/api/v2/alerts",
                "http://am-1:9093/custom/api/v2/alerts",
                "http://am-2:9093/custom/api/v2/alerts",
            ]
        );
    }
}
