//! Test fixtures (feature `testing`), shared by the tests of the web servers, the
//! scraper's secured targets, the receivers and the end-to-end tests: a PKI made with
//! rcgen ([`Pki`]) and an OAuth 2.0 token server with a protected metrics page
//! ([`TokenServer`]).

mod pki;
mod token_server;

pub use pki::Pki;
pub use token_server::{TokenServer, TokenServerOptions};
