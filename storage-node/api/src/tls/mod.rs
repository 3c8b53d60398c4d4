//! Mutual TLS between the components: the replicas' gRPC server and every gRPC client
//! present certificates of the cluster's CA, and the replicas check what the caller's
//! certificate allows.

pub mod identity;

pub use identity::{PeerIdentity, PeerInfo, ROLE_URI_PREFIX, Role, require};
