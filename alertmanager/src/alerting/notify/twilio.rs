//! [`Twilio`]: text messages and phone calls through a Twilio-compatible API —
//! `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` (`To`, `From`, `Body`) and
//! `.../Calls.json` (`To`, `From`, `Twiml`), form-encoded, basic auth `sid:token`.

use std::time::Duration;

use telltale_crds::TwilioConfig;

use crate::error::{Error, Result};
use crate::alerting::notify::text::{escape_html, short};
use crate::alerting::notify::webhook::check_status;
use crate::alerting::notify::{IntegrationContext, Notification, Notifier, timeout_of};

/// The Twilio API.
pub const DEFAULT_URL: &str = "https://api.twilio.com";
/// Longest SMS body Twilio accepts.
pub const MAX_SMS_CHARS: usize = 1600;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Sms,
    Voice,
}

/// SMS or voice to every number of one account.
pub struct Twilio {
    config: TwilioConfig,
    ctx: IntegrationContext,
    kind: Kind,
}

impl Twilio {
    pub fn sms(config: TwilioConfig, ctx: IntegrationContext) -> Twilio {
        Twilio {
            config,
            ctx,
            kind: Kind::Sms,
        }
    }

    pub fn voice(config: TwilioConfig, ctx: IntegrationContext) -> Twilio {
        Twilio {
            config,
            ctx,
            kind: Kind::Voice,
        }
    }

    /// The endpoint and the form fields of the request to `to`.
    pub fn request(&self, n: &Notification, to: &str) -> (String, Vec<(&'static str, String)>) {
        let base = self
            .config
            .url
            .as_deref()
            .unwrap_or(DEFAULT_URL)
            .trim_end_matches('/');
        let (resource, field, content) = match self.kind {
            Kind::Sms => ("Messages", "Body", sms_body(n)),
            Kind::Voice => ("Calls", "Twiml", twiml(n)),
        };
        (
            format!(
                "{base}/2010-04-01/Accounts/{}/{resource}.json",
                self.config.account_sid
            ),
            vec![
                ("To", to.to_string()),
                ("From", self.config.from.clone()),
                (field, content),
            ],
        )
    }
}

/// The SMS text: the short rendering, cut to [`MAX_SMS_CHARS`].
pub fn sms_body(n: &Notification) -> String {
    let text = short(n);
    if text.chars().count() <= MAX_SMS_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_SMS_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

/// The TwiML a call reads out: the short rendering, once.
pub fn twiml(n: &Notification) -> String {
    format!(
        "<Response><Say>{}</Say></Response>",
        escape_html(&short(n).replace('\n', ". "))
    )
}

#[async_trait::async_trait]
impl Notifier for Twilio {
    fn integration(&self) -> &'static str {
        match self.kind {
            Kind::Sms => "sms",
            Kind::Voice => "voice",
        }
    }

    fn send_resolved(&self) -> bool {
        self.config.send_resolved
    }

    fn timeout(&self) -> Duration {
        timeout_of(self.config.timeout)
    }

    async fn notify(&self, n: &Notification) -> Result<()> {
        let integration = self.integration();
        let token = self.ctx.secrets.resolve(&self.config.auth_token).await?;
        for to in &self.config.to {
            let (url, form) = self.request(n, to);
            let response = self
                .ctx
                .client
                .post(&url)
                .timeout(self.timeout())
                .basic_auth(&self.config.account_sid, Some(token.expose()))
                .form(&form)
                .send()
                .await
                .map_err(|e| Error::http(integration, e))?;
            check_status(integration, response)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::notify::text::tests::{alert, notification};
    use crate::alerting::secrets::FileSecrets;
    use std::sync::Arc;
    use telltale_crds::SecretRef;

    fn twilio(voice: bool) -> Twilio {
        let config = TwilioConfig {
            url: Some("http://tw/".into()),
            account_sid: "AC1".into(),
            auth_token: SecretRef::file("/t"),
            from: "+1555".into(),
            to: vec!["+1666".into()],
            send_resolved: false,
            timeout: None,
        };
        let ctx = IntegrationContext::new(Arc::new(FileSecrets));
        if voice {
            Twilio::voice(config, ctx)
        } else {
            Twilio::sms(config, ctx)
        }
    }

    #[test]
    fn sms_and_call_requests() {
        let n = notification(vec![alert("a", false)]);
        let (url, form) = twilio(false).request(&n, "+1666");
        assert_eq!(url, "http://tw/2010-04-01/Accounts/AC1/Messages.json");
        assert_eq!(form[0], ("To", "+1666".to_string()));
        assert_eq!(form[1], ("From", "+1555".to_string()));
        assert_eq!(
            form[2],
            (
                "Body",
                "[FIRING:1] Down (a node page)\n[FIRING] Down: a <down>".to_string()
            )
        );
        let (url, form) = twilio(true).request(&n, "+1666");
        assert!(url.ends_with("/Accounts/AC1/Calls.json"));
        assert_eq!(
            form[2].1,
            "<Response><Say>[FIRING:1] Down (a node page). [FIRING] Down: a &lt;down&gt;</Say></Response>"
        );
    }
}
