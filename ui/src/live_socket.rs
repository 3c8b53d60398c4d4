//! `GET /api/v1/live?query=EXPR&step=15s&start=1700000000` — the live-mode WebSocket.
//!
//! The request is checked before the upgrade (a bad query or step gets a 400 with a
//! Prometheus error body; too many connections a 503). Once upgraded, the session sleeps
//! until the next point of its [`LiveCursor`] is due, evaluates the window through the
//! [`LiveSource`], pushes the points, and repeats until the browser goes away.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use telltale_model::now_ms;
use telltale_query::api::params::{parse_duration, parse_time};

use crate::error::{Error, Result};
use crate::live::LiveSource;
use crate::live_cursor::LiveCursor;
use crate::live_message;
use crate::metrics::UiMetrics;
use crate::router::LiveOptions;

/// The raw query parameters.
#[derive(Debug, Default, Deserialize)]
pub struct LiveParams {
    pub query: Option<String>,
    pub step: Option<String>,
    pub start: Option<String>,
}

/// A validated live request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRequest {
    pub expr: String,
    pub step_ms: i64,
    /// The last point the browser has; the first push starts one step later.
    pub start_ms: i64,
}

impl LiveRequest {
    /// Validates `params` (pure but for `source.check`): a query, a step of at least
    /// `opts.min_step` (default 15s), a start (default and at most `now_ms`; a start long
    /// past is caught up with at most `opts.max_points_per_push` points).
    pub fn parse(
        params: &LiveParams,
        source: &dyn LiveSource,
        opts: &LiveOptions,
        now_ms: i64,
    ) -> Result<Self> {
        let expr = params.query.as_deref().unwrap_or("").trim().to_string();
        if expr.is_empty() {
            return Err(Error::BadParam {
                name: "query",
                reason: "missing".into(),
            });
        }
        source.check(&expr)?;
        let bad = |name, e: telltale_query::Error| Error::BadParam {
            name,
            reason: e.to_string(),
        };
        let step_ms = match params.step.as_deref() {
            None | Some("") => 15_000,
            Some(s) => parse_duration("step", s).map_err(|e| bad("step", e))?,
        };
        let min_ms = opts.min_step.as_millis() as i64;
        if step_ms < min_ms {
            return Err(Error::BadParam {
                name: "step",
                reason: format!("must be at least {}ms", min_ms.max(1)),
            });
        }
        // A start ahead of this server's clock (a browser clock running fast) would hold
        // every push back until the server catches up: start from now instead.
        let start_ms = match params.start.as_deref() {
            None | Some("") => now_ms,
            Some(s) => parse_time("start", s)
                .map_err(|e| bad("start", e))?
                .min(now_ms),
        };
        Ok(LiveRequest {
            expr,
            step_ms,
            start_ms,
        })
    }
}

/// Shared by every live connection of one router.
pub struct LiveState {
    pub source: Arc<dyn LiveSource>,
    pub opts: LiveOptions,
    pub metrics: UiMetrics,
    pub open: AtomicUsize,
}

/// The handler: validate, then upgrade.
pub async fn handler(
    State(state): State<Arc<LiveState>>,
    Query(params): Query<LiveParams>,
    ws: WebSocketUpgrade,
) -> Response {
    let req = match LiveRequest::parse(&params, state.source.as_ref(), &state.opts, now_ms()) {
        Ok(r) => r,
        Err(e) => return refuse(&state, e),
    };
    let limit = state.opts.max_connections;
    if state.open.fetch_add(1, Ordering::SeqCst) >= limit {
        state.open.fetch_sub(1, Ordering::SeqCst);
        return refuse(&state, Error::TooManyConnections { limit });
    }
    state.metrics.request("live", 101);
    let guard = Open(state.clone());
    ws.on_upgrade(move |socket| async move {
        let _guard = guard;
        session(socket, &state, req).await;
    })
}

fn refuse(state: &LiveState, e: Error) -> Response {
    let status = e.status();
    state.metrics.request("live", status.as_u16());
    tracing::debug!(error = %e, "live request refused");
    let body = serde_json::json!({
        "status": "error", "errorType": e.error_type(), "error": e.to_string(),
    });
    (status, axum::Json(body)).into_response()
}

/// Counts one open connection for as long as it lives.
struct Open(Arc<LiveState>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0
            .metrics
            .live_connections
            .set(self.0.open.load(Ordering::SeqCst) as i64);
    }
}

