//! [`router`]: the scraper's HTTP API — the push receivers (`POST /api/v1/write`,
//! `/write`, `/api/v2/write`, `/v1/metrics`) and `GET /api/v1/targets`.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use telltale_storage_api::SampleWriter;

use crate::pull::manager::ScrapeManager;
use crate::pull::{metadata_api, targets_api};
use crate::push::{PushState, auth, concurrency, influx, otlp, remote_write};

/// Settings of the push receivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushOptions {
    /// When set, every push request must carry `Authorization: Bearer <token>` (or
    /// `Token <token>`, as InfluxDB clients send it); others get 401.
    pub bearer_token: Option<String>,
    /// Largest accepted (compressed) request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// How much larger than `max_body_bytes` a decompressed body may be.
    pub decoded_body_factor: usize,
    /// Requests handled at once; more get 429 with `Retry-After` (0: no cap).
    pub max_concurrent_requests: usize,
    /// Label limits of every pushed series (its `label_limit`,
    /// `label_name_length_limit`, `label_value_length_limit`; 0: none): a series over one
    /// is rejected, the rest of the request stored.
    pub label_limits: crate::pull::limits::Limits,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            bearer_token: None,
            max_body_bytes: 32 * 1024 * 1024,
            decoded_body_factor: 10,
            max_concurrent_requests: 0,
            label_limits: Default::default(),
        }
    }
}

/// The push routes (into `writer`), `/api/v1/targets` and `/api/v1/metadata` (the
/// manager's targets and what their last scrapes said about each metric). Push
/// metrics go to the manager's registry.
pub fn router(
    manager: Arc<ScrapeManager>,
    writer: Arc<dyn SampleWriter>,
    opts: PushOptions,
) -> Router {
    let targets = Router::new()
        .route("/api/v1/targets", get(targets_api::targets))
        .route("/api/v1/metadata", get(metadata_api::metadata))
        .route(
            "/api/v1/targets/metadata",
            get(metadata_api::target_metadata),
        )
        .with_state(manager.clone());
    push_router(&manager, writer, opts).merge(targets)
}

/// Only the push routes: remote_write (v1, 2.0), InfluxDB line protocol (1.x and 2.x paths) and
/// OTLP/HTTP metrics, behind the bearer token and the body limit of `opts`.
pub fn push_router(
    manager: &ScrapeManager,
    writer: Arc<dyn SampleWriter>,
    opts: PushOptions,
) -> Router {
    let token = opts.bearer_token.clone().filter(|t| !t.is_empty());
    let limit = opts.max_body_bytes;
    let in_flight = opts.max_concurrent_requests;
    let state = Arc::new(PushState {
        writer,
        metrics: manager.metrics().clone(),
        options: opts,
        otlp_totals: Arc::default(),
    });
    let mut push = Router::new()
        .route("/api/v1/write", post(remote_write::handler::write))
        .route("/write", post(influx::handler::write_v1))
        .route("/api/v2/write", post(influx::handler::write_v2))
        .route("/v1/metrics", post(otlp::handler::metrics))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state.clone());
    if in_flight > 0 {
        push = push.layer(middleware::from_fn_with_state(
            Arc::new(concurrency::InFlight {
                permits: Arc::new(tokio::sync::Semaphore::new(in_flight)),
                limit: in_flight,
                state,
            }),
            concurrency::limit,
        ));
    }
    match token {
        Some(token) => push.layer(middleware::from_fn_with_state(
            Arc::<str>::from(token),
            auth::require_token,
        )),
        None => push,
    }
}
