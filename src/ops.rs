//! What every component serves about itself (`/-/healthy`, `/-/ready`, `/metrics`), how it
//! logs, and how it serves HTTP until asked to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub fn init_tracing(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The readiness of one process: false until its component says it is ready.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    pub fn set_ready(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct OpsState {
    registry: Registry,
    readiness: Readiness,
}

/// `/-/healthy` (also `/healthz`), `/-/ready` (also `/ready`), `/metrics` (the
/// registry, plus process metrics), `/api/v1/status/flags` and `.../runtimeinfo`.
pub fn router(registry: &Registry, readiness: Readiness) -> Router {
    let state = OpsState {
        registry: registry.clone(),
        readiness,
    };
    Router::new()
        .route("/-/healthy", get(|| async { "Telltale is Healthy.\n" }))
        .route("/-/ready", get(ready))
        // The paths the operator's probes use (Kubernetes convention).
        .route("/healthz", get(|| async { "Telltale is Healthy.\n" }))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(crate::process_info::router())
}

/// Serves the health routes alone (`/-/healthy`, `/-/ready`, `/healthz`, `/ready`) on
/// the loopback `--probe.listen-address`, if one is given, until `shutdown`.
pub async fn spawn_probes(
    web: &crate::cli::WebArgs,
    readiness: &Readiness,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let Some(addr) = web.probe_listen else {
        return Ok(());
    };
    let listener = bind(addr, "probe HTTP").await?;
    let state = OpsState {
        registry: Registry::new(),
        readiness: readiness.clone(),
    };
    let app = Router::new()
        .route("/-/healthy", get(|| async { "Telltale is Healthy.\n" }))
        .route("/-/ready", get(ready))
        .route("/healthz", get(|| async { "Telltale is Healthy.\n" }))
        .route("/ready", get(ready))
        .with_state(state);
    tracing::info!(%addr, "probe listener (health only, loopback)");
    tokio::spawn(async move {
        if let Err(e) = serve_http(listener, app, None, shutdown).await {
            tracing::warn!(error = %e, "the probe listener stopped");
        }
    });
    Ok(())
}

/// `telltale probe URL`: 0 on a 2xx answer; otherwise the status or error on stderr, 1.
pub async fn probe(args: crate::cli::ProbeArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(args.timeout.as_duration())
        .no_proxy()
        .build()?;
    match client.get(&args.url).send().await {
        Ok(r) if r.status().is_success() => Ok(()),
        Ok(r) => {
            eprintln!("{}: HTTP {}", args.url, r.status());
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("{}: {e}", args.url);
            std::process::exit(1);
        }
    }
}

async fn ready(State(s): State<OpsState>) -> impl IntoResponse {
    if s.readiness.is_ready() {
        (StatusCode::OK, "Telltale is Ready.\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable\n")
    }
}

async fn metrics(State(s): State<OpsState>) -> impl IntoResponse {
    let encoder = TextEncoder::new();
    let mut buf = Vec::new();
    if let Err(e) = encoder.encode(&s.registry.gather(), &mut buf) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    (
        [(header::CONTENT_TYPE, encoder.format_type().to_string())],
        buf,
    )
        .into_response()
}

/// A registry with the process collector (CPU, memory, fds) and build info registered.
pub fn new_registry(component: &str) -> anyhow::Result<Registry> {
    let registry = Registry::new();
    registry.register(Box::new(crate::process_metrics::ProcessCollector::new()?))?;
    let info = prometheus::IntGaugeVec::new(
        prometheus::Opts::new("telltale_build_info", "Build information; always 1."),
        &["version", "component"],
    )?;
    info.with_label_values(&[env!("CARGO_PKG_VERSION"), component])
        .set(1);
    registry.register(Box::new(info))?;
    Ok(registry)
}

/// Binds `addr`, naming it in the error; a port another program holds says so, and how
/// to choose another.
pub async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    match TcpListener::bind(addr).await {
        Ok(l) => Ok(l),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => Err(anyhow::anyhow!(
            "cannot listen on {addr} ({what}): another program is listening on port {}{}; \
             choose another address with {}",
            addr.port(),
            if addr.port() == 9090 {
                " (Debian's `prometheus` service listens on 9090)"
            } else {
                ""
            },
            if what.contains("gRPC") {
                "--grpc-listen (or TELLTALE_GRPC_LISTEN)"
            } else {
                "--listen (or TELLTALE_LISTEN)"
            }
        )),
        Err(e) => Err(e).with_context(|| format!("cannot listen on {addr} ({what})")),
    }
}

/// A shutdown signal shared by every task of the process.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Fires on SIGINT or SIGTERM.
    pub fn on_signals() -> Self {
        let (tx, rx) = watch::channel(false);
        tokio::spawn(async move {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("installing the SIGTERM handler");
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
            tracing::info!("shutting down");
            let _ = tx.send(true);
        });
        Shutdown(rx)
    }

    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}

/// Serves `app` on `listener` until `shutdown` fires: plain HTTP, or with `web` (the
/// `--web.config.file`) TLS, client certificates, basic auth and headers, re-read when the
/// file changes.
pub async fn serve_http(
    listener: TcpListener,
    app: Router,
    web: Option<telltale_web::WebConfigFile>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    telltale_web::serve(listener, app, web, shutdown.wait())
        .await
        .context("HTTP server failed")
}
