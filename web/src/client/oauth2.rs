//! [`TokenSource`]: OAuth 2.0 client-credentials tokens (RFC 6749 §4.4) for the
//! `oauth2` section of an HTTP client, as Prometheus's `common/config` gets them through
//! Go's `golang.org/x/oauth2/clientcredentials`:
//!
//! ```text
//!  request ──TokenSource::header()──▶ cached token valid 10 s more, and the client
//!     id and secret (files re-read) unchanged? ──yes──▶ `Authorization: Bearer <token>`
//!          │ no (one fetch at a time; the others wait for it)
//!          ▼
//!  POST token_url  grant_type=client_credentials, scope (space-separated),
//!                  endpoint_params; client id and secret in HTTP Basic auth, or in the
//!                  form when the server refuses that (Go's auto-detected auth style)
//!      ◀── {"access_token", "token_type", "expires_in"}
//! ```
//!
//! The token endpoint is reached with the section's own `tls_config` and `proxy_url`.
//! Written here rather than with the `oauth2` crate: the flow is one form POST, and Go's
//! behaviour (the auth-style fallback, a changed secret file fetching a new token, the
//! 10-second early expiry, its error wording) is what Prometheus users' token servers
//! are known to accept.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use super::settings::{Material, TlsSettings};
use super::tls::{TlsMaterial, client_config};
use crate::error::{Error, Result};

/// A token is fetched again this long before it expires (Go's `expiryDelta`).
pub const EXPIRY_DELTA: Duration = Duration::from_secs(10);

/// How long a token request may take.
const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

/// The `oauth2` section: the client credentials and where to exchange them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OAuth2Settings {
    pub client_id: Material,
    pub client_secret: Option<Material>,
    pub token_url: String,
    pub scopes: Vec<String>,
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS of the token endpoint.
    pub tls: TlsSettings,
    pub proxy_url: Option<String>,
}

/// Tokens of one [`OAuth2Settings`], cached until they are about to expire.
#[derive(Debug, Default)]
pub(crate) struct TokenSource {
    state: tokio::sync::Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    client: Option<reqwest::Client>,
    token: Option<Token>,
    /// Whether the server wants the credentials in the form (it refused Basic auth).
    in_params: bool,
}

