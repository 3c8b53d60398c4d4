//! [`serve`]: an axum `Router` on a listener, in plain HTTP or TLS per the web
//! configuration, with basic auth and headers on every route, until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::auth;
use crate::error::{Error, Result};
use crate::load::WebConfigFile;
use crate::reload::Watcher;

/// How long a client may take for its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests in
/// flight finish.
///
/// Without a web configuration, or with one that has no `tls_server_config`, this is
/// plain HTTP; otherwise TLS (HTTP/1.1, and HTTP/2 through ALPN unless `http2: false`).
/// With a configuration, every route (the fallback too) gets its basic auth and headers,
/// and changes of its files apply to new connections and requests (see [`Watcher`]).
/// A failed TLS handshake is logged at debug level and the server goes on.
pub async fn serve<F>(
    listener: TcpListener,
    app: Router,
    web: Option<WebConfigFile>,
    shutdown: F,
) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let address = listener.local_addr().ok();
    let Some(web) = web else {
        tracing::info!(?address, http2 = false, "TLS is disabled");
        return serve_plain(listener, app, shutdown).await;
    };
    let tls = web.tls_enabled();
    let http2 = web.http2();
    let watcher = Arc::new(Watcher::new(web));
    let app = auth::apply(app, watcher.clone());
    if tls {
        tracing::info!(?address, http2, "TLS is enabled");
        serve_tls(listener, app, watcher, shutdown).await
    } else {
        tracing::info!(?address, http2 = false, "TLS is disabled");
        serve_plain(listener, app, shutdown).await
    }
}

fn no_delay(tcp: &TcpStream) {
    // No Nagle: a response's last segment goes out at once instead of waiting up to a
    // delayed ACK (40 ms) for the one before it.
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot set TCP_NODELAY");
    }
}

async fn serve_plain<F>(listener: TcpListener, app: Router, shutdown: F) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let listener = listener.tap_io(|tcp| no_delay(tcp));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(Error::Serve)
}

async fn serve_tls<F>(
    listener: TcpListener,
    app: Router,
    watcher: Arc<Watcher>,
    shutdown: F,
) -> Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // As axum::serve: out of file descriptors or the like; wait and go on.
                    tracing::error!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        no_delay(&tcp);
        // The TLS settings in force for this connection (reloaded if the files changed).
        let Some(config) = watcher.current().server_config().cloned() else {
            continue;
        };
        let app = app.clone();
        let watch = graceful.watcher();
        tokio::spawn(async move {
            serve_tls_connection(tcp, peer, TlsAcceptor::from(config), app, watch).await
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

async fn serve_tls_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    watch: hyper_util::server::graceful::Watcher,
) {
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
    let builder = auto::Builder::new(TokioExecutor::new());
    // The protocol ALPN chose, as Go's server (no HTTP/2 without ALPN over TLS).
    let builder = if h2 {
        builder.http2_only()
    } else {
        builder.http1_only()
    };
    let connection =
        builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(app));
    if let Err(e) = watch.watch(connection.into_owned()).await {
        tracing::debug!(%peer, error = %e, "HTTPS connection ended with an error");
    }
}
