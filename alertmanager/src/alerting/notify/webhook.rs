//! [`Webhook`]: POSTs the Alertmanager webhook JSON (version "4").

use std::time::Duration;

use telltale_crds::WebhookConfig;

use crate::alerting::notify::payload::WebhookMessage;
use crate::alerting::notify::{IntegrationContext, Notification, Notifier, timeout_of};
use crate::error::{Error, Result};

/// One webhook of a receiver.
pub struct Webhook {
    config: WebhookConfig,
    ctx: IntegrationContext,
}

impl Webhook {
    pub fn new(config: WebhookConfig, ctx: IntegrationContext) -> Webhook {
        Webhook { config, ctx }
    }
}

/// POSTs `body` as JSON with the integration's client and authentication; a non-2xx
/// answer is an [`Error::Status`].
pub(crate) async fn post_json<T: serde::Serialize + ?Sized>(
    ctx: &IntegrationContext,
    integration: &'static str,
    url: &str,
    body: &T,
    timeout: Duration,
) -> Result<()> {
    let http = ctx.http()?;
    let request = http
        .client()
        .map_err(|e| Error::client(integration, e))?
        .post(url)
        .timeout(timeout)
        .json(body);
    let response = http
        .authorize(request)
        .await
        .map_err(|e| Error::client(integration, e))?
        .send()
        .await
        .map_err(|e| Error::http(integration, e))?;
    check_status(integration, response)
}

/// Turns a non-2xx answer into an error.
pub(crate) fn check_status(integration: &'static str, response: reqwest::Response) -> Result<()> {
    if response.status().is_success() {
        Ok(())
    } else {
        Err(Error::Status {
            integration,
            status: response.status().as_u16(),
        })
    }
}

#[async_trait::async_trait]
impl Notifier for Webhook {
    fn integration(&self) -> &'static str {
        "webhook"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    fn timeout(&self) -> Duration {
        timeout_of(self.config.timeout)
    }

    async fn notify(&self, n: &Notification) -> Result<()> {
        let message = WebhookMessage::new(n);
        post_json(
            &self.ctx,
            "webhook",
            &self.config.url,
            &message,
            self.timeout(),
        )
        .await
    }
}
