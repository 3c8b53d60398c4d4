//! [`HttpClient`]: a `reqwest::Client` built from [`ClientSettings`], rebuilt when the
//! certificate, key or CA files change, and the authentication of each request.
//!
//! As Prometheus (`common/config`): credentials and password files are read on every
//! request, so a rotated token (a Kubernetes service-account token) applies at once;
//! certificate files are compared with what was loaded at most every
//! [`RECHECK_INTERVAL`], and a change rebuilds the client (new connections use it).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderValue};

use super::oauth2::TokenSource;
use super::settings::{Auth, ClientSettings};
use super::tls::{TlsMaterial, client_config};
use crate::error::{Error, Result};

/// How often certificate files are compared with what was loaded, at most.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(5);

/// What every client of one component shares.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub user_agent: String,
    /// How long an idle pooled connection is kept (reqwest's default when unset).
    pub pool_idle_timeout: Option<Duration>,
    /// How often certificate files are compared, at most ([`RECHECK_INTERVAL`]).
    pub recheck: Duration,
}

impl ClientOptions {
    pub fn new(user_agent: impl Into<String>) -> ClientOptions {
        ClientOptions {
            user_agent: user_agent.into(),
            pool_idle_timeout: None,
            recheck: RECHECK_INTERVAL,
        }
    }
}

/// An outgoing client of one configuration. Cheap to share (`Arc`); the inner
/// `reqwest::Client` keeps the connection pool until the certificates change.
#[derive(Debug)]
pub struct HttpClient {
    settings: ClientSettings,
    options: ClientOptions,
    built: Mutex<Built>,
    /// The tokens of `oauth2` settings.
    tokens: TokenSource,
}

#[derive(Debug, Default)]
struct Built {
    client: Option<reqwest::Client>,
    /// The certificate bytes `client` was built with.
    material: Option<TlsMaterial>,
    checked: Option<Instant>,
}

