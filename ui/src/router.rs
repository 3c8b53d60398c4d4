//! [`router`] and its [`UiConfig`]: the pages, the embedded assets and the live socket.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::assets;
use crate::error::Result;
use crate::live::LiveSource;
use crate::live_socket::{self, LiveState};
use crate::metrics::UiMetrics;

/// The client-side routes; each answers with the single page.
pub const PAGES: &[&str] = &["/", "/graph", "/targets", "/alerts", "/rules", "/status"];

/// Limits of live mode.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// Smallest step a live graph may ask for.
    pub min_step: Duration,
    /// How long after a point's time it is evaluated (lets late samples arrive).
    pub delay: Duration,
    /// Most points per series in one push (after a stall, older ones are skipped).
    pub max_points_per_push: i64,
    /// Most series in one push (the rest dropped, with a warning).
    pub max_series: usize,
    /// Most open live connections; more get 503.
    pub max_connections: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            min_step: Duration::from_secs(1),
            delay: Duration::from_millis(500),
            max_points_per_push: 1_000,
            max_series: 1_000,
            max_connections: 256,
        }
    }
}

/// What the UI router needs: the live query source, its metrics and limits.
#[derive(Clone)]
pub struct UiConfig {
    live: Arc<dyn LiveSource>,
    metrics: UiMetrics,
    live_options: LiveOptions,
}

impl UiConfig {
    /// A config evaluating live queries with `live` (e.g. an `Arc<telltale_query::Engine>`),
    /// registering the UI's metrics in `registry`.
    pub fn new<L: LiveSource>(live: L, registry: &prometheus::Registry) -> Result<Self> {
        Ok(UiConfig {
            live: Arc::new(live),
            metrics: UiMetrics::new(registry)?,
            live_options: LiveOptions::default(),
        })
    }

    /// Replaces the live-mode limits.
    pub fn with_live_options(mut self, opts: LiveOptions) -> Self {
        self.live_options = opts;
        self
    }
}

/// The UI: [`PAGES`] (the single-page app), `/assets/*` (content-hashed, immutable) and
/// the live WebSocket `/api/v1/live`. Merge it with the query API's router.
pub fn router(cfg: UiConfig) -> Router {
    let metrics = cfg.metrics.clone();
    let live = Arc::new(LiveState {
        source: cfg.live,
        opts: cfg.live_options,
        metrics: cfg.metrics,
        open: AtomicUsize::new(0),
    });
    let mut pages = Router::new();
    for p in PAGES {
        pages = pages.route(p, get(page));
    }
    let files = pages
        .route("/assets/{*path}", get(asset))
        .with_state(metrics);
    let socket = Router::new()
        .route("/api/v1/live", get(live_socket::handler))
        .with_state(live);
    files.merge(socket)
}

async fn page(State(metrics): State<UiMetrics>, headers: HeaderMap) -> Response {
    let r = assets::respond(assets::index(), &headers);
    metrics.request("page", r.status().as_u16());
    r
}

async fn asset(
    State(metrics): State<UiMetrics>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Response {
    let r = match assets::get(&format!("assets/{path}")) {
        Some(a) => assets::respond(a, &headers),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    };
    metrics.request("asset", r.status().as_u16());
    r
}
