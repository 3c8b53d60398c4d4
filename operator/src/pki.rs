//! The cluster's PKI: a CA (made here, or the user's), the certificates it issues to
//! the components and to the operator itself, and the decision whether a certificate
//! already issued is still good.
//!
//! ```text
//!  CertificateAuthority::generate (ECDSA P-256, 10 years)  or  ::from_pem (the user's)
//!     ├─ issue(Leaf)   ─> IssuedCert: a fresh P-256 key, the Leaf's role URI SAN
//!     │                   (urn:telltale:role:<role>), CN and DNS SANs, serverAuth and
//!     │                   clientAuth, valid for the spec's certificateValidity
//!     ├─ check(Leaf, cert, key) ─> Verdict: Keep, or Reissue(why): unreadable, another
//!     │                   CA's signature, a key that is not the certificate's, a name
//!     │                   or the role missing, or within renewBefore of its expiry
//!     └─ operator_identity ─> OperatorIdentity (role operator, client only, in memory)
//! ```
//!
//! Pure: the time is passed in, nothing is read or written here.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType,
};
use telltale_storage_api::tls::Role;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::{Error, Result};

/// How long a CA the operator makes is valid.
pub const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 86_400);
/// Certificates are valid from this long before they are made, for clocks running
/// slightly behind the operator's.
pub const BACKDATE: Duration = Duration::from_secs(300);
/// The common name of the operator's own certificate.
pub const OPERATOR_COMMON_NAME: &str = "telltale-operator";

/// A CA that issues certificates: its certificate and key (PEM) and the signer made
/// from them.
pub struct CertificateAuthority {
    cert_pem: String,
    key_pem: String,
    cert_der: Vec<u8>,
    not_after: SystemTime,
    issuer: Issuer<'static, KeyPair>,
}

impl fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// What a component's certificate says: its role (URI SAN), common name and the DNS
/// names it answers to as a server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    pub role: Role,
    pub common_name: String,
    pub dns_names: Vec<String>,
    /// Also a server certificate (`serverAuth`); every leaf is a client (`clientAuth`).
    pub server: bool,
}

/// A certificate just issued and its key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert").finish_non_exhaustive()
    }
}

/// Whether a certificate already issued is still good.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    Reissue(Reason),
}

/// Why a certificate is issued again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// There is none yet (or its key is missing).
    Missing,
    /// It is not a readable PEM certificate.
    Unreadable,
    /// It is not signed by this CA.
    OtherCa,
    /// The key beside it is not its key.
    KeyMismatch,
    /// It lacks the role URI SAN, a DNS name or an extended key usage it needs.
    Lacks(String),
    /// It expires within `renewBefore`.
    Expiring { not_after: SystemTime },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Missing => f.write_str("missing"),
            Reason::Unreadable => f.write_str("not a readable certificate"),
            Reason::OtherCa => f.write_str("not signed by the cluster's CA"),
            Reason::KeyMismatch => f.write_str("its key does not match"),
            Reason::Lacks(what) => write!(f, "lacks {what}"),
            Reason::Expiring { not_after } => {
                let secs = not_after
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                write!(f, "expires at {secs} (Unix time), within renewBefore")
            }
        }
    }
}

fn pki_error(what: &str, reason: impl fmt::Display) -> Error {
    Error::Pki {
        what: what.to_string(),
        reason: reason.to_string(),
    }
}

fn to_offset(t: SystemTime) -> Result<OffsetDateTime> {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    OffsetDateTime::from_unix_timestamp(secs).map_err(|e| pki_error("certificate validity", e))
}

fn from_unix(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// The DER of the first PEM block of `pem`, if it is a certificate.
fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    (block.label == "CERTIFICATE").then_some(block.contents)
}

/// The label of the first PEM block of `pem` (`PRIVATE KEY`, `EC PRIVATE KEY`, ...).
fn pem_label(pem: &str) -> Option<String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    Some(block.label)
}

