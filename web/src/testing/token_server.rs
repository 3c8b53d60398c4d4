//! [`TokenServer`]: an OAuth 2.0 authorization server for the client-credentials grant
//! (RFC 6749 §4.4, §5) and a resource it protects, on 127.0.0.1, so that Telltale and a
//! real Prometheus can be pointed at the same `oauth2` settings in tests.
//!
//! - `POST /token`: `grant_type=client_credentials`, the client authenticated with HTTP
//!   Basic (RFC 6749 §2.3.1, form-urlencoded id and secret) or, when
//!   [`TokenServerOptions::basic_auth`] is false, only with `client_id` and
//!   `client_secret` in the form (a Basic header is then answered 401
//!   `invalid_client`); answers `{"access_token", "token_type": "Bearer", "expires_in"}`.
//! - `GET /metrics` (and `POST /write`, `POST /api/v2/alerts`): 401 unless
//!   `Authorization: Bearer <a token issued and not expired>`; `/metrics` serves
//!   `oauth_protected_up 1`, the other two record the body's length.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;

/// How the server authenticates clients and what it issues.
#[derive(Clone, Debug)]
pub struct TokenServerOptions {
    pub client_id: String,
    pub client_secret: String,
    /// Accept the client's credentials in a Basic header (Go's first try).
    pub basic_auth: bool,
    /// `expires_in` of the tokens issued.
    pub expires_in: Duration,
    /// The scope a client must ask for (space-separated, any order), if any.
    pub scope: Option<String>,
    /// Form parameters the token request must carry (`endpoint_params`).
    pub params: BTreeMap<String, String>,
    /// How long the token endpoint takes to answer.
    pub delay: Duration,
}

impl Default for TokenServerOptions {
    fn default() -> Self {
        TokenServerOptions {
            client_id: "telltale".into(),
            client_secret: "s3cret".into(),
            basic_auth: true,
            expires_in: Duration::from_secs(3600),
            scope: None,
            params: BTreeMap::new(),
            delay: Duration::ZERO,
        }
    }
}

/// A running server; stopped when dropped.
pub struct TokenServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    state: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    options: Mutex<TokenServerOptions>,
    issued: Mutex<HashMap<String, Instant>>,
    token_requests: Mutex<u32>,
    /// Bodies received by `/write` and `/api/v2/alerts` (their lengths), by path.
    received: Mutex<Vec<(String, usize)>>,
}

impl TokenServer {
    /// Starts the server on a free port of 127.0.0.1 (panics when it cannot: tests only).
    pub async fn start(options: TokenServerOptions) -> TokenServer {
        let state = Arc::new(Shared {
            options: Mutex::new(options),
            issued: Mutex::new(HashMap::new()),
            token_requests: Mutex::new(0),
            received: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/token", post(token))
            .route("/metrics", get(metrics))
            .route("/write", post(receive))
            .route("/api/v2/alerts", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        TokenServer { base, state, task }
    }

    /// `{base}/token`.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base)
    }

    /// How many token requests were answered with a token.
    pub fn tokens_issued(&self) -> u32 {
        *lock(&self.state.token_requests)
    }

    /// The `(path, body length)` of every authorized POST.
    pub fn received(&self) -> Vec<(String, usize)> {
        lock(&self.state.received).clone()
    }

    /// Changes the client secret: tokens already issued stay valid until they expire.
    pub fn set_client_secret(&self, secret: &str) {
        lock(&self.state.options).client_secret = secret.to_string();
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        format!(r#"{{"error":"{error}"}}"#),
    )
        .into_response()
}

/// `application/x-www-form-urlencoded` pairs, decoded.
fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

/// One form-urlencoded value, decoded.
fn decode(s: &str) -> String {
    url::form_urlencoded::parse(s.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

async fn token(State(s): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let options = lock(&s.options).clone();
    tokio::time::sleep(options.delay).await;
    let params = form(&body);
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let (id, secret) = match basic {
        Some(_) if !options.basic_auth => {
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        }
        Some(pair) => {
            let (id, secret) = pair.split_once(':').unwrap_or((&pair, ""));
            (decode(id), decode(secret))
        }
        None => (
            params.get("client_id").cloned().unwrap_or_default(),
            params.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if id != options.client_id || secret != options.client_secret {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if let Some(want) = &options.scope {
        let mut got: Vec<&str> = params
            .get("scope")
            .map(|s| s.split(' ').collect())
            .unwrap_or_default();
        let mut want: Vec<&str> = want.split(' ').collect();
        got.sort_unstable();
        want.sort_unstable();
        if got != want {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_scope");
        }
    }
    if options.params.iter().any(|(k, v)| params.get(k) != Some(v)) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let n = {
        let mut n = lock(&s.token_requests);
        *n += 1;
        *n
    };
    let token = format!("token-{n}-{}", std::process::id());
    lock(&s.issued).insert(token.clone(), Instant::now() + options.expires_in);
    (
        [
            ("content-type", "application/json"),
            ("cache-control", "no-store"),
        ],
        format!(
            r#"{{"access_token":"{token}","token_type":"Bearer","expires_in":{}}}"#,
            options.expires_in.as_secs()
        ),
    )
        .into_response()
}

fn authorized(s: &Shared, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    lock(&s.issued)
        .get(token)
        .is_some_and(|expires| Instant::now() < *expires)
}

async fn metrics(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    "# TYPE oauth_protected_up gauge\noauth_protected_up 1\n".into_response()
}

async fn receive(
    State(s): State<Arc<Shared>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !authorized(&s, &headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    lock(&s.received).push((uri.path().to_string(), body.len()));
    StatusCode::OK.into_response()
}
