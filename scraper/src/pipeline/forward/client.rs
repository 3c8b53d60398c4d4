//! [`RemoteClient`]: one remote_write 1.0 endpoint — the HTTP client of the section's
//! client fields (`telltale_web::client`: TLS, proxy, redirects, HTTP/2; basic auth or an
//! `Authorization` header whose credentials files are re-read on every request;
//! `remote_timeout`), the request (snappy protobuf, Prometheus's headers, the configured
//! `headers`) and what its answer means ([`classify`], pure).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use telltale_crds::prometheus::RemoteWriteConfig;
use telltale_web::client::{ClientOptions, HttpClient, from_prometheus};

use crate::error::{Error, Result};

/// The remote_write protocol version header Prometheus 2.42 sends.
pub const REMOTE_WRITE_VERSION: &str = "0.1.0";

/// Most bytes of an error answer kept for the log (as Prometheus).
const ERROR_BODY_BYTES: usize = 256;

/// What to do with a batch after one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The remote took it (2xx).
    Sent,
    /// Try again later (5xx, 429 when configured, no answer); `after` is the remote's
    /// `Retry-After` when it gave one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The remote refused it for good (other 4xx, or a 3xx not followed): drop it.
    Drop { reason: String },
}

/// Whether an HTTP status is a success, worth a retry or a refusal (pure).
pub fn classify(status: u16, retry_on_http_429: bool) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        429 if retry_on_http_429 => StatusClass::Recoverable,
        500..=599 => StatusClass::Recoverable,
        _ => StatusClass::Unrecoverable,
    }
}

/// See [`classify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    Recoverable,
    Unrecoverable,
}

/// The endpoint of one `remote_write` section.
#[derive(Clone, Debug)]
pub struct RemoteClient {
    http: Arc<HttpClient>,
    url: String,
    headers: HeaderMap,
    timeout: Duration,
    retry_on_http_429: bool,
}

impl RemoteClient {
    /// Builds the client of `config` (`telltale_web::client`, the scrapes' and the
    /// receivers' client: system roots plus `ca_file`, client certificate, `server_name`,
    /// proxy, redirects); `remote` names the section in errors. Refuses what it cannot
    /// honour rather than send without it (`oauth2`, `sigv4`); certificate files are read
    /// now, so a missing one stops the start.
    pub fn new(config: &RemoteWriteConfig, remote: &str) -> Result<Self> {
        let err = |field: &str, message: String| Error::RemoteWriteConfig {
            remote: remote.to_string(),
            field: field.to_string(),
            message,
        };
        if config.sigv4.is_some() {
            return Err(err("sigv4", "sigv4 is not supported yet".into()));
        }
        let web_err = |e: telltale_web::Error| match e {
            telltale_web::Error::Client { field, message } => err(&field, message),
            other => err("", other.to_string()),
        };
        let settings = from_prometheus(&config.http, "").map_err(web_err)?;
        let http = HttpClient::new(
            settings,
            ClientOptions::new(concat!("telltale/", env!("CARGO_PKG_VERSION"))),
        );
        http.client().map_err(web_err)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let n = HeaderName::try_from(name.as_str())
                .map_err(|e| err(&format!("headers.{name}"), e.to_string()))?;
            let v = HeaderValue::try_from(value.as_str())
                .map_err(|e| err(&format!("headers.{name}"), e.to_string()))?;
            headers.insert(n, v);
        }
        Ok(RemoteClient {
            http: Arc::new(http),
            url: config.url.clone(),
            headers,
            timeout: config.remote_timeout().0,
            retry_on_http_429: config.queue().retry_on_http_429,
        })
    }

    /// POSTs one snappy-compressed `prometheus.WriteRequest` and says what to do next.
    pub async fn send(&self, compressed: Vec<u8>) -> Verdict {
        // Prometheus fails (and drops) the batch when it cannot read a credentials or
        // certificate file; it is kept here, and retried, until the file is back.
        let retry = |e: telltale_web::Error| Verdict::Retry {
            reason: e.to_string(),
            after: None,
        };
        let client = match self.http.client() {
            Ok(c) => c,
            Err(e) => return retry(e),
        };
        let req = client
            .post(&self.url)
            .timeout(self.timeout)
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_ENCODING, "snappy")
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", REMOTE_WRITE_VERSION)
            .body(compressed);
        let req = match self.http.authorize(req).await {
            Ok(r) => r,
            Err(e) => return retry(e),
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                return Verdict::Retry {
                    reason: format!("Post {:?}: {e}", self.url),
                    after: None,
                };
            }
        };
        let status = resp.status();
        let class = classify(status.as_u16(), self.retry_on_http_429);
        if class == StatusClass::Success {
            return Verdict::Sent;
        }
        let after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp.bytes().await.unwrap_or_default();
        let text = String::from_utf8_lossy(&body[..body.len().min(ERROR_BODY_BYTES)]);
        let reason = format!("server returned HTTP status {status}: {}", text.trim());
        match class {
            StatusClass::Recoverable => Verdict::Retry { reason, after },
            _ => Verdict::Drop { reason },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_prometheus_does() {
        use StatusClass::*;
        for (status, retry_429, want) in [
            (200, false, Success),
            (204, false, Success),
            (400, false, Unrecoverable),
            (401, true, Unrecoverable),
            (404, false, Unrecoverable),
            (429, false, Unrecoverable),
            (429, true, Recoverable),
            (500, false, Recoverable),
            (503, false, Recoverable),
            (302, false, Unrecoverable),
        ] {
            assert_eq!(classify(status, retry_429), want, "{status} {retry_429}");
        }
    }

    #[test]
    fn unsupported_auth_is_refused_with_its_field() {
        let config: RemoteWriteConfig =
            serde_yaml::from_str("url: http://x/api/v1/write\nsigv4: {region: eu-west-1}\n")
                .unwrap();
        let e = RemoteClient::new(&config, "r").unwrap_err();
        assert_eq!(
            e.to_string(),
            "remote_write r: sigv4: sigv4 is not supported yet"
        );
        let oauth2: RemoteWriteConfig = serde_yaml::from_str(
            "url: http://x/api/v1/write\noauth2: {client_id: a, token_url: http://t}\n",
        )
        .unwrap();
        RemoteClient::new(&oauth2, "r").unwrap();
    }

    #[test]
    fn unreadable_tls_files_name_their_field() {
        let config: RemoteWriteConfig = serde_yaml::from_str(
            "url: https://x/api/v1/write\ntls_config: {ca_file: /nonexistent/ca.pem}\n",
        )
        .unwrap();
        let e = RemoteClient::new(&config, "r").unwrap_err().to_string();
        assert!(
            e.starts_with("remote_write r: tls_config.ca_file: cannot read /nonexistent/ca.pem:"),
            "{e}"
        );
    }
}