fn parse(der: &[u8]) -> Option<X509Certificate<'_>> {
    x509_parser::parse_x509_certificate(der)
        .ok()
        .map(|(_, cert)| cert)
}

fn new_key() -> Result<KeyPair> {
    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| pki_error("key generation", e))
}

impl CertificateAuthority {
    /// A new CA for the cluster `cluster`: ECDSA P-256, CN `telltale <cluster> CA`,
    /// valid for [`CA_VALIDITY`] from `now`.
    pub fn generate(cluster: &str, now: SystemTime) -> Result<Self> {
        let key = new_key()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("telltale {cluster} CA"));
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = to_offset(now - BACKDATE)?;
        params.not_after = to_offset(now + CA_VALIDITY)?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| pki_error("the CA certificate", e))?;
        Self::from_pem(&cert.pem(), &key.serialize_pem())
    }

    /// A CA from its certificate and key (PEM), checked to be a CA whose key this is.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self> {
        let der = pem_to_der(cert_pem).ok_or_else(|| pki_error("ca.crt", Reason::Unreadable))?;
        let cert = parse(&der).ok_or_else(|| pki_error("ca.crt", Reason::Unreadable))?;
        let is_ca = cert
            .basic_constraints()
            .ok()
            .flatten()
            .is_some_and(|bc| bc.value.ca);
        if !is_ca {
            return Err(pki_error(
                "ca.crt",
                "not a CA certificate (basicConstraints CA:TRUE)",
            ));
        }
        let key = KeyPair::from_pem(key_pem).map_err(|e| match pem_label(key_pem).as_deref() {
            Some(label @ ("EC PRIVATE KEY" | "RSA PRIVATE KEY")) => pki_error(
                "ca.key",
                format!(
                    "a {label} is not read: PKCS#8 (`BEGIN PRIVATE KEY`) only; convert it with \
                     `openssl pkcs8 -topk8 -nocrypt` (cert-manager: privateKey.encoding PKCS8)"
                ),
            ),
            _ => pki_error("ca.key", e),
        })?;
        if key.subject_public_key_info() != cert.public_key().raw {
            return Err(pki_error("ca.key", "is not the key of ca.crt"));
        }
        let not_after = from_unix(cert.validity().not_after.timestamp());
        let issuer = Issuer::from_ca_cert_der(&der.clone().into(), key)
            .map_err(|e| pki_error("ca.crt", e))?;
        Ok(CertificateAuthority {
            cert_pem: cert_pem.to_string(),
            key_pem: key_pem.to_string(),
            cert_der: der,
            not_after,
            issuer,
        })
    }

    /// The CA's certificate, PEM (what every component trusts).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA's key, PEM.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// When the CA expires: no certificate it issues lives longer.
    pub fn not_after(&self) -> SystemTime {
        self.not_after
    }

    /// Issues `leaf` with a fresh key, valid from shortly before `now` for `lifetime`
    /// (or until the CA expires, if sooner).
    pub fn issue(&self, leaf: &Leaf, lifetime: Duration, now: SystemTime) -> Result<IssuedCert> {
        let what = format!("certificate {}", leaf.common_name);
        let key = new_key()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, leaf.common_name.as_str());
        let uri = leaf
            .role
            .uri()
            .try_into()
            .map_err(|e| pki_error(&what, e))?;
        params.subject_alt_names = vec![SanType::URI(uri)];
        for name in &leaf.dns_names {
            // An address is an IP SAN: a dev cluster's replicas are dialled at 127.0.0.1.
            let san = match name.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => {
                    SanType::DnsName(name.as_str().try_into().map_err(|e| pki_error(&what, e))?)
                }
            };
            params.subject_alt_names.push(san);
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if leaf.server {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        params.use_authority_key_identifier_extension = true;
        params.not_before = to_offset(now - BACKDATE)?;
        params.not_after = to_offset((now + lifetime).min(self.not_after))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| pki_error(&what, e))?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Whether the certificate `cert_pem` with its key `key_pem` still serves `leaf` at
    /// `now`. A certificate that expires within `renew_before` is reissued, unless the
    /// CA expires first (a new one would not live longer).
    pub fn check(
        &self,
        leaf: &Leaf,
        cert_pem: Option<&str>,
        key_pem: Option<&str>,
        renew_before: Duration,
        now: SystemTime,
    ) -> Verdict {
        let (Some(cert_pem), Some(key_pem)) = (cert_pem, key_pem) else {
            return Verdict::Reissue(Reason::Missing);
        };
        let Some(der) = pem_to_der(cert_pem) else {
            return Verdict::Reissue(Reason::Unreadable);
        };
        let Some(cert) = parse(&der) else {
            return Verdict::Reissue(Reason::Unreadable);
        };
        match self.signed_here(&cert) {
            Verdict::Keep => {}
            reissue => return reissue,
        }
        let matches = KeyPair::from_pem(key_pem)
            .is_ok_and(|key| key.subject_public_key_info() == cert.public_key().raw);
        if !matches {
            return Verdict::Reissue(Reason::KeyMismatch);
        }
        if let Some(lacking) = lacks(&cert, leaf) {
            return Verdict::Reissue(Reason::Lacks(lacking));
        }
        let not_after = from_unix(cert.validity().not_after.timestamp());
        if now + renew_before >= not_after && not_after < self.not_after {
            return Verdict::Reissue(Reason::Expiring { not_after });
        }
        Verdict::Keep
    }

    /// Keep if this CA signed `cert` (its issuer is this CA's subject and the signature
    /// verifies with this CA's public key).
    fn signed_here(&self, cert: &X509Certificate<'_>) -> Verdict {
        let Some(ca) = parse(&self.cert_der) else {
            return Verdict::Reissue(Reason::OtherCa);
        };
        let same_issuer = cert.issuer().as_raw() == ca.subject().as_raw();
        if same_issuer && cert.verify_signature(Some(ca.public_key())).is_ok() {
            Verdict::Keep
        } else {
            Verdict::Reissue(Reason::OtherCa)
        }
    }
}

