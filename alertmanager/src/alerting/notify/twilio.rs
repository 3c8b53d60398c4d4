//! [`Twilio`]: text messages and phone calls through a Twilio-compatible API —
//! `POST {base}/2010-04-01/Accounts/{sid}/Messages.json` (`To`, `From`, `Body`) and
//! `.../Calls.json` (`To`, `From`, `Twiml`), form-encoded, basic auth `sid:token`.

use std::collections::{BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use telltale_crds::TwilioConfig;

use crate::alerting::notify::text::short;
use crate::alerting::notify::webhook::check_status;
use crate::alerting::notify::{IntegrationContext, Notification, Notifier, timeout_of};
use crate::error::{Error, Result};
use crate::template::funcs::html_escape as escape_html;

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
    /// Per notification content (group key, digest of the text), the numbers that
    /// already got it: a retry after a partial failure goes to the others only.
    delivered: Mutex<HashMap<(String, u64), BTreeSet<String>>>,
}

/// Notifications whose partial delivery is remembered at most.
const MAX_REMEMBERED: usize = 10_000;

impl Twilio {
    pub fn sms(config: TwilioConfig, ctx: IntegrationContext) -> Twilio {
        Twilio {
            config,
            ctx,
            kind: Kind::Sms,
            delivered: Mutex::default(),
        }
    }

    pub fn voice(config: TwilioConfig, ctx: IntegrationContext) -> Twilio {
        Twilio {
            config,
            ctx,
            kind: Kind::Voice,
            delivered: Mutex::default(),
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
        let key = {
            let (_, form) = self.request(n, "");
            let mut h = std::collections::hash_map::DefaultHasher::new();
            form[2].1.hash(&mut h);
            (n.group_key.clone(), h.finish())
        };
        for to in &self.config.to {
            let done = self
                .delivered
                .lock()
                .expect("delivered lock")
                .get(&key)
                .is_some_and(|numbers| numbers.contains(to));
            if done {
                continue;
            }
            let (url, form) = self.request(n, to);
            let response = self
                .ctx
                .http()?
                .client()
                .map_err(|e| Error::client(integration, e))?
                .post(&url)
                .timeout(self.timeout())
                .basic_auth(&self.config.account_sid, Some(token.expose()))
                .form(&form)
                .send()
                .await
                .map_err(|e| Error::http(integration, e))?;
            check_status(integration, response)?;
            let mut delivered = self.delivered.lock().expect("delivered lock");
            if delivered.len() >= MAX_REMEMBERED && !delivered.contains_key(&key) {
                delivered.clear();
            }
            delivered.entry(key.clone()).or_default().insert(to.clone());
        }
        self.delivered.lock().expect("delivered lock").remove(&key);
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
            http_config: None,
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

    /// A retry after a partial failure goes only to the numbers not yet notified.
    #[tokio::test]
    async fn a_retry_skips_numbers_already_notified() {
        use axum::extract::{Form, State};
        use axum::http::StatusCode;
        type Seen = Arc<std::sync::Mutex<Vec<String>>>;
        async fn messages(
            State(seen): State<Seen>,
            Form(form): Form<HashMap<String, String>>,
        ) -> StatusCode {
            let to = form.get("To").cloned().unwrap_or_default();
            let mut seen = seen.lock().unwrap();
            seen.push(to.clone());
            // The second number fails the first time.
            if to == "+2" && seen.iter().filter(|t| **t == "+2").count() == 1 {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::CREATED
            }
        }
        let seen: Seen = Arc::default();
        let app = axum::Router::new()
            .route(
                "/2010-04-01/Accounts/AC1/Messages.json",
                axum::routing::post(messages),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "secret").unwrap();
        let config = TwilioConfig {
            http_config: None,
            url: Some(url),
            account_sid: "AC1".into(),
            auth_token: SecretRef::file(token.to_str().unwrap()),
            from: "+1555".into(),
            to: vec!["+1".into(), "+2".into(), "+3".into()],
            send_resolved: false,
            timeout: None,
        };
        let sms = Twilio::sms(config, IntegrationContext::new(Arc::new(FileSecrets)));
        let n = notification(vec![alert("a", false)]);
        let policy = crate::alerting::notify::retry::RetryPolicy {
            attempts: 3,
            first_backoff: std::time::Duration::from_millis(1),
            max_backoff: std::time::Duration::from_millis(2),
        };
        let metrics = crate::metrics::Metrics::new(&prometheus::Registry::new());
        crate::alerting::notify::retry::deliver(&sms, &n, &policy, &metrics)
            .await
            .unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            ["+1", "+2", "+2", "+3"],
            "+1 is not texted twice"
        );
        // A later notification of other content goes to everyone again.
        seen.lock().unwrap().clear();
        let n2 = notification(vec![alert("b", false)]);
        crate::alerting::notify::retry::deliver(&sms, &n2, &policy, &metrics)
            .await
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), ["+1", "+2", "+2", "+3"]);
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
