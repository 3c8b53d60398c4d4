//! The outgoing side of HTTP: one definition of a client's configuration and its builder,
//! shared by the scraper (targets, `scheme`/`tlsConfig`/`authorization`/`basicAuth`/
//! `proxyUrl`/`followRedirects`) and the alertmanager (receivers' `http_config`), as
//! Prometheus's `common/config.HTTPClientConfig` is shared by Prometheus and Alertmanager.
//!
//! ```text
//!  prometheus.yml / http_config ──from_prometheus──┐
//!  ScrapeTarget (Secrets resolved by the scraper) ─┴─▶ ClientSettings ─▶ HttpClient
//!      HttpClient::client(): rustls (system roots + CA, client cert, server_name,
//!        insecure_skip_verify, min_version), proxy, redirects; rebuilt when files change
//!      HttpClient::authorize(): Basic or `<type> <credentials>`, files read per request,
//!        or an OAuth 2.0 client-credentials token (oauth2.rs), cached until it expires
//! ```

mod from_prometheus;
mod http_client;
mod oauth2;
mod settings;
mod tls;

pub use from_prometheus::from_prometheus;
pub use http_client::{ClientOptions, HttpClient, RECHECK_INTERVAL};
pub use oauth2::{EXPIRY_DELTA, OAuth2Settings};
pub use settings::{Auth, ClientSettings, Material, Source, TlsSettings, TlsVersion};