/// What of `leaf` the certificate lacks: its role's URI SAN, a DNS name or a key usage.
fn lacks(cert: &X509Certificate<'_>, leaf: &Leaf) -> Option<String> {
    let mut uris = Vec::new();
    let mut dns = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::URI(u) => uris.push(*u),
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                GeneralName::IPAddress(ip) => {
                    let ip = match ip.len() {
                        4 => <[u8; 4]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                        _ => None,
                    };
                    dns.extend(ip.map(|ip| ip.to_string()));
                }
                _ => {}
            }
        }
    }
    let role = leaf.role.uri();
    if !uris.contains(&role.as_str()) {
        return Some(format!("the role URI {role}"));
    }
    if let Some(missing) = leaf.dns_names.iter().find(|n| !dns.contains(n)) {
        return Some(format!("the DNS name {missing}"));
    }
    let usage = cert.extended_key_usage().ok().flatten().map(|e| e.value);
    if !usage.is_some_and(|u| u.client_auth) {
        return Some("clientAuth".into());
    }
    if leaf.server && !usage.is_some_and(|u| u.server_auth) {
        return Some("serverAuth".into());
    }
    None
}

/// The operator's own client certificate for one cluster (role operator): kept in
/// memory, never in a Secret. The gRPC client of the membership calls presents
/// `cert_pem`/`key_pem` and verifies the replicas against `ca_pem`.
#[derive(Clone, PartialEq, Eq)]
pub struct OperatorIdentity {
    /// The cluster's CA certificate: what the replicas' server certificates chain to.
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
    /// When `cert_pem` expires.
    pub not_after: SystemTime,
}

impl fmt::Debug for OperatorIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorIdentity")
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// What the operator's certificate says: role operator, a client only.
pub fn operator_leaf() -> Leaf {
    Leaf {
        role: Role::Operator,
        common_name: OPERATOR_COMMON_NAME.into(),
        dns_names: Vec::new(),
        server: false,
    }
}

