//! Who is calling: the role a certificate of the cluster's CA names, and the checks the
//! replicas make with it.
//!
//! The operator (and `dev-cluster`) issue every component a certificate whose URI SAN
//! is `urn:telltale:role:<role>` ([`Role::uri`]); a certificate of the CA without one is
//! a client of unknown role, which may use the storage API but not Raft.

use std::net::SocketAddr;

/// The prefix of the URI SAN naming a certificate's role.
pub const ROLE_URI_PREFIX: &str = "urn:telltale:role:";

/// The component a certificate was issued to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A storage replica: the only role that may call Raft's replication calls.
    Storage,
    Scraper,
    Query,
    Alertmanager,
    /// The operator: with the replicas, the only role that may change a group's voters.
    Operator,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Storage,
        Role::Scraper,
        Role::Query,
        Role::Alertmanager,
        Role::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Storage => "storage",
            Role::Scraper => "scraper",
            Role::Query => "query",
            Role::Alertmanager => "alertmanager",
            Role::Operator => "operator",
        }
    }

    /// The URI SAN a certificate of this role carries.
    pub fn uri(self) -> String {
        format!("{ROLE_URI_PREFIX}{}", self.as_str())
    }

    /// The role a URI SAN names, if it names one.
    pub fn from_uri(uri: &str) -> Option<Role> {
        let name = uri.strip_prefix(ROLE_URI_PREFIX)?;
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verified client certificate: its subject's common name (for logs) and its role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerIdentity {
    pub name: String,
    pub role: Option<Role>,
}

impl PeerIdentity {
    /// The identity in a DER certificate (already verified against the CA), or `None`
    /// when it cannot be parsed.
    pub fn from_der(der: &[u8]) -> Option<PeerIdentity> {
        use x509_parser::extensions::GeneralName;
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or_default()
            .to_string();
        let role = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .and_then(|san| {
                san.value.general_names.iter().find_map(|n| match n {
                    GeneralName::URI(uri) => Role::from_uri(uri),
                    _ => None,
                })
            });
        Some(PeerIdentity { name, role })
    }
}

/// What a connection of the replicas' gRPC server knows about its peer: tonic puts it in
/// every request's extensions. Without TLS there is none (the plain server's
/// connections carry tonic's own `TcpConnectInfo`), and nothing is checked.
#[derive(Clone, Debug)]
pub struct PeerInfo {
    pub remote: Option<SocketAddr>,
    pub identity: PeerIdentity,
}

/// Refuses a request over TLS whose certificate's role is not one of `allowed`
/// (`PERMISSION_DENIED`, naming the caller and what `call` needs). A request without
/// [`PeerInfo`] came over the plain server and passes.
pub fn require<T>(
    request: &tonic::Request<T>,
    call: &str,
    allowed: &[Role],
) -> Result<(), tonic::Status> {
    let Some(peer) = request.extensions().get::<PeerInfo>() else {
        return Ok(());
    };
    match peer.identity.role {
        Some(role) if allowed.contains(&role) => Ok(()),
        role => {
            let wanted: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            let who = role.map_or("no role".to_string(), |r| format!("role {r}"));
            tracing::warn!(peer = %peer.identity.name, remote = ?peer.remote, call, "refused: {who}");
            Err(tonic::Status::permission_denied(format!(
                "{call} is only for {}; the certificate of {:?} has {who}",
                wanted.join(" or "),
                peer.identity.name,
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_uri() {
        for role in Role::ALL {
            assert_eq!(Role::from_uri(&role.uri()), Some(role));
        }
        assert_eq!(Role::from_uri("urn:telltale:role:admin"), None);
        assert_eq!(Role::from_uri("spiffe://storage"), None);
    }

    #[test]
    fn requests_are_checked_only_over_tls() {
        let plain = tonic::Request::new(());
        assert!(require(&plain, "ChangeMembership", &[Role::Operator]).is_ok());
        let mut req = tonic::Request::new(());
        req.extensions_mut().insert(PeerInfo {
            remote: None,
            identity: PeerIdentity {
                name: "scraper-0".into(),
                role: Some(Role::Scraper),
            },
        });
        let err = require(&req, "ChangeMembership", &[Role::Operator, Role::Storage])
            .expect_err("a scraper may not change voters");
        assert_eq!(err.code(), tonic::Code::PermissionDenied);
        assert!(
            err.message().contains("operator or storage"),
            "{}",
            err.message()
        );
        assert!(require(&req, "Write", &[Role::Scraper]).is_ok());
    }

    #[test]
    fn garbage_is_no_identity() {
        assert_eq!(PeerIdentity::from_der(b"not a certificate"), None);
    }
}
