//! The clients' side: every gRPC channel to a replica ([`crate::client::channel`])
//! connects over TLS, presenting a certificate of the cluster's CA and checking the
//! replica's against it, once an identity is installed in the process's [`ClientTls`].
//!
//! A component installs its one identity from its `--grpc.tls-*` files at start
//! ([`ClientTls::set`]); a client of several clusters (the operator) may hold one per
//! cluster, and each server gets the certificate of the CA it asks for.
//!
//! The server is verified as service meshes verify a workload, by identity rather than
//! by host name: its certificate must chain to a trusted CA, be valid now, and carry the
//! role URI of a replica (`urn:telltale:role:storage`). Replicas are dialled by pod IP
//! (the operator), by a shard map's names, or at loopback ports (dev clusters, tests);
//! the cluster's private CA and the role say who answers, whatever the address.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::client::ResolvesClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::server::ParsedCertificate;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::codegen::http::Uri;

use super::identity::{PeerIdentity, Role};
use super::material::{Parsed, Reloading, Source, TlsError};

/// How long a connection (TCP and the TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The identities gRPC clients present, by a key of the installer's choosing.
#[derive(Debug, Default)]
pub struct ClientTls {
    identities: RwLock<BTreeMap<String, Arc<Reloading<Parsed>>>>,
}

/// The process's client identities: empty (plain gRPC) until one is installed.
pub fn global() -> &'static Arc<ClientTls> {
    static GLOBAL: OnceLock<Arc<ClientTls>> = OnceLock::new();
    GLOBAL.get_or_init(Arc::default)
}

impl ClientTls {
    /// Installs (or replaces) the identity under `key`; fails when it cannot be used.
    pub fn set(&self, key: &str, source: Source) -> Result<(), TlsError> {
        let identity = Reloading::new(source, |id| id.parse())?;
        self.identities
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string(), Arc::new(identity));
        Ok(())
    }

    /// Forgets the identity under `key`.
    pub fn remove(&self, key: &str) {
        self.identities
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }

    /// True when connections use TLS.
    pub fn enabled(&self) -> bool {
        !self
            .identities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// The configuration for the next connection: every identity's CAs trusted, and the
    /// certificate of the CA the server asks for presented.
    pub fn config(&self) -> Option<Arc<ClientConfig>> {
        let current: Vec<Arc<Parsed>> = self
            .identities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|r| r.current())
            .collect();
        if current.is_empty() {
            return None;
        }
        let mut roots = RootCertStore::empty();
        for p in &current {
            roots.roots.extend(p.roots.roots.iter().cloned());
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(ReplicaVerifier {
            roots,
            algorithms: provider.signature_verification_algorithms,
        });
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .ok()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(ByIssuer(current)));
        config.alpn_protocols = vec![b"h2".to_vec()];
        Some(Arc::new(config))
    }

    /// Re-reads the identities' files at the next connection (tests of rotation).
    pub fn check_now(&self) {
        for r in self
            .identities
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            r.check_now();
        }
    }
}

/// Accepts a server certificate that chains to one of `roots`, is valid now and names
/// the storage role; the TLS signatures are checked as rustls's own verifier does.
#[derive(Debug)]
struct ReplicaVerifier {
    roots: RootCertStore,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for ReplicaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let cert = ParsedCertificate::try_from(end_entity)?;
        verify_server_cert_signed_by_trust_anchor(
            &cert,
            &self.roots,
            intermediates,
            now,
            self.algorithms.all,
        )?;
        match PeerIdentity::from_der(end_entity).and_then(|id| id.role) {
            Some(Role::Storage) => Ok(ServerCertVerified::assertion()),
            role => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
            .inspect_err(|_| {
                tracing::warn!(
                    ?role,
                    "refused a gRPC server whose certificate is not a replica's"
                );
            }),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Presents the certificate whose CA is among those the server accepts.
#[derive(Debug)]
struct ByIssuer(Vec<Arc<Parsed>>);

impl ResolvesClientCert for ByIssuer {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        _: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.0
            .iter()
            .find(|p| {
                p.roots
                    .subjects()
                    .iter()
                    .any(|s| root_hint_subjects.contains(&s.as_ref()))
            })
            .or(self.0.first())
            .map(|p| p.key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// A tonic connector: TCP (no Nagle), then TLS with the configuration of the moment.
#[derive(Clone, Debug)]
pub struct Connector(pub Arc<ClientTls>);

type Connecting = Pin<Box<dyn Future<Output = Result<TlsIo, std::io::Error>> + Send>>;
type TlsIo = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;

impl tonic::codegen::Service<Uri> for Connector {
    type Response = TlsIo;
    type Error = std::io::Error;
    type Future = Connecting;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Connecting {
        let tls = self.0.clone();
        Box::pin(async move {
            let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, m);
            let host = uri
                .host()
                .ok_or_else(|| invalid(format!("no host in {uri}")))?
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let port = uri.port_u16().unwrap_or(443);
            let config = tls
                .config()
                .ok_or_else(|| invalid("no gRPC TLS identity installed".into()))?;
            let name =
                ServerName::try_from(host.clone()).map_err(|e| invalid(format!("{host}: {e}")))?;
            let connect = async {
                let tcp = TcpStream::connect((host.as_str(), port)).await?;
                tcp.set_nodelay(true)?;
                TlsConnector::from(config).connect(name, tcp).await
            };
            let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect)
                .await
                .map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("TLS connection to {host}:{port} timed out"),
                    )
                })??;
            Ok(TokioIo::new(stream))
        })
    }
}
