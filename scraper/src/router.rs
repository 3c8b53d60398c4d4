//! [`router`]: the scraper's HTTP API — `POST /api/v1/write` and `GET /api/v1/targets`.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use telltale_storage_api::SampleWriter;

use crate::manager::ScrapeManager;
use crate::remote_write::handler::{self, PushState};
use crate::targets_api;

/// Settings of the push receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushOptions {
    /// Largest accepted (compressed) request body; larger ones get 413. The decompressed
    /// message may be at most [`handler::DECODED_BODY_FACTOR`] times this.
    pub max_body_bytes: usize,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            max_body_bytes: 32 * 1024 * 1024,
        }
    }
}

/// The routes `/api/v1/write` (remote_write v1 into `writer`) and `/api/v1/targets`
/// (the manager's targets). Push metrics go to the manager's registry.
pub fn router(
    manager: Arc<ScrapeManager>,
    writer: Arc<dyn SampleWriter>,
    opts: PushOptions,
) -> Router {
    let push = Arc::new(PushState {
        writer,
        metrics: manager.metrics().clone(),
        max_body_bytes: opts.max_body_bytes,
    });
    let write = Router::new()
        .route("/api/v1/write", post(handler::write))
        .layer(DefaultBodyLimit::max(opts.max_body_bytes))
        .with_state(push);
    let targets = Router::new()
        .route("/api/v1/targets", get(targets_api::targets))
        .with_state(manager);
    write.merge(targets)
}
