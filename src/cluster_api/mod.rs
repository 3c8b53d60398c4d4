//! The parts of the Prometheus API that belong to other components, as `telltale query`
//! answers them in a cluster, so the UI and API clients see one server in every mode:
//!
//! ```text
//!  GET /api/v1/status/cluster --> status:  every storage replica's Raft status and tiers
//!  GET /api/v1/targets        --> targets: every scraper replica's targets, merged
//!  GET /api/v1/metadata       --> metadata: every scraper replica's metric metadata
//!  /api/v1/alerts, /api/v1/rules,
//!  /api/v2/...                --> forward: the alertmanager, passed through
//! ```
//!
//! `telltale standalone` and `telltale dev-cluster` run the scraper and the rule
//! evaluator in process and serve their routers directly; they use [`status`] for the
//! storage side.

/// The alerting API, forwarded to the alertmanager.
pub mod forward;
/// `/api/v1/metadata` merged from the scraper replicas.
pub mod metadata;
/// `/api/v1/status/cluster` from the storage replicas.
pub mod status;
/// `/api/v1/targets` merged from the scraper replicas.
pub mod targets;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, header};
use telltale_web::client::{ClientOptions, ClientSettings, HttpClient, TlsSettings};

/// How long a call to another component may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client of the calls to the other components' APIs (`--scraper-url`,
/// `--alertmanager-url`): TLS per `--peer.tls-*` (the system's roots plus that CA, that
/// client certificate; files re-read when they change), and the caller's own
/// `Authorization` passed on, so a user who may read the query API may read what it
/// gathers from the others (in a cluster they share one web configuration).
#[derive(Clone)]
pub struct Upstream(Arc<HttpClient>);

impl Upstream {
    pub fn new(tls: TlsSettings) -> Upstream {
        let settings = ClientSettings {
            tls,
            ..ClientSettings::default()
        };
        let options = ClientOptions::new(format!("telltale/{}", env!("CARGO_PKG_VERSION")));
        Upstream(Arc::new(HttpClient::new(settings, options)))
    }

    /// A request to `url` on behalf of a request with `headers`.
    fn request(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &HeaderMap,
    ) -> Result<reqwest::RequestBuilder, String> {
        let client = self.0.client().map_err(|e| e.to_string())?;
        let mut req = client.request(method, url).timeout(UPSTREAM_TIMEOUT);
        if let Some(auth) = headers.get(header::AUTHORIZATION) {
            req = req.header(header::AUTHORIZATION, auth);
        }
        Ok(req)
    }
}

/// `url` without a trailing `/`, checked to be an `http(s)://` URL.
fn base_url(flag: &str, url: &str) -> anyhow::Result<String> {
    let trimmed = url.trim().trim_end_matches('/');
    anyhow::ensure!(
        trimmed.starts_with("http://") || trimmed.starts_with("https://"),
        "{flag} {url:?}: not an http:// or https:// URL"
    );
    Ok(trimmed.to_string())
}

/// The scraper replicas, by base URL.
#[derive(Clone)]
struct Scrapers {
    urls: Vec<String>,
    client: Upstream,
}

impl Scrapers {
    /// The replicas at `urls` (`--scraper-url`s).
    fn new(urls: &[String], client: &Upstream) -> anyhow::Result<Self> {
        let urls = urls
            .iter()
            .map(|u| base_url("--scraper-url", u))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Scrapers {
            urls,
            client: client.clone(),
        })
    }

    /// `GET path?query` of every replica at once: its base URL and its JSON body, or why
    /// there is none.
    async fn ask_all(
        &self,
        path: &str,
        query: Option<String>,
        headers: &HeaderMap,
    ) -> Vec<(String, Result<serde_json::Value, String>)> {
        let suffix = query.map(|q| format!("?{q}")).unwrap_or_default();
        futures::future::join_all(self.urls.iter().map(|base| {
            let url = format!("{base}{path}{suffix}");
            let client = self.client.clone();
            async move {
                let answer = async {
                    let req = client.request(reqwest::Method::GET, &url, headers)?;
                    let resp = req.send().await.map_err(|e| e.to_string())?;
                    let status = resp.status();
                    let body: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
                    if !status.is_success() {
                        return Err(format!("HTTP {status}: {}", body["error"]));
                    }
                    Ok(body)
                }
                .await;
                (base.clone(), answer)
            }
        }))
        .await
    }
}

/// A Prometheus-style error body.
fn error_body(error_type: &str, error: String) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "error", "errorType": error_type, "error": error}))
}
