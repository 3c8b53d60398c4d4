//! [`CardinalityWriter`]: a [`SampleWriter`] that passes batches through a
//! [`SeriesTracker`] — refusing new series over the limits, counting series churn — and
//! writes the rest downstream. When series were refused it still writes the others and
//! then fails the write with an invalid-request error saying how many were refused and
//! why (a scrape shows it as its last error; a push client gets 400 and does not retry).

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::routing::get;
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use telltale_model::now_ms;
use telltale_storage_api::{SampleWriter, SharedSample, TimeSeries};
use tracing::{debug, warn};

use super::status::{TsdbStatus, tsdb, tsdb_status};
use super::tracker::{Admission, BatchSeries, CardinalityLimits, SeriesTracker};

/// See the module documentation.
pub struct CardinalityWriter {
    downstream: Arc<dyn SampleWriter>,
    tracker: Mutex<TrackerState>,
    metrics: CardinalityMetrics,
}

struct TrackerState {
    tracker: SeriesTracker,
    last_expiry_ms: i64,
}

#[derive(Clone)]
struct CardinalityMetrics {
    created: IntCounter,
    removed: IntCounter,
    rejected: IntCounterVec,
    active: IntGauge,
}

impl CardinalityWriter {
    /// Wraps `downstream` with `limits`, registering `telltale_scraper_series_created_total`,
    /// `telltale_scraper_series_removed_total`, `telltale_scraper_series_rejected_total{limit}`
    /// and `telltale_scraper_active_series` on `registry`.
    pub fn new(
        downstream: Arc<dyn SampleWriter>,
        limits: CardinalityLimits,
        registry: &Registry,
    ) -> Arc<Self> {
        let metrics = CardinalityMetrics {
            created: IntCounter::new(
                "telltale_scraper_series_created_total",
                "Series written for the first time (or again after they expired).",
            )
            .expect("valid metric definition"),
            removed: IntCounter::new(
                "telltale_scraper_series_removed_total",
                "Series ended by a staleness marker or not written for the series TTL.",
            )
            .expect("valid metric definition"),
            rejected: IntCounterVec::new(
                Opts::new(
                    "telltale_scraper_series_rejected_total",
                    "New series refused by a cardinality limit, by limit.",
                ),
                &["limit"],
            )
            .expect("valid metric definition"),
            active: IntGauge::new(
                "telltale_scraper_active_series",
                "Series written within the series TTL.",
            )
            .expect("valid metric definition"),
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 4] = [
            Box::new(metrics.created.clone()),
            Box::new(metrics.removed.clone()),
            Box::new(metrics.rejected.clone()),
            Box::new(metrics.active.clone()),
        ];
        for c in collectors {
            if let Err(e) = registry.register(c) {
                warn!(error = %e, "cannot register cardinality metric");
            }
        }
        Arc::new(CardinalityWriter {
            downstream,
            tracker: Mutex::new(TrackerState {
                tracker: SeriesTracker::new(limits),
                last_expiry_ms: 0,
            }),
            metrics,
        })
    }

    /// Cardinality statistics of the series written recently, top `limit` per list.
    pub fn status(&self, limit: usize) -> TsdbStatus {
        let mut state = self.lock();
        let removed = state.tracker.expire(now_ms());
        self.metrics.removed.inc_by(removed);
        self.metrics.active.set(state.tracker.len() as i64);
        tsdb_status(state.tracker.iter(), limit)
    }

    /// `GET /api/v1/status/tsdb` over this writer's series.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/api/v1/status/tsdb", get(tsdb))
            .with_state(self.clone())
    }

    fn lock(&self) -> MutexGuard<'_, TrackerState> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl CardinalityWriter {
    /// Admits `batch` ([`SeriesTracker::admit`]) and updates the metrics.
    fn admit<T: BatchSeries>(&self, batch: &[T]) -> Admission {
        let now = now_ms();
        let admission = {
            let mut state = self.lock();
            let interval = state.tracker.limits().interval.as_millis() as i64;
            if now - state.last_expiry_ms >= interval {
                state.last_expiry_ms = now;
                let expired = state.tracker.expire(now);
                self.metrics.removed.inc_by(expired);
            }
            let a = state.tracker.admit(batch, now);
            self.metrics.active.set(state.tracker.len() as i64);
            a
        };
        self.metrics.created.inc_by(admission.created);
        self.metrics.removed.inc_by(admission.removed);
        if !admission.refused.is_empty() {
            self.metrics
                .rejected
                .with_label_values(&["global"])
                .inc_by(admission.rejected_global);
            self.metrics
                .rejected
                .with_label_values(&["per_target"])
                .inc_by(admission.rejected_per_target);
        }
        admission
    }
}

/// The answer to a write of which `written` samples were written: the refusals of
/// `admission`, if there were any, fail it.
fn answer(admission: Admission, written: u64) -> telltale_storage_api::Result<u64> {
    let refused = admission.refused.len();
    if refused == 0 {
        return Ok(written);
    }
    let reason = admission.first_rejection.unwrap_or_default();
    debug!(refused, %reason, "new series refused by a cardinality limit");
    Err(telltale_storage_api::Error::InvalidRequest(format!(
        "{refused} new series ({} samples) refused, {written} samples written: {reason}",
        admission.rejected_samples
    )))
}

#[async_trait::async_trait]
impl SampleWriter for CardinalityWriter {
    async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        let admission = self.admit(&series);
        let admitted = if admission.refused.is_empty() {
            series
        } else {
            admission.admitted(&series)
        };
        let written = if admitted.is_empty() {
            0
        } else {
            self.downstream.write(admitted).await?
        };
        answer(admission, written)
    }

    async fn write_counted(
        &self,
        series: Vec<TimeSeries>,
    ) -> telltale_storage_api::Result<telltale_storage_api::Written> {
        let admission = self.admit(&series);
        let admitted = if admission.refused.is_empty() {
            series
        } else {
            admission.admitted(&series)
        };
        let written = if admitted.is_empty() {
            telltale_storage_api::Written::default()
        } else {
            self.downstream.write_counted(admitted).await?
        };
        let samples = answer(admission, written.samples)?;
        Ok(telltale_storage_api::Written {
            samples,
            exemplars: written.exemplars,
            histograms: written.histograms,
        })
    }

    async fn write_shared(&self, samples: &[SharedSample]) -> telltale_storage_api::Result<u64> {
        let admission = self.admit(samples);
        let without_refused;
        let admitted = if admission.refused.is_empty() {
            samples
        } else {
            without_refused = admission.admitted(samples);
            &without_refused
        };
        let written = if admitted.is_empty() {
            0
        } else {
            self.downstream.write_shared(admitted).await?
        };
        answer(admission, written)
    }
}
