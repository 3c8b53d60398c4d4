//! [`Fetcher`]: the HTTP side of a scrape — one GET with the target's client (TLS, auth,
//! proxy: [`crate::pull::clients`]), headers as Prometheus sends them: the `Accept`
//! header built from the target's scrape protocols ([`accept_header`]; by default the
//! protobuf format first), gzip accepted and decoded. The response's `Content-Type`
//! picks the parser ([`Format::from_content_type`]), falling back to the target's
//! `fallback_scrape_protocol` as Prometheus does.

use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};

use telltale_crds::{ScrapeProtocol, ScrapeTargetSpec};
use telltale_web::client::ClientOptions;

use crate::error::{Error, Result};
use crate::pull::clients::ScrapeClients;
use crate::pull::protobuf::{self, ProtoExposition};
use crate::pull::target::Target;
use crate::pull::text::Exposition;

/// The escaping scheme asked of targets that could serve UTF-8 names
/// (`escaping=underscores`): Telltale reads the legacy name characters only, as
/// Prometheus with `metric_name_validation_scheme: legacy`.
pub const ESCAPING: &str = "underscores";

/// The `Accept` header of a scrape asking for `protocols`, preferred first, as
/// Prometheus's `acceptHeader` builds it: each media type with a decreasing q-value
/// (from `0.(number of protocols + 1)`), the 1.0.0 text formats with `escaping=`, then
/// `*/*` last.
pub fn accept_header(protocols: &[ScrapeProtocol]) -> String {
    let mut weight = ScrapeProtocol::ALL.len() + 1;
    let mut out = Vec::with_capacity(protocols.len() + 1);
    for p in protocols {
        let mut v = p.media_type().to_string();
        if matches!(
            p,
            ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::OpenMetricsText1_0_0
        ) {
            v.push_str(";escaping=");
            v.push_str(ESCAPING);
        }
        v.push_str(&format!(";q=0.{weight}"));
        out.push(v);
        weight = weight.saturating_sub(1);
    }
    out.push(format!("*/*;q=0.{weight}"));
    out.join(",")
}

/// How a target's scrapes ask for and read their format: its scrape protocols (the
/// `Accept` header), fallback protocol, and whether histograms with native buckets keep
/// their classic series too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeFormats {
    pub protocols: Vec<ScrapeProtocol>,
    pub fallback: Option<ScrapeProtocol>,
    pub classic_histograms: bool,
    /// [`accept_header`] of `protocols`.
    pub accept: String,
}

impl Default for ScrapeFormats {
    fn default() -> Self {
        ScrapeFormats::new(Vec::new(), None, false)
    }
}

impl ScrapeFormats {
    /// The settings of `protocols` (empty: [`ScrapeProtocol::DEFAULT`]).
    pub fn new(
        protocols: Vec<ScrapeProtocol>,
        fallback: Option<ScrapeProtocol>,
        classic_histograms: bool,
    ) -> Self {
        let protocols = if protocols.is_empty() {
            ScrapeProtocol::DEFAULT.to_vec()
        } else {
            protocols
        };
        ScrapeFormats {
            accept: accept_header(&protocols),
            protocols,
            fallback,
            classic_histograms,
        }
    }

    /// The settings of a ScrapeTarget spec.
    pub fn from_spec(spec: &ScrapeTargetSpec) -> Self {
        ScrapeFormats::new(
            spec.scrape_protocols.clone(),
            spec.fallback_scrape_protocol,
            spec.scrape_classic_histograms,
        )
    }
}

/// The exposition format of a scraped body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain` (versions 0.0.4 and 1.0.0).
    Text,
    /// `application/openmetrics-text`.
    OpenMetrics,
    /// `application/vnd.google.protobuf` (delimited `MetricFamily` messages).
    Protobuf,
}

impl Format {
    /// The format of a protocol.
    pub fn of(protocol: ScrapeProtocol) -> Format {
        match protocol {
            ScrapeProtocol::PrometheusProto => Format::Protobuf,
            ScrapeProtocol::OpenMetricsText1_0_0 | ScrapeProtocol::OpenMetricsText0_0_1 => {
                Format::OpenMetrics
            }
            ScrapeProtocol::PrometheusText1_0_0 | ScrapeProtocol::PrometheusText0_0_4 => {
                Format::Text
            }
        }
    }

