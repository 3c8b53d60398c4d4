//! [`Fetcher`]: the HTTP side of a scrape — one GET, headers as Prometheus sends them:
//! OpenMetrics 1.0 preferred over the text format 0.0.4 (the response's `Content-Type`
//! picks the parser, [`Format`]), gzip accepted and decoded.

use std::error::Error as _;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};

use crate::error::{Error, Result};
use crate::target::Target;
use crate::text::Exposition;

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
            Format::Text => crate::text::parse(body),
            Format::OpenMetrics => crate::openmetrics::parse(body),
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

    /// The HTTP client (one connection pool for scrapes and HTTP discovery).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// GETs the target's URL within its timeout and returns the page.
    pub async fn fetch(&self, target: &Target) -> Result<Page> {
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
        let format = Format::from_content_type(
            resp.headers()
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        );
        let body = resp.bytes().await.map_err(http)?;
        let body = String::from_utf8(body.into()).map_err(|_| Error::NotUtf8 {
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
