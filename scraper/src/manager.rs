//! [`ScrapeManager`]: owns one [`ScrapeLoop`] per target and reconciles them with the
//! desired `ScrapeTarget` resources.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use telltale_crds::ScrapeTarget;
use telltale_storage_api::SampleWriter;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info};

use crate::fetch::Fetcher;
use crate::health::ScrapeHealth;
use crate::metrics::Metrics;
use crate::reconcile::plan;
use crate::scrape_loop::ScrapeLoop;
use crate::target::{Target, TargetKey, targets_from_resources};

/// Runs the scrape loops. Create it with [`ScrapeManager::new`] and feed it resources
/// with [`ScrapeManager::apply`]; both `apply` and `shutdown` must be called from within
/// a Tokio runtime.
pub struct ScrapeManager {
    writer: Arc<dyn SampleWriter>,
    fetcher: Fetcher,
    metrics: Metrics,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    loops: HashMap<TargetKey, LoopEntry>,
    /// Loops told to stop that may still be writing their staleness markers.
    stopping: Vec<JoinHandle<()>>,
    shut_down: bool,
}

struct LoopEntry {
    target: Arc<Target>,
    control: watch::Sender<Option<Arc<Target>>>,
    health: Arc<Mutex<ScrapeHealth>>,
    task: JoinHandle<()>,
}

/// A target and the outcome of its last scrape.
#[derive(Clone, Debug)]
pub struct TargetState {
    pub target: Arc<Target>,
    pub health: ScrapeHealth,
}

impl ScrapeManager {
    /// A manager with no targets, writing every scrape through `writer` and registering
    /// its metrics on `registry`.
    pub fn new(writer: Arc<dyn SampleWriter>, registry: &prometheus::Registry) -> Arc<Self> {
        Arc::new(ScrapeManager {
            writer,
            fetcher: Fetcher::new(),
            metrics: Metrics::new(registry),
            state: Mutex::new(State::default()),
        })
    }

    /// The self-metrics (shared with the push receiver of [`crate::router`]).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Replaces the desired set of targets with those of `resources`: starts loops for new
    /// targets, stops those of removed ones (they write staleness markers on the way out)
    /// and updates the settings of changed ones in place.
    pub fn apply(self: &Arc<Self>, resources: &[ScrapeTarget]) {
        self.apply_targets(targets_from_resources(resources));
    }

    /// Like [`ScrapeManager::apply`], with targets already derived.
    pub fn apply_targets(self: &Arc<Self>, desired: Vec<Target>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            error!("ScrapeManager::apply called outside a Tokio runtime; targets not applied");
            return;
        };
        let mut state = self.lock();
        if state.shut_down {
            error!("ScrapeManager::apply called after shutdown; targets not applied");
            return;
        }
        let plan = plan(
            state.loops.iter().map(|(k, e)| (k, e.target.as_ref())),
            desired,
        );
        if plan.is_empty() {
            return;
        }
        info!(
            start = plan.start.len(),
            update = plan.update.len(),
            stop = plan.stop.len(),
            "reconciling scrape targets"
        );
        for key in plan.stop {
            if let Some(entry) = state.loops.remove(&key) {
                let _ = entry.control.send(None);
                state.stopping.push(entry.task);
            }
        }
        for target in plan.update {
            if let Some(entry) = state.loops.get_mut(&target.key()) {
                let target = Arc::new(target);
                entry.target = target.clone();
                let _ = entry.control.send(Some(target));
            }
        }
        for target in plan.start {
            let key = target.key();
            let target = Arc::new(target);
            let health = Arc::new(Mutex::new(ScrapeHealth::default()));
            let (control, rx) = watch::channel(Some(target.clone()));
            let scrape_loop = ScrapeLoop::new(
                self.writer.clone(),
                self.fetcher.clone(),
                self.metrics.clone(),
                health.clone(),
            );
            let task = runtime.spawn(scrape_loop.run(rx));
            state.loops.insert(
                key,
                LoopEntry {
                    target,
                    control,
                    health,
                    task,
                },
            );
        }
        state.stopping.retain(|t| !t.is_finished());
        self.metrics.scrape_targets.set(state.loops.len() as i64);
    }

    /// Stops every loop (each writes its staleness markers) and refuses further `apply`.
    pub fn shutdown(&self) {
        let mut state = self.lock();
        state.shut_down = true;
        let loops: Vec<LoopEntry> = state.loops.drain().map(|(_, e)| e).collect();
        for entry in loops {
            let _ = entry.control.send(None);
            state.stopping.push(entry.task);
        }
        self.metrics.scrape_targets.set(0);
    }

    /// Waits until every loop told to stop (by `apply` or `shutdown`) has finished,
    /// staleness markers written.
    pub async fn stopped(&self) {
        let tasks = std::mem::take(&mut self.lock().stopping);
        for task in tasks {
            if let Err(e) = task.await {
                error!(error = %e, "scrape loop ended abnormally");
            }
        }
    }

    /// Every running target with the outcome of its last scrape, by pool then URL.
    pub fn targets(&self) -> Vec<TargetState> {
        let state = self.lock();
        let mut out: Vec<TargetState> = state
            .loops
            .values()
            .map(|e| TargetState {
                target: e.target.clone(),
                health: e.health.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            })
            .collect();
        out.sort_by(|a, b| {
            (&a.target.pool, a.target.url.as_str(), &a.target.labels).cmp(&(
                &b.target.pool,
                b.target.url.as_str(),
                &b.target.labels,
            ))
        });
        out
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
