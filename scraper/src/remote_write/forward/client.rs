//! [`RemoteClient`]: one remote_write 1.0 endpoint — the HTTP client built from the
//! section's client fields (TLS, proxy, redirects, HTTP/2, `remote_timeout`), the
//! request (snappy protobuf, Prometheus's headers, the configured `headers`, basic auth
//! or an `Authorization` header whose credentials files are re-read on every request)
//! and what its answer means ([`classify`], pure).

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use telltale_crds::prometheus::RemoteWriteConfig;

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

/// A secret written inline or read from a file (trimmed) on every request.
#[derive(Clone, Debug)]
enum Secret {
    Inline(String),
    File(PathBuf),
}

impl Secret {
    fn from(inline: &Option<String>, file: &Option<String>) -> Option<Secret> {
        match (inline, file) {
            (Some(s), _) if !s.is_empty() => Some(Secret::Inline(s.clone())),
            (_, Some(f)) if !f.is_empty() => Some(Secret::File(PathBuf::from(f))),
            _ => None,
        }
    }

    fn read(&self) -> std::result::Result<String, String> {
        match self {
            Secret::Inline(s) => Ok(s.clone()),
            Secret::File(p) => std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .map_err(|e| format!("unable to read {}: {e}", p.display())),
        }
    }
}

#[derive(Clone, Debug)]
enum Auth {
    None,
    Basic {
        username: String,
        password: Option<Secret>,
    },
    Header {
        scheme: String,
        credentials: Option<Secret>,
    },
}

/// The endpoint of one `remote_write` section.
#[derive(Clone, Debug)]
pub struct RemoteClient {
    http: reqwest::Client,
    url: String,
    headers: HeaderMap,
    auth: Auth,
    retry_on_http_429: bool,
}

