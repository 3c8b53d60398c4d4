//! Telltale's built-in web UI: an expression browser with completion, graphs (uPlot) with
//! range, step and stacking, a table view, a live mode fed over a WebSocket, and pages
//! for scrape targets, alerts and silences, rules, and cluster status.
//!
//! ```text
//!  browser ── GET /, /graph, /targets, /alerts, /rules, /status ──> index.html (no-cache)
//!          ── GET /assets/main-HASH.{js,css} ──────────────────────> embedded (immutable)
//!          ── GET /api/v1/query_range, /labels, /targets, ... ────> the other routers
//!          ── WS  /api/v1/live?query=&step=&start= ──> LiveCursor (when is a point due)
//!                     <── {"type":"points",...} ──────── LiveSource::evaluate (Engine)
//! ```
//!
//! The front end lives in `web/` (plain ES modules, bundled by esbuild); `build.rs` runs
//! `npm ci` and `npm run build` at build time and embeds the result, so no Node.js is
//! needed at run time. The browser talks only to the Prometheus HTTP API and the live
//! socket; pages whose endpoint is missing say "not available".
//!
//! Key types: [`router`] with [`UiConfig`] and [`LiveOptions`]; [`LiveSource`] (implemented
//! for `Arc<telltale_query::Engine>`) and [`LiveSeries`]; [`LiveCursor`]; [`Error`].

/// The embedded front end and its cache policy.
pub mod assets;
/// The crate's error type.
pub mod error;
/// The live query source trait and its engine implementation.
pub mod live;
/// Which evaluation times a live connection is owed next (pure).
pub mod live_cursor;
/// The JSON messages of the live socket.
pub mod live_message;
/// The live-mode WebSocket handler and session.
pub mod live_socket;
/// Self-metrics (`telltale_ui_*`).
pub mod metrics;
/// The UI router and its configuration.
pub mod router;

pub use error::{Error, Result};
pub use live::{LiveSeries, LiveSource};
pub use live_cursor::{LiveCursor, Window};
pub use metrics::UiMetrics;
pub use router::{LiveOptions, PAGES, UiConfig, router};
