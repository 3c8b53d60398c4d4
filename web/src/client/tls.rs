//! The rustls `ClientConfig` of [`TlsSettings`]: the system roots (rustls-native-certs:
//! Debian's ca-certificates in the image) plus the configured CA, the client certificate,
//! `server_name` as the name verified, `insecure_skip_verify`, the lowest version.

use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::settings::{Material, TlsSettings, TlsVersion};
use crate::error::{Error, Result};

/// The certificate and key bytes of one build, read from their files or values.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct TlsMaterial {
    pub ca: Option<Vec<u8>>,
    pub cert: Option<Vec<u8>>,
    pub key: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsMaterial {
    /// Never the bytes (a key is among them).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsMaterial(<redacted>)")
    }
}

impl TlsMaterial {
    /// Reads every file (or value) `tls` names now.
    pub fn read(tls: &TlsSettings) -> Result<TlsMaterial> {
        let read = |m: &Option<Material>| m.as_ref().map(Material::read).transpose();
        Ok(TlsMaterial {
            ca: read(&tls.ca)?,
            cert: read(&tls.cert)?,
            key: read(&tls.key)?,
        })
    }
}

/// The system's CA certificates, loaded once per process.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        for e in &loaded.errors {
            tracing::warn!(error = %e, "cannot load some system CA certificates");
        }
        loaded.certs
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn field_error(m: &Option<Material>, message: String) -> Error {
    Error::Client {
        field: m.as_ref().map_or_else(String::new, |m| m.field.clone()),
        message,
    }
}

/// The client configuration of `tls` with `material` (read by [`TlsMaterial::read`]);
/// `http2` offers `h2` by ALPN.
pub(crate) fn client_config(
    tls: &TlsSettings,
    material: &TlsMaterial,
    http2: bool,
) -> Result<ClientConfig> {
    let provider = provider();
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.min_version {
        Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
        _ => rustls::ALL_VERSIONS,
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| field_error(&None, format!("TLS versions: {e}")))?;
    let verifier: Arc<dyn ServerCertVerifier> = if tls.insecure_skip_verify {
        Arc::new(FixedVerdict {
            algorithms: provider.signature_verification_algorithms,
            refusal: None,
        })
    } else {
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(system_roots().iter().cloned());
        if let Some(pem) = &material.ca {
            let before = roots.len();
            let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| field_error(&tls.ca, format!("{}: {e}", origin(&tls.ca))))?;
            roots.add_parsable_certificates(certs);
            if roots.len() == before {
                return Err(field_error(
                    &tls.ca,
                    format!("{}: no CA certificate in the PEM data", origin(&tls.ca)),
                ));
            }
        }
        if roots.is_empty() {
            // Plain HTTP still works; a TLS handshake fails with this reason.
            return finish(
                tls,
                material,
                http2,
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(FixedVerdict {
                        algorithms: provider.signature_verification_algorithms,
                        refusal: Some(
                            "no CA certificates to verify the server with: the system has none (install ca-certificates) and no CA is configured",
                        ),
                    })),
            );
        }
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| field_error(&tls.ca, format!("no CA to verify servers with: {e}")))?;
        match &tls.server_name {
            Some(name) => {
                let name = ServerName::try_from(name.clone()).map_err(|e| Error::Client {
                    field: "server_name".into(),
                    message: format!("{name:?}: {e}"),
                })?;
                Arc::new(VerifyAs {
                    inner: webpki,
                    name,
                })
            }
            None => webpki,
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    finish(tls, material, http2, builder)
}

/// The client certificate and ALPN on top of the verifier.
fn finish(
    tls: &TlsSettings,
    material: &TlsMaterial,
    http2: bool,
    builder: rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>,
) -> Result<ClientConfig> {
    let mut config = match (&material.cert, &material.key) {
        (Some(cert), Some(key)) => {
            let chain: Vec<_> = CertificateDer::pem_slice_iter(cert)
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| field_error(&tls.cert, format!("{}: {e}", origin(&tls.cert))))?;
            if chain.is_empty() {
                return Err(field_error(
                    &tls.cert,
                    format!("{}: no certificate in the PEM data", origin(&tls.cert)),
                ));
            }
            let key = PrivateKeyDer::from_pem_slice(key)
                .map_err(|e| field_error(&tls.key, format!("{}: {e}", origin(&tls.key))))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| field_error(&tls.key, format!("client certificate and key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err(field_error(
                if tls.cert.is_some() {
                    &tls.key
                } else {
                    &tls.cert
                },
                "client cert and client key must both be set".into(),
            ));
        }
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

fn origin(m: &Option<Material>) -> String {
    m.as_ref().map_or_else(String::new, Material::origin)
}

/// Verifies the server's certificate for `name` (the configured `server_name`) instead of
/// the URL's host, as Go's `tls.Config.ServerName` does.
#[derive(Debug)]
struct VerifyAs {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for VerifyAs {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A verdict on every certificate that needs no chain: `insecure_skip_verify` accepts
/// any (`refusal` None), no CA at all (the system has none, none configured) refuses
/// each with that reason. The handshake's signature is still checked either way.
#[derive(Debug)]
struct FixedVerdict {
    algorithms: WebPkiSupportedAlgorithms,
    refusal: Option<&'static str>,
}

impl ServerCertVerifier for FixedVerdict {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.refusal {
            None => Ok(ServerCertVerified::assertion()),
            Some(reason) => Err(rustls::Error::General(reason.into())),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_material_names_its_field() {
        let tls = TlsSettings {
            ca: Some(Material::value("spec.tlsConfig.ca", "not pem")),
            ..TlsSettings::default()
        };
        let m = TlsMaterial::read(&tls).unwrap();
        let e = client_config(&tls, &m, true).unwrap_err().to_string();
        assert!(
            e.starts_with("spec.tlsConfig.ca: the value: no CA certificate"),
            "{e}"
        );
        let tls = TlsSettings {
            cert: Some(Material::value("tls_config.cert_file", "x")),
            ..TlsSettings::default()
        };
        let m = TlsMaterial::read(&tls).unwrap();
        let e = client_config(&tls, &m, true).unwrap_err().to_string();
        assert!(e.contains("must both be set"), "{e}");
    }

    #[test]
    fn versions_and_alpn() {
        let tls = TlsSettings {
            min_version: Some(TlsVersion::Tls13),
            insecure_skip_verify: true,
            ..TlsSettings::default()
        };
        let c = client_config(&tls, &TlsMaterial::default(), false).unwrap();
        assert_eq!(c.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
