//! The rustls `ServerConfig` of a `tls_server_config` (exporter-toolkit's
//! `ConfigToTLSConfig`), from the bytes of its files.
//!
//! Client certificates per `client_auth_type`, as Go's `crypto/tls`:
//!
//! | type                         | asks | required | checked against the CAs          |
//! |------------------------------|------|----------|----------------------------------|
//! | `NoClientCert`               | no   | no       | -                                |
//! | `RequestClientCert`          | yes  | no       | no                               |
//! | `RequireAnyClientCert`       | yes  | yes      | no                               |
//! | `VerifyClientCertIfGiven`    | yes  | no       | yes, when one is given           |
//! | `RequireAndVerifyClientCert` | yes  | yes      | yes                              |
//!
//! The CAs are `client_ca_file`'s, or the system's (Debian's ca-certificates) when it is
//! not set, as Go uses the system pool then. `client_allowed_sans` then requires one of
//! the certificate's DNS, email, IP or URI names to equal one of the listed values.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms, ring};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

use crate::config::{ClientAuthType, Curve, TlsServerConfig, TlsVersion};
use crate::error::{Error, Result};

/// The contents of the files a `tls_server_config` names, with their resolved paths.
pub(crate) struct TlsFiles<'a> {
    pub cert: (&'a Path, &'a [u8]),
    pub key: (&'a Path, &'a [u8]),
    pub client_ca: Option<(&'a Path, &'a [u8])>,
}

/// Builds the server's TLS configuration; errors name the field of `file` they come from.
/// `http2` offers `h2` besides `http/1.1` in ALPN.
pub(crate) fn server_config(
    file: &Path,
    tls: &TlsServerConfig,
    files: &TlsFiles<'_>,
    http2: bool,
) -> Result<ServerConfig> {
    let err = |field: &str, message: String| {
        Error::field(file, format!("tls_server_config.{field}"), message)
    };
    let (cert_path, cert_pem) = files.cert;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| err("cert_file", format!("{}: {e}", cert_path.display())))?;
    if chain.is_empty() {
        return Err(err(
            "cert_file",
            format!("{}: no CERTIFICATE in the PEM data", cert_path.display()),
        ));
    }
    let (key_path, key_pem) = files.key;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
        err(
            "key_file",
            format!("{}: no private key: {e}", key_path.display()),
        )
    })?;

    let provider = Arc::new(provider(tls).map_err(|(f, m)| err(f, m))?);
    let versions = versions(tls, &provider).map_err(|(f, m)| err(f, m))?;
    let verifier = client_verifier(tls, files.client_ca, &provider).map_err(|(f, m)| err(f, m))?;

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| err("cipher_suites", e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => err(
                "key_file",
                format!(
                    "{} does not match the certificate of {}",
                    key_path.display(),
                    cert_path.display()
                ),
            ),
            e => err("key_file", format!("{}: {e}", key_path.display())),
        })?;
    config.ignore_client_order = tls.prefer_server_cipher_suites;
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

type FieldResult<T> = std::result::Result<T, (&'static str, String)>;

/// ring's provider narrowed to the configured cipher suites (TLS 1.2 ones in the listed
/// order; TLS 1.3 suites stay, as Go does not configure them) and curves.
fn provider(tls: &TlsServerConfig) -> FieldResult<CryptoProvider> {
    let mut provider = ring::default_provider();
    if !tls.cipher_suites.is_empty() {
        let all = std::mem::take(&mut provider.cipher_suites);
        let named = |s: &rustls::SupportedCipherSuite, go: &str| {
            let name = s.suite().as_str().unwrap_or_default();
            name == go || name.strip_prefix("TLS13_") == go.strip_prefix("TLS_")
        };
        provider.cipher_suites = all
            .iter()
            .filter(|s| s.tls13().is_some())
            .copied()
            .collect();
        for go in &tls.cipher_suites {
            if let Some(s) = all.iter().find(|s| s.tls13().is_none() && named(s, go.0)) {
                provider.cipher_suites.push(*s);
            }
        }
    }
    if !tls.curve_preferences.is_empty() {
        provider.kx_groups = tls
            .curve_preferences
            .iter()
            .map(|c| match c {
                Curve::X25519 => Ok(ring::kx_group::X25519),
                Curve::CurveP256 => Ok(ring::kx_group::SECP256R1),
                Curve::CurveP384 => Ok(ring::kx_group::SECP384R1),
                Curve::CurveP521 => Err((
                    "curve_preferences",
                    "CurveP521 is not supported by rustls".to_string(),
                )),
            })
            .collect::<FieldResult<_>>()?;
    }
    Ok(provider)
}

/// The protocol versions from `min_version` to `max_version` for which a cipher suite is
/// left (only TLS 1.3 suites listed: TLS 1.2 handshakes could not succeed, as in Go).
fn versions(
    tls: &TlsServerConfig,
    provider: &CryptoProvider,
) -> FieldResult<Vec<&'static rustls::SupportedProtocolVersion>> {
    let has_tls12 = provider.cipher_suites.iter().any(|s| s.tls13().is_none());
    let mut versions = Vec::new();
    if tls.min_version <= TlsVersion::Tls12 && tls.max_version >= TlsVersion::Tls12 && has_tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if tls.max_version >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    if versions.is_empty() {
        return Err((
            "cipher_suites",
            "no TLS 1.2 cipher suite is listed, and max_version excludes TLS 1.3".to_string(),
        ));
    }
    Ok(versions)
}

