//! [`ExternalAlertmanagers`]: firing and resolved alerts sent to Alertmanagers outside the
//! process (prometheus.yml's `alerting.alertmanagers`), as Prometheus's notifier sends
//! them: `POST <scheme>://<target><path_prefix>/api/v2/alerts` with a JSON list of
//! `{labels, annotations, startsAt, endsAt, generatorURL}`, the external labels added
//! (an alert's own label of that name wins), to every Alertmanager. A firing alert is
//! sent again once `resend_delay` (1 minute) has passed since it was last sent, a resolved
//! one as soon as it resolves; an Alertmanager that fails is retried at the next
//! evaluation. Each section's HTTP client settings (`tls_config`, `basic_auth`,
//! `authorization`, proxy) apply to its Alertmanagers (`telltale_web::client`).
//! `alerting.alert_relabel_configs` ([`AlertRelabel`]) rewrite each alert's labels, the
//! external labels included, before it is sent; an alert they drop is not sent, as
//! Prometheus's notifier does. The rule evaluator's own Alertmanager gets every alert as
//! before, unrelabeled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use prometheus::{IntCounterVec, Opts, Registry};
use serde::Serialize;
use telltale_web::client::{ClientOptions, ClientSettings, HttpClient};

use crate::alerting::notify::NotifyAlert;
use crate::format::rfc3339_millis;
use crate::labels::{LabelSet, fingerprint};

/// How long a firing alert goes unsent at most (Prometheus's `--rules.alert.resend-delay`).
pub const RESEND_DELAY: Duration = Duration::from_secs(60);

/// One Alertmanager: where alerts are posted, how long a post may take, and the client
/// settings of its section (`tls_config`, `basic_auth`, `authorization`, proxy...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The full URL of its `/api/v2/alerts`.
    pub url: String,
    pub timeout: Duration,
    pub client: ClientSettings,
}

/// `alerting.alert_relabel_configs` as one function: the labels an alert is sent with,
/// or `None` when the relabeling drops it.
pub type AlertRelabel = Arc<dyn Fn(LabelSet) -> Option<LabelSet> + Send + Sync>;

/// See the module documentation.
pub struct ExternalAlertmanagers {
    /// One client per client settings (`telltale_web::client`).
    clients: Mutex<HashMap<ClientSettings, Arc<HttpClient>>>,
    endpoints: RwLock<Vec<Endpoint>>,
    external_labels: RwLock<LabelSet>,
    relabel: RwLock<Option<AlertRelabel>>,
    /// When each alert (by fingerprint) was last sent, and whether it was resolved then.
    sent: Mutex<HashMap<u64, (i64, bool)>>,
    sent_total: IntCounterVec,
    errors_total: IntCounterVec,
}

/// An alert as Alertmanager's v2 API takes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Postable<'a> {
    labels: LabelSet,
    annotations: &'a LabelSet,
    starts_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ends_at: Option<String>,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
}

