//! [`Fetcher`]: the HTTP side of a scrape — one GET with the target's client (TLS, auth,
//! proxy: [`crate::pull::clients`]), headers as Prometheus sends them:
//! OpenMetrics 1.0 preferred over the text format 0.0.4 (the response's `Content-Type`
//! picks the parser, [`Format`]), gzip accepted and decoded.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};

use telltale_web::client::ClientOptions;

use crate::error::{Error, Result};
use crate::pull::clients::ScrapeClients;
use crate::pull::target::Target;
use crate::pull::text::Exposition;

/// The `Accept` header of a scrape, Prometheus's: OpenMetrics 1.0.0, then 0.0.1, then the
/// text format 0.0.4, anything else as a fallback.
pub const ACCEPT_HEADER: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// The exposition format of a scraped body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4` (and anything not OpenMetrics, as Prometheus does).
    Text,
    /// `application/openmetrics-text`.
    OpenMetrics,
}

impl Format {
    /// The format a `Content-Type` header announces.
    pub fn from_content_type(content_type: &str) -> Format {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if media == "application/openmetrics-text" {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    /// Parses `body` in this format.
    pub fn parse<'a>(&self, body: &'a str) -> Result<Exposition<'a>> {
        match self {
            Format::Text => crate::pull::text::parse(body),
            Format::OpenMetrics => crate::pull::openmetrics::parse(body),
        }
    }
}

/// A fetched page: its body (gzip already decoded) and format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub body: String,
    pub format: Format,
}
/// The header telling the target how long the scraper waits.
pub const SCRAPE_TIMEOUT_HEADER: &str = "X-Prometheus-Scrape-Timeout-Seconds";

/// The user agent of scrapes and HTTP discovery.
pub const USER_AGENT: &str = concat!("telltale-scraper/", env!("CARGO_PKG_VERSION"));

/// Fetches metrics pages, each target with the client of its TLS and auth settings
/// ([`ScrapeClients`]). Cheap to clone: clones share the clients and their pools.
#[derive(Clone)]
pub struct Fetcher {
    clients: Arc<ScrapeClients>,
    /// HTTP discovery's client (no TLS or auth settings).
    discovery: reqwest::Client,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetcher")
    }
}

impl Fetcher {
    /// A fetcher with its own clients (secrets from files until told otherwise).
    pub fn new() -> Self {
        let mut options = ClientOptions::new(USER_AGENT);
        options.pool_idle_timeout = Some(Duration::from_secs(90));
        Fetcher::with_clients(Arc::new(ScrapeClients::new(options)))
    }

    /// A fetcher using `clients`.
    pub fn with_clients(clients: Arc<ScrapeClients>) -> Self {
        let discovery = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .pool_idle_timeout(Duration::from_secs(90))
            .build()
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot build the HTTP discovery client, using defaults");
                reqwest::Client::new()
            });
        Fetcher { clients, discovery }
    }

    /// The HTTP client of HTTP discovery.
    pub fn client(&self) -> &reqwest::Client {
        &self.discovery
    }

    /// The targets' clients.
    pub fn clients(&self) -> &Arc<ScrapeClients> {
        &self.clients
    }

    /// GETs the target's URL within its timeout, with its TLS and auth settings, and
    /// returns the page.
    pub async fn fetch(&self, target: &Target) -> Result<Page> {
        let url = target.url.as_str();
        let http = |e: reqwest::Error| Error::Http {
            url: url.to_string(),
            message: error_chain(&e),
        };
        let setup = |e: telltale_web::Error| Error::ScrapeClient {
            message: e.to_string(),
        };
        // Reading the target's Secrets counts against its timeout too.
        let settings = tokio::time::timeout(
            target.timeout,
            self.clients
                .get(target.namespace.as_deref(), &target.client),
        )
        .await
        .map_err(|_| Error::ScrapeClient {
            message: "reading the target's Secrets timed out".into(),
        })??;
        let request = settings.client().map_err(setup)?.get(target.url.clone());
        // So does fetching an OAuth 2.0 token.
        let request = tokio::time::timeout(target.timeout, settings.authorize(request))
            .await
            .map_err(|_| Error::ScrapeClient {
                message: "oauth2: fetching the token timed out".into(),
            })?
            .map_err(setup)?;
        let resp = request
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
        let format = Format::from_content_type(
            resp.headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        );
        let limit = target.limits.body_size_limit;
        let body: Vec<u8> = if limit == 0 {
            resp.bytes().await.map_err(http)?.into()
        } else {
            // Chunks as decompressed: the limit is on what the parser would read.
            let mut resp = resp;
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(http)? {
                if (body.len() + chunk.len()) as u64 > limit {
                    return Err(Error::BodySizeLimit { limit });
                }
                body.extend_from_slice(&chunk);
            }
            body
        };
        let body = String::from_utf8(body).map_err(|_| Error::NotUtf8 {
            url: url.to_string(),
        })?;
        Ok(Page { body, format })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_picks_the_parser() {
        assert_eq!(
            Format::from_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_content_type("Application/OpenMetrics-Text"),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::from_content_type("text/plain; version=0.0.4"),
            Format::Text
        );
        assert_eq!(Format::from_content_type(""), Format::Text);
        assert!(Format::OpenMetrics.parse("a 1\n").is_err(), "no # EOF");
        assert!(Format::Text.parse("a 1\n").is_ok());
    }
}
