//! [`Receiver`]: a named set of notification integrations — webhooks, Slack, PagerDuty,
//! email and Twilio-compatible SMS and voice calls.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::error::FieldError;
use crate::http_config::HttpConfig;
use crate::secret::SecretRef;

/// A named set of notification integrations; every integration gets every notification
/// routed to the receiver.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Receiver {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookConfig>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        alias = "slack_configs"
    )]
    pub slack_configs: Vec<SlackConfig>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        alias = "pagerduty_configs"
    )]
    pub pagerduty_configs: Vec<PagerdutyConfig>,
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        alias = "email_configs"
    )]
    pub email_configs: Vec<EmailConfig>,
    /// Text messages through a Twilio-compatible API.
    #[serde(default, skip_serializing_if = "Vec::is_empty", alias = "sms_configs")]
    pub sms_configs: Vec<TwilioConfig>,
    /// Phone calls reading the notification out, through a Twilio-compatible API.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        alias = "voice_configs"
    )]
    pub voice_configs: Vec<TwilioConfig>,
}

/// POSTs the Alertmanager webhook JSON (version "4") to `url`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    /// Also notify when alerts resolve.
    #[serde(default = "yes", alias = "send_resolved")]
    pub send_resolved: bool,
    /// Limit of one attempt (default 10s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// TLS, authentication and proxy of its requests (Alertmanager's `http_config`);
    /// unset: `global.httpConfig`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "http_config"
    )]
    pub http_config: Option<HttpConfig>,
}

/// Posts to a Slack incoming webhook.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming webhook URL (it embeds a token, hence a secret).
    #[serde(alias = "api_url")]
    pub api_url: SecretRef,
    /// Overrides the webhook's default channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Overrides the webhook's default user name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, alias = "send_resolved")]
    pub send_resolved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// Message templates (Go templates over Alertmanager's notification data, as
    /// Alertmanager's); unset fields render Alertmanager's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "title_link")]
    pub title_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretext: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "icon_emoji")]
    pub icon_emoji: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "icon_url")]
    pub icon_url: Option<String>,
    /// Attachment fields; `title` and `value` are templates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<SlackField>,
    /// TLS, authentication and proxy of its requests (Alertmanager's `http_config`);
    /// unset: `global.httpConfig`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "http_config"
    )]
    pub http_config: Option<HttpConfig>,
}

/// One field of a Slack attachment.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackField {
    pub title: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short: Option<bool>,
}

/// Sends PagerDuty Events API v2 events: `trigger` while the group fires, `resolve` when
/// all its alerts resolved, with one stable `dedup_key` per alert group.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PagerdutyConfig {
    /// The integration's routing key.
    #[serde(alias = "routing_key")]
    pub routing_key: SecretRef,
    /// Events endpoint (default `https://events.pagerduty.com/v2/enqueue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `critical`, `error`, `warning` or `info`; default: the alerts' common `severity`
    /// label when it is one of those, else `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// The event's source (default: the client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default = "yes", alias = "send_resolved")]
    pub send_resolved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// The event summary (a template; default: Alertmanager's subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Custom details (templates); default: `firing`, `resolved`, `num_firing`,
    /// `num_resolved` as Alertmanager sends them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "client_url")]
    pub client_url: Option<String>,
    /// TLS, authentication and proxy of its requests (Alertmanager's `http_config`);
    /// unset: `global.httpConfig`.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "http_config"
    )]
    pub http_config: Option<HttpConfig>,
}

/// How the SMTP connection is secured.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS (required).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption (a local relay).
    None,
}

