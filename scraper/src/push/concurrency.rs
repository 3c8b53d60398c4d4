//! A cap on push requests in flight: beyond it a request is answered 429 Too Many
//! Requests with `Retry-After`, at once and before its body is read, so a burst of
//! senders cannot hold the receiver's memory (remote_write senders retry a 429 after
//! the time given).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::PushState;

/// Seconds a refused sender is told to wait.
pub const RETRY_AFTER_SECS: u64 = 1;

/// The in-flight requests' permits and what a refusal is counted under.
pub struct InFlight {
    pub permits: Arc<Semaphore>,
    pub limit: usize,
    pub state: Arc<PushState>,
}

/// The protocol of a push path, as the handlers count their requests.
fn protocol(path: &str) -> &'static str {
    match path {
        "/api/v1/write" => super::remote_write::handler::PROTOCOL,
        "/v1/metrics" => super::otlp::handler::PROTOCOL,
        _ => super::influx::handler::PROTOCOL,
    }
}

/// Runs the request with a permit, or refuses it with 429 when none is left.
pub async fn limit(State(f): State<Arc<InFlight>>, req: Request, next: Next) -> Response {
    let Ok(permit) = f.permits.clone().try_acquire_owned() else {
        f.state.record(
            protocol(req.uri().path()),
            StatusCode::TOO_MANY_REQUESTS,
            None,
        );
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, RETRY_AFTER_SECS.to_string())],
            format!(
                "too many concurrent push requests (limit {}); retry after {RETRY_AFTER_SECS}s",
                f.limit
            ),
        )
            .into_response();
    };
    let response = next.run(req).await;
    drop(permit);
    response
}