#[derive(Debug)]
struct Token {
    header: HeaderValue,
    /// None: the server gave no lifetime, the token is used until the credentials change.
    expires: Option<Instant>,
    /// The client id and secret it was fetched with.
    credentials: (String, String),
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

impl TokenSource {
    /// The `Authorization` header value: the cached token, or a new one.
    pub(crate) async fn header(&self, s: &OAuth2Settings, user_agent: &str) -> Result<HeaderValue> {
        let credentials = (
            s.client_id.read_secret()?,
            s.client_secret
                .as_ref()
                .map(Material::read_secret)
                .transpose()?
                .unwrap_or_default(),
        );
        let mut state = self.state.lock().await;
        if let Some(t) = &state.token
            && t.credentials == credentials
            && t.expires.is_none_or(|e| Instant::now() + EXPIRY_DELTA < e)
        {
            return Ok(t.header.clone());
        }
        let client = match &state.client {
            Some(c) => c.clone(),
            None => {
                let c = token_client(s, user_agent)?;
                state.client = Some(c.clone());
                c
            }
        };
        let token = match fetch(&client, s, &credentials, state.in_params).await {
            // Go's auto-detection: Basic auth first; refused, the form, remembered.
            Err(e) if !state.in_params && e.refused => {
                let t = fetch(&client, s, &credentials, true).await?;
                state.in_params = true;
                t
            }
            r => r?,
        };
        let header = token.header.clone();
        state.token = Some(token);
        Ok(header)
    }
}

/// The client of the token endpoint: the section's TLS and proxy.
fn token_client(s: &OAuth2Settings, user_agent: &str) -> Result<reqwest::Client> {
    let material = TlsMaterial::read(&s.tls)?;
    let tls = client_config(&s.tls, &material, true)?;
    let mut b = reqwest::Client::builder()
        .user_agent(user_agent)
        .use_preconfigured_tls(tls)
        .timeout(TOKEN_TIMEOUT)
        .no_proxy();
    if let Some(url) = &s.proxy_url {
        b = b.proxy(super::http_client::proxy(url, "oauth2.proxy_url")?);
    }
    b.build().map_err(|e| Error::Client {
        field: "oauth2.tls_config".into(),
        message: format!("cannot build the token endpoint's HTTP client: {e}"),
    })
}

/// A failed token request; `refused` when the server answered 4xx (another auth style
/// may work).
struct FetchError {
    error: Error,
    refused: bool,
}

impl From<FetchError> for Error {
    fn from(e: FetchError) -> Error {
        e.error
    }
}

fn failure(message: String, refused: bool) -> FetchError {
    FetchError {
        error: Error::Client {
            field: "oauth2".into(),
            message,
        },
        refused,
    }
}

async fn fetch(
    client: &reqwest::Client,
    s: &OAuth2Settings,
    (id, secret): &(String, String),
    in_params: bool,
) -> std::result::Result<Token, FetchError> {
    let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    let scope = s.scopes.join(" ");
    if !scope.is_empty() {
        form.push(("scope", &scope));
    }
    for (k, v) in &s.endpoint_params {
        form.push((k, v));
    }
    let mut req = client.post(&s.token_url);
    if in_params {
        form.push(("client_id", id));
        form.push(("client_secret", secret));
    } else {
        // RFC 6749 §2.3.1: both form-urlencoded before the Basic encoding, as Go does.
        let encode =
            |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(id), encode(secret));
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        req = req.header(reqwest::header::AUTHORIZATION, format!("Basic {encoded}"));
    }
    let started = Instant::now();
    let resp = req.form(&form).send().await.map_err(|e| {
        failure(
            format!("cannot fetch token: Post {:?}: {e}", s.token_url),
            false,
        )
    })?;
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| failure(format!("cannot fetch token: {e}"), false))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body[..body.len().min(1024)]).into_owned();
        return Err(failure(
            format!("cannot fetch token: {status}\nResponse: {text}"),
            status.is_client_error(),
        ));
    }
    let parsed: TokenResponse = serde_json::from_slice(&body)
        .map_err(|e| failure(format!("cannot parse token response: {e}"), false))?;
    if parsed.access_token.is_empty() {
        return Err(failure(
            "server response missing access_token".into(),
            false,
        ));
    }
    let expires = expires_in(parsed.expires_in.as_ref())
        .filter(|s| *s > 0)
        .map(|s| started + Duration::from_secs(s));
    let mut header = HeaderValue::from_str(&format!(
        "{} {}",
        token_type(&parsed.token_type),
        parsed.access_token
    ))
    .map_err(|_| {
        failure(
            "the access token is not usable in an HTTP header".into(),
            false,
        )
    })?;
    header.set_sensitive(true);
    Ok(Token {
        header,
        expires,
        credentials: (id.clone(), secret.clone()),
    })
}

/// `expires_in` as a number or a numeric string (some servers quote it; Go accepts both).
fn expires_in(v: Option<&serde_json::Value>) -> Option<u64> {
    match v? {
        serde_json::Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The header's scheme, as Go's `Token.Type()`: `Bearer` for empty or any case of
/// bearer, `Basic`/`MAC` normalised the same way, others as given.
fn token_type(t: &str) -> &str {
    if t.is_empty() || t.eq_ignore_ascii_case("bearer") {
        "Bearer"
    } else if t.eq_ignore_ascii_case("mac") {
        "MAC"
    } else if t.eq_ignore_ascii_case("basic") {
        "Basic"
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_token_types_and_lifetimes() {
        assert_eq!(token_type(""), "Bearer");
        assert_eq!(token_type("bearer"), "Bearer");
        assert_eq!(token_type("mac"), "MAC");
        assert_eq!(token_type("DPoP"), "DPoP");
        assert_eq!(expires_in(Some(&serde_json::json!("3600"))), Some(3600));
        assert_eq!(expires_in(Some(&serde_json::json!(60))), Some(60));
        assert_eq!(expires_in(Some(&serde_json::json!(null))), None);
    }
}
