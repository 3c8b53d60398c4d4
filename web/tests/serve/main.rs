//! `telltale_web::serve` with real TLS and real clients: reqwest (rustls) and curl.

mod auth;
mod common;
mod curl;
mod reload;
mod tls;
