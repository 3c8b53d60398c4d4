//! Prometheus's web configuration file (`--web.config.file`, the exporter-toolkit YAML)
//! for every HTTP server of Telltale: TLS with optional client certificates, basic auth
//! with bcrypt hashes, and security headers; and the other direction, the one outgoing
//! HTTP client configuration of scrapes and receivers ([`client`]).
//!
//! ```text
//!  web.yml ──WebConfigFile::load──▶ WebConfigFile ──▶ Watcher (re-read on change, ≤ 1/s)
//!                                                        │
//!  TcpListener + Router ──serve──▶ plain HTTP or TLS ◀───┤ rustls ServerConfig per connection
//!                                   └ every route: basic auth + headers ◀─ users, headers per request
//! ```
//!
//! - [`config`]: the YAML types ([`WebConfig`]) and the checks that need no file, with
//!   exporter-toolkit's defaults and errors naming the file and the field. What rustls
//!   cannot do (TLS 1.0/1.1, CBC and RSA-key-exchange cipher suites, P-521) is refused.
//! - [`load`]: [`WebConfigFile::load`] reads the file and the certificate, key and CA
//!   files it names (relative to its directory), checks them, and is the checker of
//!   `check web-config`.
//! - `tls`: the rustls `ServerConfig`, client certificates per `client_auth_type`,
//!   `client_allowed_sans`.
//! - `auth`: basic auth (`401` with `WWW-Authenticate: Basic`, cached bcrypt results,
//!   the same work for unknown users) and the configured headers, as one middleware.
//! - [`reload`]: the [`Watcher`]: changed files apply to new connections and requests,
//!   a broken file keeps the last good configuration.
//! - [`serve`](mod@serve): [`serve()`] runs a `Router` on a listener with all of it.
//! - [`client`]: the outgoing side — [`client::ClientSettings`] (TLS with the system roots
//!   plus a CA, client certificates, `server_name`, authorization, basic auth, proxy,
//!   redirects) and [`client::HttpClient`], the `reqwest::Client` built from it, rebuilt
//!   when its files change; used by the scraper and the alertmanager's receivers.
//!
//! The binary calls it as (its `serve_http`):
//!
//! ```no_run
//! # async fn run(listener: tokio::net::TcpListener, app: axum::Router,
//! #              path: Option<std::path::PathBuf>) -> Result<(), telltale_web::Error> {
//! let web = path.map(telltale_web::WebConfigFile::load).transpose()?;
//! telltale_web::serve(listener, app, web, async { /* shutdown signal */ }).await
//! # }
//! ```

mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod load;
pub mod reload;
pub mod serve;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;

pub use config::WebConfig;
pub use error::{Error, Result};
pub use load::WebConfigFile;
pub use reload::Watcher;
pub use serve::serve;