impl HttpClient {
    /// A client of `settings`; nothing is read until the first request, so a missing
    /// file is an error of that request (a scrape's `lastError`), not of the config.
    pub fn new(settings: ClientSettings, options: ClientOptions) -> HttpClient {
        HttpClient {
            settings,
            options,
            built: Mutex::new(Built::default()),
            tokens: TokenSource::default(),
        }
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The client to send with: the one built, or a new one when the certificate files
    /// changed since (checked at most every `recheck`).
    pub fn client(&self) -> Result<reqwest::Client> {
        let mut built = self.lock();
        if let (Some(client), Some(checked)) = (&built.client, built.checked)
            && checked.elapsed() < self.options.recheck
        {
            return Ok(client.clone());
        }
        let material = TlsMaterial::read(&self.settings.tls)?;
        if let Some(client) = &built.client
            && built.material.as_ref() == Some(&material)
        {
            let client = client.clone();
            built.checked = Some(Instant::now());
            return Ok(client);
        }
        let client = self.build(&material)?;
        if built.client.is_some() {
            tracing::info!(settings = ?self.settings.tls, "TLS files changed: HTTP client rebuilt");
        }
        *built = Built {
            client: Some(client.clone()),
            material: Some(material),
            checked: Some(Instant::now()),
        };
        Ok(client)
    }

    fn build(&self, material: &TlsMaterial) -> Result<reqwest::Client> {
        let s = &self.settings;
        let tls = client_config(&s.tls, material, s.enable_http2)?;
        let mut b = reqwest::Client::builder()
            .user_agent(self.options.user_agent.clone())
            .use_preconfigured_tls(tls)
            .no_proxy();
        if let Some(idle) = self.options.pool_idle_timeout {
            b = b.pool_idle_timeout(idle);
        }
        if !s.follow_redirects {
            b = b.redirect(reqwest::redirect::Policy::none());
        }
        if !s.enable_http2 {
            b = b.http1_only();
        }
        if let Some(url) = &s.proxy_url {
            b = b.proxy(proxy(url, "proxy_url")?);
        }
        b.build().map_err(|e| Error::Client {
            field: "tls_config".into(),
            message: format!("cannot build the HTTP client: {e}"),
        })
    }

    /// A request with the configured authentication (credentials files read now).
    pub async fn request(
        &self,
        method: reqwest::Method,
        url: reqwest::Url,
    ) -> Result<reqwest::RequestBuilder> {
        let req = self.client()?.request(method, url);
        self.authorize(req).await
    }

    /// Adds the `Authorization` header of the configured authentication, if any (an
    /// OAuth 2.0 token is fetched when none is cached or it is about to expire).
    pub async fn authorize(&self, req: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder> {
        let value = match &self.settings.auth {
            Some(Auth::OAuth2(o)) => Some(self.tokens.header(o, &self.options.user_agent).await?),
            _ => self.authorization()?,
        };
        Ok(match value {
            Some(v) => req.header(AUTHORIZATION, v),
            None => req,
        })
    }

    /// The `Authorization` header value of Basic and header authentication, marked
    /// sensitive (None for OAuth 2.0, whose token [`HttpClient::authorize`] fetches).
    pub fn authorization(&self) -> Result<Option<HeaderValue>> {
        let (text, field) = match &self.settings.auth {
            None | Some(Auth::OAuth2(_)) => return Ok(None),
            Some(Auth::Basic { username, password }) => {
                let user = username.read_secret()?;
                let pass = password
                    .as_ref()
                    .map(|p| p.read_secret())
                    .transpose()?
                    .unwrap_or_default();
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                (format!("Basic {encoded}"), &username.field)
            }
            Some(Auth::Header {
                scheme,
                credentials,
            }) => {
                let secret = credentials
                    .as_ref()
                    .map(|c| c.read_secret())
                    .transpose()?
                    .unwrap_or_default();
                let field = credentials.as_ref().map_or(scheme, |c| &c.field);
                (format!("{scheme} {secret}"), field)
            }
        };
        let mut value = HeaderValue::from_str(&text).map_err(|_| Error::Client {
            field: field.clone(),
            message: "not usable in an HTTP header (control characters)".into(),
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    fn lock(&self) -> MutexGuard<'_, Built> {
        self.built.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The proxy at `url`, set by the setting `field`.
pub(super) fn proxy(url: &str, field: &str) -> Result<reqwest::Proxy> {
    reqwest::Proxy::all(url).map_err(|e| Error::Client {
        field: field.into(),
        message: format!("{url:?}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::settings::Material;
    use super::*;

    fn client(auth: Auth) -> HttpClient {
        HttpClient::new(
            ClientSettings {
                auth: Some(auth),
                ..ClientSettings::default()
            },
            ClientOptions::new("test"),
        )
    }

    #[test]
    fn authorization_headers_as_prometheus() {
        let basic = client(Auth::Basic {
            username: Material::value("u", "user"),
            password: Some(Material::value("p", "pass\n")),
        });
        let v = basic.authorization().unwrap().unwrap();
        assert_eq!(v.to_str().unwrap(), "Basic dXNlcjpwYXNz");
        assert!(v.is_sensitive());
        let header = client(Auth::Header {
            scheme: "Token".into(),
            credentials: Some(Material::value("c", "abc")),
        });
        assert_eq!(header.authorization().unwrap().unwrap(), "Token abc");
        let bad = client(Auth::Header {
            scheme: "Bearer".into(),
            credentials: Some(Material::value("spec.authorization.credentials", "a\u{1}b")),
        });
        let e = bad.authorization().unwrap_err().to_string();
        assert!(
            e.starts_with("spec.authorization.credentials: not usable"),
            "{e}"
        );
    }

    /// A rotated token file applies to the next request.
    #[test]
    fn credentials_files_are_read_per_request() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, "one\n").unwrap();
        let c = client(Auth::Header {
            scheme: "Bearer".into(),
            credentials: Some(Material::file("credentials_file", &token)),
        });
        assert_eq!(c.authorization().unwrap().unwrap(), "Bearer one");
        std::fs::write(&token, "two").unwrap();
        assert_eq!(c.authorization().unwrap().unwrap(), "Bearer two");
    }

    #[test]
    fn certificate_files_are_rechecked_and_errors_name_them() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let settings = ClientSettings {
            tls: super::super::settings::TlsSettings {
                ca: Some(Material::file("tls_config.ca_file", &ca)),
                ..Default::default()
            },
            ..ClientSettings::default()
        };
        let mut options = ClientOptions::new("test");
        options.recheck = Duration::ZERO;
        let c = HttpClient::new(settings, options);
        let e = c.client().unwrap_err().to_string();
        assert!(e.starts_with("tls_config.ca_file: cannot read"), "{e}");
        std::fs::write(&ca, "garbage").unwrap();
        let e = c.client().unwrap_err().to_string();
        assert!(e.contains("no CA certificate in the PEM data"), "{e}");
    }
}