/// Sends an email with a text and an HTML body over SMTP.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailConfig {
    pub to: Vec<String>,
    pub from: String,
    /// `host:port` of the SMTP server.
    pub smarthost: String,
    #[serde(default)]
    pub tls: EmailTls,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "auth_username"
    )]
    pub auth_username: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "auth_password"
    )]
    pub auth_password: Option<SecretRef>,
    #[serde(default, alias = "send_resolved")]
    pub send_resolved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// The subject (a template; default: Alertmanager's subject).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The HTML body (a template, HTML-escaped; default: a table of the alerts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// A plain-text body (a template; none by default, as Alertmanager's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// An account of a Twilio-compatible API, for text messages or calls.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TwilioConfig {
    /// API base (default `https://api.twilio.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(alias = "account_sid")]
    pub account_sid: String,
    #[serde(alias = "auth_token")]
    pub auth_token: SecretRef,
    /// The calling or sending number.
    pub from: String,
    /// Numbers to text or call.
    pub to: Vec<String>,
    #[serde(default, alias = "send_resolved")]
    pub send_resolved: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<PromDuration>,
    /// TLS and proxy of its requests (Alertmanager's `http_config`; its authentication
    /// is the account's, so none may be set here); unset: `global.httpConfig`'s TLS and
    /// proxy.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "http_config"
    )]
    pub http_config: Option<HttpConfig>,
}

fn yes() -> bool {
    true
}

fn http_url(at: String, url: &str) -> Result<(), FieldError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(FieldError::new(
            at,
            format!("{url:?} is not an http(s) URL"),
        ))
    }
}

