//! [`Slack`]: posts to a Slack incoming webhook with Alertmanager's default title, color
//! and fallback, and a deterministic text listing the alerts.

use std::time::Duration;

use serde::Serialize;
use telltale_crds::SlackConfig;

use crate::error::Result;
use crate::alerting::notify::text::{slack_text, subject};
use crate::alerting::notify::webhook::post_json;
use crate::alerting::notify::{IntegrationContext, Notification, Notifier, query_escape, timeout_of};

/// One Slack incoming webhook.
pub struct Slack {
    config: SlackConfig,
    ctx: IntegrationContext,
}

/// The body of an incoming-webhook POST.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlackMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub attachments: Vec<SlackAttachment>,
}

/// The one attachment of a [`SlackMessage`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlackAttachment {
    pub title: String,
    pub title_link: String,
    pub text: String,
    pub fallback: String,
    /// `danger` while firing, `good` once resolved.
    pub color: &'static str,
    pub mrkdwn_in: Vec<&'static str>,
}

impl SlackMessage {
    pub fn new(config: &SlackConfig, n: &Notification) -> SlackMessage {
        let title = subject(n);
        let title_link = format!(
            "{}/#/alerts?receiver={}",
            n.external_url.trim_end_matches('/'),
            query_escape(&n.receiver)
        );
        SlackMessage {
            channel: config.channel.clone(),
            username: config.username.clone(),
            attachments: vec![SlackAttachment {
                fallback: format!("{title} | {title_link}"),
                title,
                title_link,
                text: slack_text(n),
                color: if n.status() == "firing" {
                    "danger"
                } else {
                    "good"
                },
                mrkdwn_in: vec!["fallback", "pretext", "text"],
            }],
        }
    }
}

impl Slack {
    pub fn new(config: SlackConfig, ctx: IntegrationContext) -> Slack {
        Slack { config, ctx }
    }
}

#[async_trait::async_trait]
impl Notifier for Slack {
    fn integration(&self) -> &'static str {
        "slack"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    fn timeout(&self) -> Duration {
        timeout_of(self.config.timeout)
    }

    async fn notify(&self, n: &Notification) -> Result<()> {
        let url = self.ctx.secrets.resolve(&self.config.api_url).await?;
        let message = SlackMessage::new(&self.config, n);
        post_json(&self.ctx, "slack", url.expose(), &message, self.timeout()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::notify::text::tests::{alert, notification};
    use telltale_crds::SecretRef;

    #[test]
    fn message_is_deterministic() {
        let config = SlackConfig {
            api_url: SecretRef::file("/x"),
            channel: Some("#ops".into()),
            username: None,
            send_resolved: true,
            timeout: None,
            title: None,
            title_link: None,
            pretext: None,
            text: None,
            fallback: None,
            color: None,
            footer: None,
            icon_emoji: None,
            icon_url: None,
            fields: vec![],
        };
        let n = notification(vec![alert("a", false)]);
        let json = serde_json::to_value(SlackMessage::new(&config, &n)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "channel": "#ops",
                "attachments": [{
                    "title": "[FIRING:1] Down (a node page)",
                    "title_link": "http://tt/#/alerts?receiver=ops",
                    "text": "[FIRING] Down: a <down>\n*Labels:* alertname=Down, instance=a, job=node, severity=page",
                    "fallback": "[FIRING:1] Down (a node page) | http://tt/#/alerts?receiver=ops",
                    "color": "danger",
                    "mrkdwn_in": ["fallback", "pretext", "text"],
                }]
            })
        );
    }
}
