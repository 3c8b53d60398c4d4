//! [`ScrapeLoop`]: scrapes one target every interval and writes each scrape as one batch.
//!
//! The loop is driven by a `watch` channel of [`LoopCommand`]s: a new `Run(target)`
//! updates its settings in place (keeping its staleness state); `Stop` or a dropped sender
//! stops it after it has written staleness markers for everything the target last
//! exposed; `Handoff` stops it without them, because another replica takes the target
//! over and goes on writing the same series.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use telltale_model::{now_ms, system_time_ms};
use telltale_storage_api::SampleWriter;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

use crate::metrics::Metrics;
use crate::pull::fetch::Fetcher;
use crate::pull::health::{Health, ScrapeHealth};
use crate::pull::scrape_batch::BatchBuilder;
use crate::pull::target::{Target, first_scrape_delay};
use crate::pull::text::Metadata;

/// What a loop is told to do.
#[derive(Clone, Debug)]
pub enum LoopCommand {
    /// Scrape this target (new settings take effect at once).
    Run(Arc<Target>),
    /// The target went away: stop, writing staleness markers.
    Stop,
    /// Another replica owns the target now: stop without staleness markers.
    Handoff,
}

/// The commands a loop follows.
pub type Control = watch::Receiver<LoopCommand>;

/// The scrape loop of one target.
pub struct ScrapeLoop {
    writer: Arc<dyn SampleWriter>,
    fetcher: Fetcher,
    metrics: Metrics,
    health: Arc<Mutex<ScrapeHealth>>,
    builder: BatchBuilder,
}

impl ScrapeLoop {
    pub fn new(
        writer: Arc<dyn SampleWriter>,
        fetcher: Fetcher,
        metrics: Metrics,
        health: Arc<Mutex<ScrapeHealth>>,
    ) -> Self {
        ScrapeLoop {
            writer,
            fetcher,
            metrics,
            health,
            builder: BatchBuilder::default(),
        }
    }

    /// Runs until told to stop; then writes the end-of-run staleness markers.
    pub async fn run(mut self, mut control: Control) {
        let LoopCommand::Run(mut target) = control.borrow_and_update().clone() else {
            return;
        };
        'settings: loop {
            let delay = first_scrape_delay(target.stable_hash(), target.interval, now_ms());
            let start = tokio::time::Instant::now() + delay;
            let mut ticker = tokio::time::interval_at(start, target.interval);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = ticker.tick() => self.scrape_once(&target).await,
                    changed = control.changed() => {
                        let next = match changed {
                            Ok(()) => control.borrow_and_update().clone(),
                            Err(_) => LoopCommand::Stop,
                        };
                        match next {
                            LoopCommand::Run(t) => {
                                debug!(url = %t.url, "scrape settings updated");
                                target = t;
                                self.builder.settings_changed();
                                continue 'settings;
                            }
                            LoopCommand::Stop => break 'settings,
                            LoopCommand::Handoff => {
                                debug!(url = %target.url, "scrape loop handed off");
                                return;
                            }
                        }
                    }
                }
            }
        }
        let batch = self.builder.end_of_run(&target.labels, now_ms());
        if !batch.series.is_empty()
            && let Err(e) = self.writer.write_shared(&batch.series).await
        {
            warn!(url = %target.url, error = %e, "cannot write staleness markers of a stopped target");
        }
        debug!(url = %target.url, "scrape loop stopped");
    }

    /// One scrape: fetch, parse, build the batch, write it, record the outcome.
    pub async fn scrape_once(&mut self, target: &Target) {
        let started = SystemTime::now();
        let clock = Instant::now();
        let page = match &target.forced_error {
            Some(reason) => Err(reason.clone()),
            None => self.fetcher.fetch(target).await.map_err(|e| e.to_string()),
        };
        let mut decoded = page.and_then(|page| {
            page.decode(target.url.as_str(), target.formats.classic_histograms)
                .map_err(|e| e.to_string())
        });
        let result = match &mut decoded {
            Ok(decoded) => decoded.exposition().map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        };
        let duration = clock.elapsed();
        let mut metadata = None;
        let (exposition, mut scrape_error) = match result {
            Ok(mut exposition) => {
                let m = std::mem::take(&mut exposition.metadata);
                metadata = Some(Arc::<[Metadata]>::from(m));
                (Some(exposition), None)
            }
            Err(e) => {
                debug!(url = %target.url, error = %e, "scrape failed");
                (None, Some(e))
            }
        };
        let parsed = exposition.is_some();
        let batch = self.builder.scrape_exposition(
            &target.sample_rules(),
            exposition,
            system_time_ms(started),
            duration,
        );
        if parsed {
            self.metrics
                .scraped_samples_total
                .inc_by(batch.scraped as u64);
        }
        let limit_error = batch.error.is_some() || target.forced_error.is_some();
        if let Some(e) = batch.error {
            debug!(url = %target.url, error = %e, "scrape broke a limit");
            scrape_error = Some(e);
        }
        let mut write_error = match self.writer.write_shared(&batch.series).await {
            Ok(_) => None,
            Err(e) => {
                warn!(url = %target.url, error = %e, "cannot write scraped samples");
                Some(format!("storage write failed: {e}"))
            }
        };
        // Native histograms (protobuf scrapes) in a write of their own, after the
        // samples (the shared-sample path carries floats only).
        if write_error.is_none()
            && !batch.histograms.is_empty()
            && let Err(e) = self.writer.write(batch.histograms).await
        {
            warn!(url = %target.url, error = %e, "cannot write scraped native histograms");
            write_error = Some(format!("storage write failed: {e}"));
        }
        // Exemplars after their samples, in a write of their own, only when there are
        // any: a failure loses them, never the samples or the target's health.
        if write_error.is_none()
            && !batch.exemplars.is_empty()
            && let Err(e) = self.writer.write(batch.exemplars).await
        {
            debug!(url = %target.url, error = %e, "cannot write the scrape's exemplars");
        }
        let result = match (&scrape_error, &write_error) {
            (Some(_), _) if limit_error => "limit_error",
            (Some(_), _) => "scrape_error",
            (None, Some(_)) => "write_error",
            (None, None) => "success",
        };
        self.metrics
            .scrapes_total
            .with_label_values(&[result])
            .inc();
        let now_healthy = if scrape_error.is_none() {
            Health::Up
        } else {
            Health::Down
        };
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        if health.health != now_healthy {
            match &scrape_error {
                None => info!(url = %target.url, "target is up"),
                Some(e) => warn!(url = %target.url, error = %e, "target is down"),
            }
        }
        let metadata = metadata.unwrap_or_else(|| health.metadata.clone());
        *health = ScrapeHealth {
            health: now_healthy,
            last_scrape: Some(started),
            last_duration: duration,
            last_error: scrape_error.or(write_error),
            metadata,
        };
    }
}