impl RemoteClient {
    /// Builds the client of `config`; `remote` names the section in errors. Refuses
    /// what it cannot honour rather than send without it (`oauth2`, `sigv4`).
    pub fn new(config: &RemoteWriteConfig, remote: &str) -> Result<Self> {
        let err = |field: &str, message: String| Error::RemoteWriteConfig {
            remote: remote.to_string(),
            field: field.to_string(),
            message,
        };
        let http = &config.http;
        if http.oauth2.is_some() {
            return Err(err("oauth2", "oauth2 is not supported yet".into()));
        }
        if config.sigv4.is_some() {
            return Err(err("sigv4", "sigv4 is not supported yet".into()));
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("telltale/", env!("CARGO_PKG_VERSION")))
            .timeout(config.remote_timeout().0);
        if http.follow_redirects == Some(false) {
            builder = builder.redirect(reqwest::redirect::Policy::none());
        }
        if http.enable_http2 == Some(false) {
            builder = builder.http1_only();
        }
        // Only the configured proxy, as Prometheus 2.42 (no proxy from the environment).
        builder = builder.no_proxy();
        if let Some(proxy) = &http.proxy_url {
            let p = reqwest::Proxy::all(proxy).map_err(|e| err("proxy_url", e.to_string()))?;
            builder = builder.proxy(p);
        }
        if let Some(tls) = &http.tls_config {
            if let Some(ca) = &tls.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| err("tls_config.ca_file", format!("{ca}: {e}")))?;
                for cert in reqwest::Certificate::from_pem_bundle(&pem)
                    .map_err(|e| err("tls_config.ca_file", format!("{ca}: {e}")))?
                {
                    builder = builder.add_root_certificate(cert);
                }
            }
            if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
                let mut pem = std::fs::read(cert)
                    .map_err(|e| err("tls_config.cert_file", format!("{cert}: {e}")))?;
                pem.push(b'\n');
                pem.extend(
                    std::fs::read(key)
                        .map_err(|e| err("tls_config.key_file", format!("{key}: {e}")))?,
                );
                let id = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| err("tls_config.cert_file", e.to_string()))?;
                builder = builder.identity(id);
            }
            if tls.insecure_skip_verify {
                builder = builder.danger_accept_invalid_certs(true);
            }
            if let Some(v) = &tls.min_version {
                let v = match v.as_str() {
                    "TLS10" => reqwest::tls::Version::TLS_1_0,
                    "TLS11" => reqwest::tls::Version::TLS_1_1,
                    "TLS12" => reqwest::tls::Version::TLS_1_2,
                    _ => reqwest::tls::Version::TLS_1_3,
                };
                builder = builder.min_tls_version(v);
            }
            if tls.server_name.is_some() {
                tracing::warn!(
                    remote,
                    "remote_write tls_config.server_name is not honoured; the URL's host is verified"
                );
            }
        }
        let client = builder
            .build()
            .map_err(|e| err("tls_config", e.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let n = HeaderName::try_from(name.as_str())
                .map_err(|e| err(&format!("headers.{name}"), e.to_string()))?;
            let v = HeaderValue::try_from(value.as_str())
                .map_err(|e| err(&format!("headers.{name}"), e.to_string()))?;
            headers.insert(n, v);
        }
        let auth = if let Some(b) = &http.basic_auth {
            Auth::Basic {
                username: b.username.clone(),
                password: Secret::from(&b.password, &b.password_file),
            }
        } else if let Some(a) = &http.authorization {
            Auth::Header {
                scheme: a.scheme().to_string(),
                credentials: Secret::from(&a.credentials, &a.credentials_file),
            }
        } else if let Some(token) = Secret::from(&http.bearer_token, &http.bearer_token_file) {
            Auth::Header {
                scheme: "Bearer".into(),
                credentials: Some(token),
            }
        } else {
            Auth::None
        };
        Ok(RemoteClient {
            http: client,
            url: config.url.clone(),
            headers,
            auth,
            retry_on_http_429: config.queue().retry_on_http_429,
        })
    }

    /// POSTs one snappy-compressed `prometheus.WriteRequest` and says what to do next.
    pub async fn send(&self, compressed: Vec<u8>) -> Verdict {
        let mut req = self
            .http
            .post(&self.url)
            .headers(self.headers.clone())
            .header(reqwest::header::CONTENT_ENCODING, "snappy")
            .header(reqwest::header::CONTENT_TYPE, "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", REMOTE_WRITE_VERSION)
            .body(compressed);
        match &self.auth {
            Auth::None => {}
            Auth::Basic { username, password } => {
                let password = match password.as_ref().map(Secret::read).transpose() {
                    Ok(p) => p,
                    // Prometheus fails (and drops) the batch when it cannot read the
                    // file; it is kept here, and retried, until the file is back.
                    Err(reason) => {
                        return Verdict::Retry {
                            reason,
                            after: None,
                        };
                    }
                };
                req = req.basic_auth(username, password);
            }
            Auth::Header {
                scheme,
                credentials,
            } => {
                let secret = match credentials.as_ref().map(Secret::read).transpose() {
                    Ok(c) => c.unwrap_or_default(),
                    Err(reason) => {
                        return Verdict::Retry {
                            reason,
                            after: None,
                        };
                    }
                };
                req = req.header(reqwest::header::AUTHORIZATION, format!("{scheme} {secret}"));
            }
        }
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
        let config: RemoteWriteConfig = serde_yaml::from_str(
            "url: http://x/api/v1/write\noauth2: {client_id: a, token_url: http://t}\n",
        )
        .unwrap();
        let e = RemoteClient::new(&config, "r").unwrap_err();
        assert_eq!(
            e.to_string(),
            "remote_write r: oauth2: oauth2 is not supported yet"
        );
    }

    #[test]
    fn unreadable_tls_files_name_their_field() {
        let config: RemoteWriteConfig = serde_yaml::from_str(
            "url: https://x/api/v1/write\ntls_config: {ca_file: /nonexistent/ca.pem}\n",
        )
        .unwrap();
        let e = RemoteClient::new(&config, "r").unwrap_err().to_string();
        assert!(
            e.starts_with("remote_write r: tls_config.ca_file: /nonexistent/ca.pem:"),
            "{e}"
        );
    }

    #[test]
    fn secrets_are_read_from_files_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "s3cret\n").unwrap();
        let s = Secret::from(&None, &Some(f.display().to_string())).unwrap();
        assert_eq!(s.read().unwrap(), "s3cret");
        std::fs::remove_file(&f).unwrap();
        assert!(s.read().unwrap_err().contains("unable to read"));
        assert!(Secret::from(&Some(String::new()), &None).is_none());
    }
}