    /// The format a `Content-Type` header announces, as Prometheus's scrape picks its
    /// parser: the media type (parameters aside) `text/plain`,
    /// `application/openmetrics-text` or `application/vnd.google.protobuf`; a missing,
    /// malformed or other Content-Type is read as `fallback`, and fails the scrape when
    /// there is none.
    pub fn from_content_type(
        content_type: &str,
        fallback: Option<ScrapeProtocol>,
    ) -> Result<Format> {
        let media = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let problem = match media.as_str() {
            "text/plain" => return Ok(Format::Text),
            "application/openmetrics-text" => return Ok(Format::OpenMetrics),
            "application/vnd.google.protobuf" => return Ok(Format::Protobuf),
            "" if content_type.trim().is_empty() => {
                "non-compliant scrape target sending blank Content-Type".to_string()
            }
            _ => format!("received unsupported Content-Type {content_type:?}"),
        };
        match fallback {
            Some(p) => {
                tracing::debug!(%problem, fallback = p.name(), "using fallback_scrape_protocol");
                Ok(Format::of(p))
            }
            None => Err(Error::ContentType {
                message: format!("{problem} and no fallback_scrape_protocol specified for target"),
            }),
        }
    }
}

/// A fetched page: its body (gzip already decoded) and format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub body: Vec<u8>,
    pub format: Format,
}

impl Page {
    /// The page made ready to parse: text checked to be UTF-8, protobuf decoded
    /// (`classic_histograms`: the classic series of native histograms too).
    pub fn decode(self, url: &str, classic_histograms: bool) -> Result<Decoded> {
        match self.format {
            Format::Protobuf => Ok(Decoded::Protobuf(protobuf::decode(
                &self.body,
                classic_histograms,
            )?)),
            format => {
                let text = String::from_utf8(self.body).map_err(|_| Error::NotUtf8 {
                    url: url.to_string(),
                })?;
                Ok(Decoded::Text(text, format))
            }
        }
    }
}

/// A page ready to parse ([`Page::decode`]).
#[derive(Debug)]
pub enum Decoded {
    /// Text in the text format or OpenMetrics.
    Text(String, Format),
    Protobuf(ProtoExposition),
}

impl Decoded {
    /// The page's exposition (a parse error names the line of a text page).
    pub fn exposition(&mut self) -> Result<Exposition<'_>> {
        match self {
            Decoded::Text(text, Format::OpenMetrics) => crate::pull::openmetrics::parse(text),
            Decoded::Text(text, _) => crate::pull::text::parse(text),
            Decoded::Protobuf(p) => Ok(p.exposition()),
        }
    }
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
        let accept = HeaderValue::from_str(&target.formats.accept)
            .unwrap_or_else(|_| HeaderValue::from_static("*/*"));
        let resp = request
            .header(ACCEPT, accept)
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
            target.formats.fallback,
        )?;
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
        let pick = |ct| Format::from_content_type(ct, None).ok();
        assert_eq!(
            pick("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            Some(Format::OpenMetrics)
        );
        assert_eq!(
            pick("Application/OpenMetrics-Text"),
            Some(Format::OpenMetrics)
        );
        assert_eq!(pick("text/plain; version=0.0.4"), Some(Format::Text));
        assert_eq!(
            pick(
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
            ),
            Some(Format::Protobuf)
        );
        let e = Format::from_content_type("", None).unwrap_err().to_string();
        assert_eq!(
            e,
            "non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target"
        );
        let e = Format::from_content_type("application/json", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unsupported Content-Type \"application/json\""),
            "{e}"
        );
        assert_eq!(
            Format::from_content_type(
                "application/json",
                Some(ScrapeProtocol::PrometheusText0_0_4)
            )
            .unwrap(),
            Format::Text
        );
        assert_eq!(
            Format::from_content_type("", Some(ScrapeProtocol::PrometheusProto)).unwrap(),
            Format::Protobuf
        );
        let mut om = Decoded::Text("a 1\n".into(), Format::OpenMetrics);
        assert!(om.exposition().is_err(), "no # EOF");
        let mut text = Decoded::Text("a 1\n".into(), Format::Text);
        assert!(text.exposition().is_ok());
    }

    #[test]
    fn accept_header_is_prometheus_s() {
        // Prometheus's DefaultProtoFirstScrapeProtocols, legacy name escaping.
        assert_eq!(
            ScrapeFormats::default().accept,
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,\
             application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,\
             application/openmetrics-text;version=0.0.1;q=0.4,\
             text/plain;version=1.0.0;escaping=underscores;q=0.3,\
             text/plain;version=0.0.4;q=0.2,\
             */*;q=0.1"
        );
        assert_eq!(
            accept_header(&[ScrapeProtocol::PrometheusText0_0_4]),
            "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"
        );
    }
}
