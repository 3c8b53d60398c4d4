//! The replicas' side: a TLS listener for tonic that requires a client certificate of
//! the CA and tells each request who its peer is ([`PeerInfo`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tonic::transport::server::Connected;

use super::identity::{PeerIdentity, PeerInfo};
use super::material::{Identity, Reloading, Source, TlsError};

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's TLS: its certificate and the CA its clients' certificates must chain
/// to, re-read when the files change (new connections use the new ones).
#[derive(Debug)]
pub struct ServerTls {
    config: Reloading<ServerConfig>,
}

impl ServerTls {
    pub fn new(source: Source) -> Result<Self, TlsError> {
        Ok(ServerTls {
            config: Reloading::new(source, server_config)?,
        })
    }

    /// The configuration for the next connection.
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.current()
    }

    /// Re-reads the files at the next connection (tests of rotation).
    pub fn check_now(&self) {
        self.config.check_now();
    }
}

fn server_config(identity: &Identity) -> Result<ServerConfig, TlsError> {
    let parsed = identity.parse()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(parsed.roots), provider.clone())
            .build()
            .map_err(|e| TlsError {
                what: "the CA".into(),
                message: e.to_string(),
            })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError {
            what: "TLS versions".into(),
            message: e.to_string(),
        })?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(OneCert(parsed.key)));
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

#[derive(Debug)]
struct OneCert(Arc<CertifiedKey>);

impl ResolvesServerCert for OneCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// One accepted, handshaken connection.
pub struct TlsConn {
    stream: tokio_rustls::server::TlsStream<TcpStream>,
    info: PeerInfo,
}

impl Connected for TlsConn {
    type ConnectInfo = PeerInfo;

    fn connect_info(&self) -> PeerInfo {
        self.info.clone()
    }
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The connections of `listener` that complete a handshake with a certificate of the
/// CA, for `tonic::transport::Server::serve_with_incoming_shutdown`. Handshakes run
/// concurrently (a slow client holds up no one); refused ones are logged. Accepting stops
/// when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    tls: Arc<ServerTls>,
) -> impl Stream<Item = Result<TlsConn, std::io::Error>> + Send + 'static {
    let (tx, rx) = mpsc::channel::<TlsConn>(64);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = tx.closed() => break,
            };
            let (tcp, remote) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: try again shortly.
                    tracing::warn!(error = %e, "gRPC accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            // No Nagle: a response's header and data frames go out at once.
            let _ = tcp.set_nodelay(true);
            let acceptor = TlsAcceptor::from(tls.config());
            let tx = tx.clone();
            tokio::spawn(async move {
                let stream =
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => s,
                        Ok(Err(e)) => {
                            tracing::warn!(%remote, error = %e, "gRPC TLS handshake refused");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%remote, "gRPC TLS handshake timed out");
                            return;
                        }
                    };
                let identity = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| PeerIdentity::from_der(c))
                    .unwrap_or(PeerIdentity {
                        name: String::new(),
                        role: None,
                    });
                let info = PeerInfo {
                    remote: Some(remote),
                    identity,
                };
                let _ = tx.send(TlsConn { stream, info }).await;
            });
        }
    });
    futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|c| (Ok(c), rx)) },
    )
}