impl Receiver {
    /// Checks URLs, secrets, addresses and severities; `at` is the receiver's path.
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        if self.name.is_empty() {
            return Err(FieldError::new(format!("{at}.name"), "must not be empty"));
        }
        let http = |c: &Option<HttpConfig>, here: String| match c {
            Some(c) => c.validate(&format!("{here}.httpConfig")),
            None => Ok(()),
        };
        for (i, hook) in self.webhooks.iter().enumerate() {
            http_url(format!("{at}.webhooks[{i}].url"), &hook.url)?;
            http(&hook.http_config, format!("{at}.webhooks[{i}]"))?;
        }
        for (i, slack) in self.slack_configs.iter().enumerate() {
            slack
                .api_url
                .validate(&format!("{at}.slackConfigs[{i}].apiUrl"))?;
            http(&slack.http_config, format!("{at}.slackConfigs[{i}]"))?;
        }
        for (i, pd) in self.pagerduty_configs.iter().enumerate() {
            let here = format!("{at}.pagerdutyConfigs[{i}]");
            pd.routing_key.validate(&format!("{here}.routingKey"))?;
            http(&pd.http_config, here.clone())?;
            if let Some(url) = &pd.url {
                http_url(format!("{here}.url"), url)?;
            }
            if let Some(s) = &pd.severity
                && !["critical", "error", "warning", "info"].contains(&s.as_str())
            {
                return Err(FieldError::new(
                    format!("{here}.severity"),
                    format!("{s:?} is not one of critical, error, warning, info"),
                ));
            }
        }
        for (i, email) in self.email_configs.iter().enumerate() {
            let here = format!("{at}.emailConfigs[{i}]");
            if email.to.is_empty() {
                return Err(FieldError::new(format!("{here}.to"), "needs an address"));
            }
            for (field, addr) in email
                .to
                .iter()
                .map(|a| ("to", a))
                .chain([("from", &email.from)])
            {
                if !addr.contains('@') {
                    return Err(FieldError::new(
                        format!("{here}.{field}"),
                        format!("{addr:?} is not an email address"),
                    ));
                }
            }
            match email.smarthost.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
                _ => {
                    return Err(FieldError::new(
                        format!("{here}.smarthost"),
                        format!("{:?} is not host:port", email.smarthost),
                    ));
                }
            }
            if let Some(p) = &email.auth_password {
                p.validate(&format!("{here}.authPassword"))?;
            }
        }
        for (kind, configs) in [
            ("smsConfigs", &self.sms_configs),
            ("voiceConfigs", &self.voice_configs),
        ] {
            for (i, t) in configs.iter().enumerate() {
                let here = format!("{at}.{kind}[{i}]");
                if let Some(url) = &t.url {
                    http_url(format!("{here}.url"), url)?;
                }
                if t.account_sid.is_empty() {
                    return Err(FieldError::new(
                        format!("{here}.accountSid"),
                        "must not be empty",
                    ));
                }
                t.auth_token.validate(&format!("{here}.authToken"))?;
                http(&t.http_config, here.clone())?;
                if t.http_config
                    .as_ref()
                    .is_some_and(HttpConfig::authenticates)
                {
                    return Err(FieldError::new(
                        format!("{here}.httpConfig"),
                        "the account (accountSid, authToken) authenticates these requests: set no basic_auth, authorization or bearer_token",
                    ));
                }
                if t.to.is_empty() {
                    return Err(FieldError::new(format!("{here}.to"), "needs a number"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_integration() {
        let r: Receiver = serde_yaml::from_str(
            r##"
name: oncall
webhooks: [{url: "http://hook"}]
slackConfigs: [{apiUrl: {file: /run/slack}, channel: "#ops"}]
pagerduty_configs: [{routing_key: {secretKeyRef: {name: pd, key: key}}}]
emailConfigs:
  - {to: [ops@example.com], from: tt@example.com, smarthost: "smtp:587", tls: none}
smsConfigs:
  - {accountSid: AC1, authToken: {file: /run/tw}, from: "+1555", to: ["+1666"]}
"##,
        )
        .unwrap();
        assert!(r.validate("r").is_ok());
        assert!(r.webhooks[0].send_resolved);
        assert!(!r.slack_configs[0].send_resolved);
        assert!(r.pagerduty_configs[0].send_resolved);
        assert_eq!(r.email_configs[0].tls, EmailTls::None);
    }

    #[test]
    fn bad_fields_are_named() {
        let mut r = Receiver {
            name: "x".into(),
            ..Default::default()
        };
        r.email_configs.push(EmailConfig {
            to: vec!["ops@example.com".into()],
            from: "tt@example.com".into(),
            smarthost: "smtp".into(),
            tls: EmailTls::Starttls,
            auth_username: None,
            auth_password: None,
            send_resolved: false,
            timeout: None,
            subject: None,
            html: None,
            text: None,
        });
        assert_eq!(
            r.validate("r").unwrap_err().field,
            "r.emailConfigs[0].smarthost"
        );
    }

    /// Alertmanager's `http_config` (either spelling), checked as Alertmanager checks it;
    /// the account authenticates Twilio's requests, so `httpConfig` may not.
    #[test]
    fn http_config_is_read_and_checked() {
        let r: Receiver = serde_yaml::from_str(
            "name: a\nwebhooks: [{url: 'https://h/x', http_config: {authorization: {credentials_file: /t}, tls_config: {ca_file: /ca}}}]\nslackConfigs: [{apiUrl: {file: /u}, httpConfig: {proxy_url: 'http://p:1'}}]",
        )
        .unwrap();
        r.validate("r").unwrap();
        let hook = r.webhooks[0].http_config.as_ref().unwrap();
        assert_eq!(
            hook.tls_config.as_ref().unwrap().ca_file.as_deref(),
            Some("/ca")
        );
        let field = |yaml: &str| {
            let r: Receiver = serde_yaml::from_str(yaml).unwrap();
            r.validate("r").unwrap_err().to_string()
        };
        assert_eq!(
            field(
                "name: a\nwebhooks: [{url: 'http://h', httpConfig: {bearer_token: x, bearer_token_file: /y}}]"
            ),
            "r.webhooks[0].httpConfig: at most one of bearer_token & bearer_token_file must be configured"
        );
        assert!(
            field("name: a\nsmsConfigs: [{accountSid: s, authToken: {file: /t}, from: '1', to: ['2'], httpConfig: {basic_auth: {username: u}}}]")
                .starts_with("r.smsConfigs[0].httpConfig: the account")
        );
    }
}