impl ExternalAlertmanagers {
    /// No Alertmanagers yet; `prometheus_notifications_sent_total` and
    /// `prometheus_notifications_errors_total` (by `alertmanager`, Prometheus's names)
    /// are registered in `registry`.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let sent_total = IntCounterVec::new(
            Opts::new(
                "prometheus_notifications_sent_total",
                "Total number of alerts sent.",
            ),
            &["alertmanager"],
        )?;
        let errors_total = IntCounterVec::new(
            Opts::new(
                "prometheus_notifications_errors_total",
                "Total number of errors sending alert notifications.",
            ),
            &["alertmanager"],
        )?;
        registry.register(Box::new(sent_total.clone()))?;
        registry.register(Box::new(errors_total.clone()))?;
        Ok(ExternalAlertmanagers {
            clients: Mutex::default(),
            endpoints: RwLock::default(),
            external_labels: RwLock::default(),
            relabel: RwLock::default(),
            sent: Mutex::default(),
            sent_total,
            errors_total,
        })
    }

    /// Replaces the Alertmanagers, the external labels and the alert relabeling (at start
    /// and on a reload).
    pub fn configure(
        &self,
        endpoints: Vec<Endpoint>,
        external_labels: LabelSet,
        relabel: Option<AlertRelabel>,
    ) {
        *self.relabel.write().unwrap_or_else(|e| e.into_inner()) = relabel;
        self.set_endpoints(endpoints);
        *self
            .external_labels
            .write()
            .unwrap_or_else(|e| e.into_inner()) = external_labels;
    }

    /// Replaces the Alertmanagers only (their discovery found a new set).
    pub fn set_endpoints(&self, endpoints: Vec<Endpoint>) {
        self.clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|settings, _| endpoints.iter().any(|e| &e.client == settings));
        *self.endpoints.write().unwrap_or_else(|e| e.into_inner()) = endpoints;
    }

    /// The Alertmanagers alerts go to.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.endpoints
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends what is due of `alerts` (an evaluation's firing and resolved alerts) to
    /// every Alertmanager.
    pub(crate) async fn send(&self, alerts: &[NotifyAlert], now_ms: i64) {
        let endpoints = self.endpoints();
        if endpoints.is_empty() {
            return;
        }
        let due = self.due(alerts, now_ms);
        if due.is_empty() {
            return;
        }
        let external = self
            .external_labels
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let relabel = self
            .relabel
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let body: Vec<Postable<'_>> = due
            .iter()
            .filter_map(|a| {
                let mut labels = external.clone();
                labels.extend(a.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                let labels = match &relabel {
                    Some(relabel) => relabel(labels)?,
                    None => labels,
                };
                Some(Postable {
                    labels,
                    annotations: &a.annotations,
                    starts_at: rfc3339_millis(a.starts_at_ms),
                    ends_at: a.ends_at_ms.map(rfc3339_millis),
                    generator_url: &a.generator_url,
                })
            })
            .collect();
        if body.is_empty() {
            self.mark_sent(&due, now_ms);
            return;
        }
        let mut delivered = false;
        for endpoint in &endpoints {
            let sent = match self.request(endpoint).await {
                Ok(request) => request
                    .json(&body)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match sent {
                Ok(_) => {
                    delivered = true;
                    self.sent_total
                        .with_label_values(&[&endpoint.url])
                        .inc_by(body.len() as u64);
                }
                Err(e) => {
                    self.errors_total
                        .with_label_values(&[&endpoint.url])
                        .inc_by(body.len() as u64);
                    tracing::warn!(alertmanager = %endpoint.url, error = %e, "cannot send alerts");
                }
            }
        }
        if delivered {
            self.mark_sent(&due, now_ms);
        }
    }

    /// Notes `alerts` as sent at `now_ms`.
    fn mark_sent(&self, alerts: &[&NotifyAlert], now_ms: i64) {
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        for a in alerts {
            sent.insert(fingerprint(&a.labels), (now_ms, a.ends_at_ms.is_some()));
        }
    }

    /// A POST to `endpoint` with its section's client and authentication.
    async fn request(
        &self,
        endpoint: &Endpoint,
    ) -> Result<reqwest::RequestBuilder, telltale_web::Error> {
        let http = self
            .clients
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(endpoint.client.clone())
            .or_insert_with(|| {
                Arc::new(HttpClient::new(
                    endpoint.client.clone(),
                    ClientOptions::new(concat!("telltale/", env!("CARGO_PKG_VERSION"))),
                ))
            })
            .clone();
        let request = http.client()?.post(&endpoint.url).timeout(endpoint.timeout);
        http.authorize(request).await
    }

    /// The alerts to send now: new ones, firing ones not sent for [`RESEND_DELAY`], and
    /// ones that resolved since they were last sent. Alerts no longer given are
    /// forgotten.
    fn due<'a>(&self, alerts: &'a [NotifyAlert], now_ms: i64) -> Vec<&'a NotifyAlert> {
        let resend_ms = RESEND_DELAY.as_millis() as i64;
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let given: std::collections::HashSet<u64> =
            alerts.iter().map(|a| fingerprint(&a.labels)).collect();
        sent.retain(|fp, _| given.contains(fp));
        alerts
            .iter()
            .filter(|a| match sent.get(&fingerprint(&a.labels)) {
                None => true,
                Some(&(at, was_resolved)) => {
                    let resolved = a.ends_at_ms.is_some();
                    (resolved && !was_resolved) || now_ms - at >= resend_ms
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(name: &str, resolved: bool) -> NotifyAlert {
        NotifyAlert {
            labels: LabelSet::from([("alertname".to_string(), name.to_string())]),
            annotations: LabelSet::new(),
            starts_at_ms: 1_000,
            ends_at_ms: resolved.then_some(5_000),
            generator_url: String::new(),
        }
    }

    #[test]
    fn firing_alerts_are_resent_after_the_delay_and_resolutions_at_once() {
        let am = ExternalAlertmanagers::new(&Registry::new()).unwrap();
        let firing = [alert("A", false), alert("B", false)];
        assert_eq!(am.due(&firing, 0).len(), 2, "new alerts are due");
        {
            let mut sent = am.sent.lock().unwrap();
            for a in &firing {
                sent.insert(fingerprint(&a.labels), (0, false));
            }
        }
        assert!(am.due(&firing, 30_000).is_empty(), "sent 30 s ago");
        assert_eq!(am.due(&firing, 60_000).len(), 2, "resent after a minute");
        let resolved = [alert("A", true), alert("B", false)];
        let due = am.due(&resolved, 10_000);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].labels["alertname"], "A");
        // B is not given any more: forgotten, so due again when it comes back.
        assert_eq!(am.due(&[alert("A", true)], 10_000).len(), 1);
        assert_eq!(am.due(&[alert("B", false)], 10_001).len(), 1);
    }
}