async fn session(mut socket: WebSocket, state: &LiveState, req: LiveRequest) {
    state
        .metrics
        .live_connections
        .set(state.open.load(Ordering::SeqCst) as i64);
    let opts = &state.opts;
    let mut cursor = LiveCursor::new(
        req.start_ms,
        req.step_ms,
        opts.delay.as_millis() as i64,
        opts.max_points_per_push,
    );
    tracing::debug!(expr = %req.expr, step_ms = req.step_ms, "live session opened");
    loop {
        let wait = (cursor.next_due_ms() - now_ms()).max(0) as u64;
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(wait)) => {
                let Some(window) = cursor.due(now_ms()) else { continue };
                let started = Instant::now();
                let result = state
                    .source
                    .evaluate(&req.expr, window.start_ms, window.end_ms, req.step_ms)
                    .await;
                state.metrics.live_duration.observe(started.elapsed().as_secs_f64());
                let msg = match result {
                    Ok(series) => {
                        state.metrics.live_evaluations.with_label_values(&["ok"]).inc();
                        let n: usize = series.iter().take(opts.max_series).map(|s| s.points.len()).sum();
                        state.metrics.live_points.inc_by(n as u64);
                        live_message::points(&series, window.end_ms, opts.max_series)
                    }
                    Err(e) => {
                        state.metrics.live_evaluations.with_label_values(&[e.metric_label()]).inc();
                        tracing::debug!(error = %e, expr = %req.expr, "live evaluation failed");
                        live_message::error(&e)
                    }
                };
                // Failed windows are not retried: the next push moves on with the grid.
                cursor.advance(window.end_ms);
                if socket.send(Message::Text(msg.into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    tracing::debug!(expr = %req.expr, "live session closed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveSeries;
    use axum::http::StatusCode;

    struct Checker;

    #[async_trait::async_trait]
    impl LiveSource for Checker {
        fn check(&self, expr: &str) -> Result<()> {
            Ok(telltale_query::check_expr(expr)?)
        }
        async fn evaluate(&self, _: &str, _: i64, _: i64, _: i64) -> Result<Vec<LiveSeries>> {
            Ok(Vec::new())
        }
    }

    fn params(query: Option<&str>, step: Option<&str>, start: Option<&str>) -> LiveParams {
        LiveParams {
            query: query.map(str::to_string),
            step: step.map(str::to_string),
            start: start.map(str::to_string),
        }
    }

    fn parse(p: LiveParams) -> Result<LiveRequest> {
        LiveRequest::parse(&p, &Checker, &LiveOptions::default(), 1_700_000_000_000)
    }

    #[test]
    fn steps_and_starts_in_prometheus_formats() {
        let r = parse(params(Some(" up "), Some("2.5"), Some("1699999999.5"))).unwrap();
        assert_eq!(
            r,
            LiveRequest {
                expr: "up".into(),
                step_ms: 2_500,
                start_ms: 1_699_999_999_500
            }
        );
        let r = parse(params(Some("up"), Some("1m"), None)).unwrap();
        assert_eq!((r.step_ms, r.start_ms), (60_000, 1_700_000_000_000));
        assert_eq!(
            parse(params(Some("up"), None, None)).unwrap().step_ms,
            15_000
        );
        let ahead = parse(params(Some("up"), Some("1"), Some("1700000060"))).unwrap();
        assert_eq!(ahead.start_ms, 1_700_000_000_000);
    }

    #[test]
    fn bad_requests_name_the_parameter() {
        let e = parse(params(None, Some("1"), None)).unwrap_err();
        assert!(matches!(e, Error::BadParam { name: "query", .. }), "{e}");
        let e = parse(params(Some("sum("), Some("1"), None)).unwrap_err();
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.error_type(), "bad_data");
        let e = parse(params(Some("up"), Some("0.1"), None)).unwrap_err();
        assert!(matches!(e, Error::BadParam { name: "step", .. }), "{e}");
        let e = parse(params(Some("up"), Some("abc"), None)).unwrap_err();
        assert!(matches!(e, Error::BadParam { name: "step", .. }), "{e}");
        let e = parse(params(Some("up"), Some("1"), Some("yesterday"))).unwrap_err();
        assert!(matches!(e, Error::BadParam { name: "start", .. }), "{e}");
    }
}
