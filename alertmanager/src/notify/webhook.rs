//! [`WebhookWorker`]: delivers the notifications of one webhook, in its own task, so a
//! slow or failing receiver never holds up rule evaluation or the other webhooks.

use std::time::{Duration, Instant};

use telltale_crds::WebhookConfig;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::notify::dedup::{NotificationLog, Plan};
use crate::notify::dispatch::GroupSnapshot;
use crate::notify::payload::{WebhookMessage, group_key};

/// Attempts per notification.
pub const ATTEMPTS: u32 = 3;
/// Wait before the second attempt; doubled before each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// Limit of one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Snapshots queued per webhook before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 1024;

/// What every worker shares.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    pub external_url: String,
    pub repeat_interval: Duration,
    pub client: reqwest::Client,
}

impl WorkerOptions {
    /// Options with an HTTP client that gives up on a request after [`REQUEST_TIMEOUT`].
    pub fn new(external_url: String, repeat_interval: Duration) -> WorkerOptions {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("telltale-alertmanager/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot build the webhook HTTP client, using defaults");
                reqwest::Client::new()
            });
        WorkerOptions {
            external_url,
            repeat_interval,
            client,
        }
    }
}

/// The sending side of a running worker.
pub struct WebhookHandle {
    pub url: String,
    pub tx: mpsc::Sender<GroupSnapshot>,
}

/// One webhook of one receiver, with what it was told so far.
pub struct WebhookWorker {
    receiver: String,
    config: WebhookConfig,
    options: WorkerOptions,
    log: NotificationLog,
    metrics: Metrics,
}

impl WebhookWorker {
    pub fn new(
        receiver: &str,
        config: WebhookConfig,
        options: WorkerOptions,
        metrics: Metrics,
    ) -> WebhookWorker {
        WebhookWorker {
            receiver: receiver.to_string(),
            config,
            options,
            log: NotificationLog::new(),
            metrics,
        }
    }

    /// Runs the worker until every sender is dropped.
    pub fn spawn(self) -> WebhookHandle {
        let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
        let url = self.config.url.clone();
        tokio::spawn(self.run(rx));
        WebhookHandle { url, tx }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<GroupSnapshot>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            for snapshot in latest_per_group(batch) {
                self.handle(snapshot).await;
            }
        }
        tracing::debug!(url = %self.config.url, "webhook worker stopped");
    }

    async fn handle(&mut self, snapshot: GroupSnapshot) {
        let key = group_key(&snapshot.alertname);
        if snapshot.alerts.is_empty() {
            self.log.forget(&key);
            return;
        }
        let repeat_ms = i64::try_from(self.options.repeat_interval.as_millis()).unwrap_or(i64::MAX);
        let plan = self.log.plan(
            &key,
            &snapshot.alerts,
            self.config.send_resolved,
            snapshot.now_ms,
            repeat_ms,
        );
        let alerts = match plan {
            Plan::Skip => return,
            Plan::RecordOnly => {
                self.log.record(&key, &snapshot.alerts, snapshot.now_ms);
                return;
            }
            Plan::Send(alerts) => alerts,
        };
        let message = WebhookMessage::new(
            &self.receiver,
            &snapshot.alertname,
            &alerts,
            &self.options.external_url,
        );
        let started = Instant::now();
        let result = deliver(&self.options.client, &self.config.url, &message).await;
        self.metrics
            .notification_latency
            .observe(started.elapsed().as_secs_f64());
        match result {
            Ok(()) => {
                self.log.record(&key, &snapshot.alerts, snapshot.now_ms);
                self.metrics
                    .notifications
                    .with_label_values(&[self.receiver.as_str(), "success"])
                    .inc();
                tracing::debug!(url = %self.config.url, group = %key, status = message.status, alerts = alerts.len(), "notified");
            }
            Err(e) => {
                self.metrics
                    .notifications
                    .with_label_values(&[self.receiver.as_str(), "failure"])
                    .inc();
                tracing::warn!(group = %key, error = %e, "notification failed; retried at the next evaluation");
            }
        }
    }
}

/// Keeps only the newest snapshot of each group, in the order groups first appear.
pub fn latest_per_group(batch: Vec<GroupSnapshot>) -> Vec<GroupSnapshot> {
    let mut out: Vec<GroupSnapshot> = Vec::with_capacity(batch.len());
    for snapshot in batch {
        match out.iter_mut().find(|s| s.alertname == snapshot.alertname) {
            Some(slot) => *slot = snapshot,
            None => out.push(snapshot),
        }
    }
    out
}

/// POSTs `message` as JSON to `url`: up to [`ATTEMPTS`] tries with doubling backoff,
/// retrying transport errors, 5xx and 429.
pub async fn deliver(client: &reqwest::Client, url: &str, message: &WebhookMessage) -> Result<()> {
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let error = match client.post(url).json(message).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => Error::WebhookStatus {
                url: url.to_string(),
                status: response.status().as_u16(),
            },
            Err(e) => Error::WebhookTransport {
                url: url.to_string(),
                message: e.to_string(),
            },
        };
        if attempt >= ATTEMPTS || !error.is_retryable() {
            return Err(error);
        }
        tracing::debug!(%url, attempt, error = %error, "webhook attempt failed, retrying");
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(name: &str, now_ms: i64) -> GroupSnapshot {
        GroupSnapshot {
            alertname: name.into(),
            alerts: vec![],
            now_ms,
        }
    }

    #[test]
    fn queued_snapshots_coalesce_to_the_newest_per_group() {
        let out = latest_per_group(vec![snap("A", 1), snap("B", 1), snap("A", 2)]);
        let got: Vec<_> = out
            .iter()
            .map(|s| (s.alertname.as_str(), s.now_ms))
            .collect();
        assert_eq!(got, [("A", 2), ("B", 1)]);
    }
}
