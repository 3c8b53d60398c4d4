//! [`Email`]: one email per notification over SMTP (lettre), with a plain-text and an
//! HTML body, STARTTLS, TLS or a plain connection, and optional authentication.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use telltale_crds::{EmailConfig, EmailTls};

use crate::alerting::notify::template::notification_data;
use crate::alerting::notify::{IntegrationContext, Notification, Notifier, timeout_of};
use crate::error::{Error, Result};

/// One SMTP server and its recipients.
pub struct Email {
    config: EmailConfig,
    ctx: IntegrationContext,
}

impl Email {
    pub fn new(config: EmailConfig, ctx: IntegrationContext) -> Email {
        Email { config, ctx }
    }

    /// The message for `n`: subject and HTML body from the templates (Alertmanager's
    /// defaults when unset), and a plain-text alternative when `text` is configured.
    pub fn message(&self, n: &Notification) -> Result<Message> {
        let invalid = |e: String| Error::Rejected {
            integration: "email",
            message: e,
        };
        let mailbox = |a: &str| {
            a.parse::<Mailbox>()
                .map_err(|e| invalid(format!("address {a:?}: {e}")))
        };
        let t = &self.ctx.templates;
        let data = notification_data(n);
        let subject = t.field(
            self.config.subject.as_deref(),
            r#"{{ template "email.default.subject" . }}"#,
            &data,
        )?;
        let html = t.render(
            self.config
                .html
                .as_deref()
                .unwrap_or(r#"{{ template "email.default.html" . }}"#),
            &data,
            true,
        )?;
        let mut builder = Message::builder()
            .from(mailbox(&self.config.from)?)
            .subject(subject);
        for to in &self.config.to {
            builder = builder.to(mailbox(to)?);
        }
        let built = match &self.config.text {
            Some(text) => {
                let text = t.render(text, &data, false)?;
                builder.multipart(MultiPart::alternative_plain_html(text, html))
            }
            None => builder
                .header(lettre::message::header::ContentType::TEXT_HTML)
                .body(html),
        };
        built.map_err(|e| invalid(e.to_string()))
    }

    fn transport(&self, password: Option<String>) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
        let transport_error = |e: lettre::transport::smtp::Error| Error::Transport {
            integration: "email",
            message: e.to_string(),
        };
        let (host, port) = self
            .config
            .smarthost
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .ok_or_else(|| Error::Rejected {
                integration: "email",
                message: format!("smarthost {:?} is not host:port", self.config.smarthost),
            })?;
        let builder = match self.config.tls {
            EmailTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(transport_error)?,
            EmailTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(host).map_err(transport_error)?
            }
            EmailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
        };
        let mut builder = builder.port(port).timeout(Some(self.timeout()));
        if let Some(user) = &self.config.auth_username {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.unwrap_or_default()));
        }
        Ok(builder.build())
    }
}

#[async_trait::async_trait]
impl Notifier for Email {
    fn integration(&self) -> &'static str {
        "email"
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    fn timeout(&self) -> Duration {
        timeout_of(self.config.timeout)
    }

    async fn notify(&self, n: &Notification) -> Result<()> {
        let password = match &self.config.auth_password {
            Some(r) => Some(self.ctx.secrets.resolve(r).await?.expose().to_string()),
            None => None,
        };
        let message = self.message(n)?;
        let transport = self.transport(password)?;
        match transport.send(message).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(Error::Rejected {
                integration: "email",
                message: e.to_string(),
            }),
            Err(e) => Err(Error::Transport {
                integration: "email",
                message: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::notify::text::tests::{alert, notification};
    use crate::alerting::secrets::FileSecrets;
    use std::sync::Arc;

    fn email(to: &str) -> Email {
        Email::new(
            EmailConfig {
                to: vec![to.into()],
                from: "Telltale <tt@example.com>".into(),
                smarthost: "127.0.0.1:25".into(),
                tls: EmailTls::None,
                auth_username: None,
                auth_password: None,
                send_resolved: false,
                timeout: None,
                subject: None,
                html: None,
                text: None,
            },
            IntegrationContext::new(Arc::new(FileSecrets)),
        )
    }

    #[test]
    fn default_message_is_html_with_alertmanagers_subject() {
        let n = notification(vec![alert("a", false)]);
        let raw =
            String::from_utf8(email("ops@example.com").message(&n).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("Subject: [FIRING:1] Down (a node page)"),
            "{raw}"
        );
        assert!(raw.contains("To: ops@example.com"), "{raw}");
        assert!(raw.contains("text/html"), "{raw}");
        assert!(
            !raw.contains("text/plain"),
            "no text part unless configured: {raw}"
        );
        assert!(raw.contains("a &lt;down&gt;"), "values are escaped: {raw}");
        let mut with_text = email("ops@example.com");
        with_text.config.text = Some("{{ len .Alerts }} alert(s)".into());
        with_text.config.subject = Some("{{ .CommonLabels.alertname }}!".into());
        let raw = String::from_utf8(with_text.message(&n).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("multipart/alternative") && raw.contains("1 alert(s)"),
            "{raw}"
        );
        assert!(raw.contains("Subject: Down!"), "{raw}");
    }

    #[test]
    fn bad_address_is_rejected() {
        let n = notification(vec![alert("a", false)]);
        let err = email("not an address").message(&n).unwrap_err();
        assert!(!err.is_retryable());
    }
}
