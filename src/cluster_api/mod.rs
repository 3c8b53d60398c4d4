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

use std::time::Duration;

/// How long a call to another component may take.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// The HTTP client for the other components' APIs.
fn client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .timeout(UPSTREAM_TIMEOUT)
        .connect_timeout(Duration::from_secs(2))
        .build()?)
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
    client: reqwest::Client,
}

impl Scrapers {
    /// The replicas at `urls` (`--scraper-url`s).
    fn new(urls: &[String]) -> anyhow::Result<Self> {
        let urls = urls
            .iter()
            .map(|u| base_url("--scraper-url", u))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Scrapers {
            urls,
            client: client()?,
        })
    }

    /// `GET path?query` of every replica at once: its base URL and its JSON body, or why
    /// there is none.
    async fn ask_all(
        &self,
        path: &str,
        query: Option<String>,
    ) -> Vec<(String, Result<serde_json::Value, String>)> {
        let suffix = query.map(|q| format!("?{q}")).unwrap_or_default();
        futures::future::join_all(self.urls.iter().map(|base| {
            let url = format!("{base}{path}{suffix}");
            let client = self.client.clone();
            async move {
                let answer = async {
                    let resp = client.get(&url).send().await.map_err(|e| e.to_string())?;
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
