//! [`Fetcher`]: the HTTP side of a scrape — one GET, headers as Prometheus sends them.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderValue};

use crate::error::{Error, Result};
use crate::target::Target;

/// The `Accept` header of a scrape: the text format 0.0.4, anything else as a fallback.
pub const ACCEPT_HEADER: &str = "text/plain;version=0.0.4;q=1,*/*;q=0.1";
/// The header telling the target how long the scraper waits.
pub const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// Fetches metrics pages. Cheap to clone: clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    /// A fetcher with its own connection pool.
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .user_agent(concat!("telltale-scraper/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            // Only fails when the TLS backend cannot initialise: nothing can scrape then.
            .expect("the HTTP client's TLS backend initialises");
        Fetcher { client }
    }

    /// GETs the target's URL within its timeout and returns the body.
    pub async fn fetch(&self, target: &Target) -> Result<String> {
        let url = target.url.as_str();
        let http = |e: reqwest::Error| Error::Http {
            url: url.to_string(),
            message: error_chain(&e),
        };
        let resp = self
            .client
            .get(target.url.clone())
            .header(ACCEPT, HeaderValue::from_static(ACCEPT_HEADER))
            .header(
                SCRAPE_TIMEOUT_HEADER,
                format!("{}", target.timeout.as_secs_f64()),
            )
            .timeout(target.timeout)
            .send()
            .await
            .map_err(http)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::HttpStatus {
                url: url.to_string(),
                status: status.to_string(),
            });
        }
        let body = resp.bytes().await.map_err(http)?;
        String::from_utf8(body.into()).map_err(|_| Error::NotUtf8 {
            url: url.to_string(),
        })
    }
}

impl Default for Fetcher {
    fn default() -> Self {
        Fetcher::new()
    }
}

/// An error and its causes on one line: reqwest's own message says little by itself.
fn error_chain(e: &reqwest::Error) -> String {
    let mut out = if e.is_timeout() {
        "context deadline exceeded (timeout)".to_string()
    } else {
        e.to_string()
    };
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
