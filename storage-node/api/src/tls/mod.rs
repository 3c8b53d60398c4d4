//! Mutual TLS between the components: the replicas' gRPC server and every gRPC client
//! present certificates of the cluster's CA, and the replicas check what the caller's
//! certificate allows.
//!
//! ```text
//!  --grpc.tls-{ca,cert,key}-file ─> material::Reloading (re-read when changed, ≤ 1/5 s)
//!     ├─ server::ServerTls ─> server::incoming(listener): handshakes requiring a client
//!     │     certificate of the CA ─> tonic, with identity::PeerInfo on every request
//!     │     ─> identity::require(request, call, roles) in the replicas' handlers
//!     └─ client::global().set(..) ─> client::channel: client::Connector (TLS, the
//!           certificate of the CA the server asks for)
//! ```

pub mod client;
pub mod identity;
pub mod material;
pub mod server;

pub use client::{ClientTls, Connector};
pub use identity::{PeerIdentity, PeerInfo, ROLE_URI_PREFIX, Role, require};
pub use material::{Identity, Reloading, Source, TlsError, TlsPaths};
pub use server::{ServerTls, TlsConn, incoming};