fn client_verifier(
    tls: &TlsServerConfig,
    client_ca: Option<(&Path, &[u8])>,
    provider: &Arc<CryptoProvider>,
) -> FieldResult<Arc<dyn ClientCertVerifier>> {
    let auth = tls.client_auth_type;
    let verifier: Arc<dyn ClientCertVerifier> = match auth {
        ClientAuthType::NoClientCert => return Ok(WebPkiClientVerifier::no_client_auth()),
        ClientAuthType::RequestClientCert | ClientAuthType::RequireAnyClientCert => {
            Arc::new(AnyClientCert {
                mandatory: auth.requires_cert(),
                algorithms: provider.signature_verification_algorithms,
            })
        }
        ClientAuthType::VerifyClientCertIfGiven | ClientAuthType::RequireAndVerifyClientCert => {
            let roots = Arc::new(client_roots(client_ca)?);
            let builder = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
            let builder = if auth.requires_cert() {
                builder
            } else {
                builder.allow_unauthenticated()
            };
            builder
                .build()
                .map_err(|e| ("client_ca_file", e.to_string()))?
        }
    };
    Ok(match &tls.client_allowed_sans {
        Some(allowed) => Arc::new(AllowedSans {
            inner: verifier,
            allowed: allowed.clone(),
        }),
        None => verifier,
    })
}

/// The CAs client certificates are checked against: `client_ca_file`'s certificates, or
/// the system's when it is not set.
fn client_roots(client_ca: Option<(&Path, &[u8])>) -> FieldResult<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match client_ca {
        Some((path, pem)) => {
            let certs = CertificateDer::pem_slice_iter(pem).filter_map(|c| c.ok());
            roots.add_parsable_certificates(certs);
            if roots.is_empty() {
                return Err((
                    "client_ca_file",
                    format!("{}: no CA certificate in the PEM data", path.display()),
                ));
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if roots.is_empty() {
                return Err((
                    "client_ca_file",
                    "not set, and the system has no CA certificates to verify clients with"
                        .to_string(),
                ));
            }
        }
    }
    Ok(roots)
}

/// `RequestClientCert` and `RequireAnyClientCert`: any certificate is taken (its
/// handshake signature is still checked), as Go does not verify it for these types.
#[derive(Debug)]
struct AnyClientCert {
    mandatory: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for AnyClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `client_allowed_sans`: the inner verifier's decision, then one of the certificate's
/// subject alternative names must be listed.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientCertVerifier for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let names = subject_alt_names(end_entity).map_err(|e| {
            rustls::Error::General(format!("error parsing client certificate: {e}"))
        })?;
        if names.iter().any(|n| self.allowed.contains(n)) {
            return Ok(verified);
        }
        Err(rustls::Error::General(format!(
            "could not find allowed SANs in client cert, found: {names:?}, allowed: {:?}",
            self.allowed
        )))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A certificate's DNS names, emails, IP addresses and URIs, as Go lists them for
/// `client_allowed_sans` (IPs in Go's text form: an IPv4-mapped address as IPv4).
fn subject_alt_names(der: &[u8]) -> std::result::Result<Vec<String>, String> {
    use x509_parser::extensions::GeneralName;
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let mut names = Vec::new();
    let Some(san) = cert.subject_alternative_name().map_err(|e| e.to_string())? else {
        return Ok(names);
    };
    for name in &san.value.general_names {
        match name {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                names.push(s.to_string())
            }
            GeneralName::IPAddress(bytes) => {
                if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                    names.push(std::net::Ipv4Addr::from(v4).to_string());
                } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                    let ip = std::net::Ipv6Addr::from(v6);
                    names.push(match ip.to_ipv4_mapped() {
                        Some(v4) => v4.to_string(),
                        None => ip.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_certificate_bytes_are_safe(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = subject_alt_names(&bytes);
        }
    }
}
