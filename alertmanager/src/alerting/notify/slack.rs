//! [`Slack`]: posts to a Slack incoming webhook with Alertmanager's default title, color
//! and fallback, and a deterministic text listing the alerts.

use std::time::Duration;

use serde::Serialize;
use telltale_crds::SlackConfig;

use crate::alerting::notify::template::{NotifyTemplates, notification_data};
use crate::alerting::notify::webhook::post_json;
use crate::alerting::notify::{IntegrationContext, Notification, Notifier, timeout_of};
use crate::error::Result;

/// One Slack incoming webhook.
pub struct Slack {
    config: SlackConfig,
    ctx: IntegrationContext,
}

/// The body of an incoming-webhook POST, as Alertmanager sends it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlackMessage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_emoji: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub icon_url: String,
    pub attachments: Vec<SlackAttachment>,
}

/// The one attachment of a [`SlackMessage`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlackAttachment {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title_link: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub pretext: String,
    pub text: String,
    pub fallback: String,
    pub callback_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SlackFieldJson>,
    pub footer: String,
    /// `danger` while firing, `good` once resolved (by default).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    pub mrkdwn_in: Vec<&'static str>,
}

/// A rendered attachment field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlackFieldJson {
    pub title: String,
    pub value: String,
    pub short: bool,
}

impl SlackMessage {
    /// The message for `n`, its fields rendered from the configured templates (or
    /// Alertmanager's defaults).
    pub fn new(
        config: &SlackConfig,
        n: &Notification,
        t: &NotifyTemplates,
    ) -> Result<SlackMessage> {
        let data = notification_data(n);
        let f = |configured: &Option<String>, default: &str| {
            t.field(configured.as_deref(), default, &data)
        };
        let fields = config
            .fields
            .iter()
            .map(|field| {
                Ok(SlackFieldJson {
                    title: t.render(&field.title, &data, false)?,
                    value: t.render(&field.value, &data, false)?,
                    short: field.short.unwrap_or(false),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SlackMessage {
            channel: config.channel.clone(),
            username: f(
                &config.username,
                r#"{{ template "slack.default.username" . }}"#,
            )?,
            icon_emoji: f(&config.icon_emoji, "")?,
            icon_url: f(&config.icon_url, "")?,
            attachments: vec![SlackAttachment {
                title: f(&config.title, r#"{{ template "slack.default.title" . }}"#)?,
                title_link: f(
                    &config.title_link,
                    r#"{{ template "slack.default.titlelink" . }}"#,
                )?,
                pretext: f(&config.pretext, "")?,
                text: f(&config.text, r#"{{ template "slack.default.text" . }}"#)?,
                fallback: f(
                    &config.fallback,
                    r#"{{ template "slack.default.fallback" . }}"#,
                )?,
                callback_id: String::new(),
                fields,
                footer: f(&config.footer, "")?,
                color: f(&config.color, r#"{{ template "slack.default.color" . }}"#)?,
                mrkdwn_in: vec!["fallback", "pretext", "text"],
            }],
        })
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
        let message = SlackMessage::new(&self.config, n, &self.ctx.templates)?;
        post_json(&self.ctx, "slack", url.expose(), &message, self.timeout()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::notify::text::tests::{alert, notification};
    use telltale_crds::SecretRef;

    #[test]
    fn default_message_is_alertmanagers() {
        let config = SlackConfig {
            http_config: None,
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
        let n = notification(vec![alert("a", false), alert("b", false)]);
        let json = serde_json::to_value(
            SlackMessage::new(&config, &n, &NotifyTemplates::default()).unwrap(),
        )
        .unwrap();
        // What Alertmanager 0.25 posts for the same group (captured from the real one).
        assert_eq!(
            json,
            serde_json::json!({
                "channel": "#ops",
                "username": "Alertmanager",
                "attachments": [{
                    "title": "[FIRING:2] Down (node page)",
                    "title_link": "http://tt/#/alerts?receiver=ops",
                    "text": "",
                    "fallback": "[FIRING:2] Down (node page) | http://tt/#/alerts?receiver=ops",
                    "callback_id": "",
                    "footer": "",
                    "color": "danger",
                    "mrkdwn_in": ["fallback", "pretext", "text"],
                }]
            })
        );
        let custom = SlackConfig {
            http_config: None,
            title: Some("{{ .CommonLabels.job }} {{ len .Alerts }}".into()),
            text: Some("{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}".into()),
            fields: vec![telltale_crds::SlackField {
                title: "severity".into(),
                value: "{{ .CommonLabels.severity }}".into(),
                short: Some(true),
            }],
            ..config
        };
        let m = SlackMessage::new(&custom, &n, &NotifyTemplates::default()).unwrap();
        assert_eq!(m.attachments[0].title, "node 2");
        assert_eq!(m.attachments[0].text, "a <down>\nb <down>\n");
        assert_eq!(m.attachments[0].fields[0].value, "page");
    }
}