/// A new client certificate of role operator from `ca`, valid for `lifetime`.
pub fn operator_identity(
    ca: &CertificateAuthority,
    lifetime: Duration,
    now: SystemTime,
) -> Result<OperatorIdentity> {
    let issued = ca.issue(&operator_leaf(), lifetime, now)?;
    let not_after = pem_to_der(&issued.cert_pem)
        .as_deref()
        .and_then(parse)
        .map(|c| from_unix(c.validity().not_after.timestamp()))
        .ok_or_else(|| pki_error(OPERATOR_COMMON_NAME, Reason::Unreadable))?;
    Ok(OperatorIdentity {
        ca_pem: ca.cert_pem().to_string(),
        cert_pem: issued.cert_pem,
        key_pem: issued.key_pem,
        not_after,
    })
}

impl OperatorIdentity {
    /// Whether this identity still serves with `ca` at `now` (the same checks as a
    /// component's certificate, and the same CA certificate).
    pub fn verdict(
        &self,
        ca: &CertificateAuthority,
        renew_before: Duration,
        now: SystemTime,
    ) -> Verdict {
        if self.ca_pem != ca.cert_pem() {
            return Verdict::Reissue(Reason::OtherCa);
        }
        ca.check(
            &operator_leaf(),
            Some(&self.cert_pem),
            Some(&self.key_pem),
            renew_before,
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn storage_leaf() -> Leaf {
        Leaf {
            role: Role::Storage,
            common_name: "mc-storage-0-1".into(),
            dns_names: vec![
                "mc-storage-0-1.mc-storage-0.ns.svc".into(),
                "mc-storage-0-1.mc-storage-0".into(),
            ],
            server: true,
        }
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_750_000_000)
    }

    fn parsed(pem: &str) -> (Vec<String>, Vec<String>, String, i64) {
        let der = pem_to_der(pem).unwrap();
        let cert = parse(&der).unwrap();
        let mut uris = Vec::new();
        let mut dns = Vec::new();
        for n in &cert
            .subject_alternative_name()
            .unwrap()
            .unwrap()
            .value
            .general_names
        {
            match n {
                GeneralName::URI(u) => uris.push(u.to_string()),
                GeneralName::DNSName(d) => dns.push(d.to_string()),
                _ => {}
            }
        }
        let cn = cert
            .subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        (uris, dns, cn, cert.validity().not_after.timestamp())
    }

    #[test]
    fn an_address_is_an_ip_san_and_is_kept() {
        let ca = CertificateAuthority::generate("dev", now()).unwrap();
        let leaf = Leaf {
            dns_names: vec!["127.0.0.1".into(), "localhost".into()],
            ..storage_leaf()
        };
        let issued = ca.issue(&leaf, 90 * DAY, now()).unwrap();
        let der = pem_to_der(&issued.cert_pem).unwrap();
        let cert = parse(&der).unwrap();
        let san = cert.subject_alternative_name().unwrap().unwrap();
        assert!(
            san.value
                .general_names
                .iter()
                .any(|n| matches!(n, GeneralName::IPAddress(ip) if *ip == [127, 0, 0, 1])),
            "{:?}",
            san.value.general_names
        );
        let verdict = ca.check(
            &leaf,
            Some(&issued.cert_pem),
            Some(&issued.key_pem),
            DAY,
            now(),
        );
        assert_eq!(verdict, Verdict::Keep);
    }

    #[test]
    fn issued_certificates_carry_the_role_and_names_and_chain_to_the_ca() {
        let ca = CertificateAuthority::generate("mc", now()).unwrap();
        let ca_der = pem_to_der(ca.cert_pem()).unwrap();
        let ca_cert = parse(&ca_der).unwrap();
        assert_eq!(
            ca_cert
                .subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "telltale mc CA"
        );
        assert!(ca.not_after() >= now() + CA_VALIDITY - DAY);
        let issued = ca.issue(&storage_leaf(), 90 * DAY, now()).unwrap();
        let (uris, dns, cn, not_after) = parsed(&issued.cert_pem);
        assert_eq!(uris, ["urn:telltale:role:storage"]);
        assert_eq!(dns, storage_leaf().dns_names);
        assert_eq!(cn, "mc-storage-0-1");
        let expected = now() + 90 * DAY;
        assert_eq!(
            not_after,
            expected.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
        );
        // The role as the replicas read it.
        let der = pem_to_der(&issued.cert_pem).unwrap();
        let identity = telltale_storage_api::tls::PeerIdentity::from_der(&der).unwrap();
        assert_eq!(identity.role, Some(Role::Storage));
        let cert = parse(&der).unwrap();
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
        assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
        // A CA read back from its PEM issues under the same name and key.
        let again = CertificateAuthority::from_pem(ca.cert_pem(), ca.key_pem()).unwrap();
        let other = again.issue(&storage_leaf(), DAY, now()).unwrap();
        assert_eq!(
            ca.check(
                &storage_leaf(),
                Some(&other.cert_pem),
                Some(&other.key_pem),
                DAY / 3,
                now()
            ),
            Verdict::Keep
        );
    }

    #[test]
    fn a_good_certificate_is_kept() {
        let ca = CertificateAuthority::generate("mc", now()).unwrap();
        let c = ca.issue(&storage_leaf(), 90 * DAY, now()).unwrap();
        let check = |at: SystemTime| {
            ca.check(
                &storage_leaf(),
                Some(&c.cert_pem),
                Some(&c.key_pem),
                30 * DAY,
                at,
            )
        };
        assert_eq!(check(now()), Verdict::Keep);
        assert_eq!(check(now() + 59 * DAY), Verdict::Keep);
        // A leaf that needs fewer names than it has is still good.
        let mut fewer = storage_leaf();
        fewer.dns_names.pop();
        assert_eq!(
            ca.check(&fewer, Some(&c.cert_pem), Some(&c.key_pem), DAY, now()),
            Verdict::Keep
        );
    }

    #[test]
    fn expiring_other_ca_missing_names_and_bad_keys_are_reissued() {
        let ca = CertificateAuthority::generate("mc", now()).unwrap();
        let other = CertificateAuthority::generate("mc", now()).unwrap();
        let c = ca.issue(&storage_leaf(), 90 * DAY, now()).unwrap();
        let verdict = |leaf: &Leaf, cert: Option<&str>, key: Option<&str>, at| {
            ca.check(leaf, cert, key, 30 * DAY, at)
        };
        let leaf = storage_leaf();
        let (cert, key) = (Some(c.cert_pem.as_str()), Some(c.key_pem.as_str()));
        assert!(matches!(
            verdict(&leaf, cert, key, now() + 61 * DAY),
            Verdict::Reissue(Reason::Expiring { .. })
        ));
        let foreign = other.issue(&leaf, 90 * DAY, now()).unwrap();
        assert_eq!(
            verdict(
                &leaf,
                Some(&foreign.cert_pem),
                Some(&foreign.key_pem),
                now()
            ),
            Verdict::Reissue(Reason::OtherCa),
            "same subject name, another key: the signature tells them apart"
        );
        let mut more = storage_leaf();
        more.dns_names
            .push("mc-storage-0-1.mc-storage-0.ns.svc.cluster.local".into());
        assert_eq!(
            verdict(&more, cert, key, now()),
            Verdict::Reissue(Reason::Lacks(
                "the DNS name mc-storage-0-1.mc-storage-0.ns.svc.cluster.local".into()
            ))
        );
        let mut query = storage_leaf();
        query.role = Role::Query;
        assert!(matches!(
            verdict(&query, cert, key, now()),
            Verdict::Reissue(Reason::Lacks(_))
        ));
        assert_eq!(
            verdict(&leaf, cert, Some(&foreign.key_pem), now()),
            Verdict::Reissue(Reason::KeyMismatch)
        );
        assert_eq!(
            verdict(&leaf, None, key, now()),
            Verdict::Reissue(Reason::Missing)
        );
        assert_eq!(
            verdict(&leaf, Some("garbage"), key, now()),
            Verdict::Reissue(Reason::Unreadable)
        );
        // A client-only certificate does not serve as a server's.
        let client = ca.issue(&operator_leaf(), DAY, now()).unwrap();
        let mut as_server = operator_leaf();
        as_server.server = true;
        assert_eq!(
            ca.check(
                &as_server,
                Some(&client.cert_pem),
                Some(&client.key_pem),
                DAY / 3,
                now()
            ),
            Verdict::Reissue(Reason::Lacks("serverAuth".into()))
        );
    }

    #[test]
    fn certificates_end_with_their_ca_and_are_not_renewed_past_it() {
        let ca = CertificateAuthority::generate("mc", now()).unwrap();
        let late = ca.not_after() - 10 * DAY;
        let c = ca.issue(&storage_leaf(), 90 * DAY, late).unwrap();
        let (.., not_after) = parsed(&c.cert_pem);
        assert_eq!(
            not_after,
            ca.not_after().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
        );
        // Renewing would not make it live longer: kept (until the CA is replaced).
        assert_eq!(
            ca.check(
                &storage_leaf(),
                Some(&c.cert_pem),
                Some(&c.key_pem),
                30 * DAY,
                late
            ),
            Verdict::Keep
        );
    }

    #[test]
    fn a_ca_is_read_only_with_its_own_key() {
        let ca = CertificateAuthority::generate("mc", now()).unwrap();
        let other = CertificateAuthority::generate("mc", now()).unwrap();
        let err = CertificateAuthority::from_pem(ca.cert_pem(), other.key_pem()).unwrap_err();
        assert_eq!(err.to_string(), "ca.key: is not the key of ca.crt");
        let leaf = ca.issue(&storage_leaf(), DAY, now()).unwrap();
        let err = CertificateAuthority::from_pem(&leaf.cert_pem, &leaf.key_pem).unwrap_err();
        assert!(err.to_string().contains("not a CA"), "{err}");
        assert!(CertificateAuthority::from_pem("x", ca.key_pem()).is_err());
        let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
        let err = CertificateAuthority::from_pem(ca.cert_pem(), sec1).unwrap_err();
        assert!(err.to_string().contains("PKCS#8"), "{err}");
        assert!(CertificateAuthority::from_pem(ca.cert_pem(), "x").is_err());
    }

    #[test]
    fn the_operator_identity_is_a_client_of_role_operator_renewed_in_time() {
        let ca = CertificateAuthority::generate("mc", now()).unwrap();
        let id = operator_identity(&ca, 90 * DAY, now()).unwrap();
        assert_eq!(id.ca_pem, ca.cert_pem());
        assert_eq!(id.not_after, now() + 90 * DAY);
        let der = pem_to_der(&id.cert_pem).unwrap();
        let peer = telltale_storage_api::tls::PeerIdentity::from_der(&der).unwrap();
        assert_eq!(peer.role, Some(Role::Operator));
        assert_eq!(peer.name, OPERATOR_COMMON_NAME);
        let cert = parse(&der).unwrap();
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth && !eku.server_auth);
        assert_eq!(id.verdict(&ca, 30 * DAY, now()), Verdict::Keep);
        assert!(matches!(
            id.verdict(&ca, 30 * DAY, now() + 61 * DAY),
            Verdict::Reissue(Reason::Expiring { .. })
        ));
        let other = CertificateAuthority::generate("mc", now()).unwrap();
        assert_eq!(
            id.verdict(&other, 30 * DAY, now()),
            Verdict::Reissue(Reason::OtherCa)
        );
        assert!(!format!("{id:?}").contains("PRIVATE"));
    }
}
