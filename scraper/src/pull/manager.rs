//! [`ScrapeManager`]: owns one [`ScrapeLoop`] per owned target and reconciles them with
//! the desired `ScrapeTarget` resources, their `fileSd` files and `httpSd` URLs and
//! (optionally) the live scraper set of a [`Membership`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use telltale_crds::ScrapeTarget;
use telltale_storage_api::SampleWriter;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use crate::discovery::file_sd::FileSdCache;
use crate::discovery::http_sd::{self, HttpSdCache};
use crate::discovery::membership::{Membership, owner};
use crate::discovery::{Discovery, DroppedTarget, discover_from};
use crate::metrics::Metrics;
use crate::pull::fetch::Fetcher;
use crate::pull::health::ScrapeHealth;
use crate::pull::reconcile::plan;
use crate::pull::scrape_loop::{LoopCommand, ScrapeLoop};
use crate::pull::target::{Target, TargetKey};

/// Runs the scrape loops. Create it with [`ScrapeManager::new`] (scrape every target) or
/// [`ScrapeManager::with_membership`] (scrape the targets this replica owns) and feed it
/// resources with [`ScrapeManager::apply`]; `apply`, `apply_targets` and `shutdown` must
/// be called from within a Tokio runtime.
pub struct ScrapeManager {
    writer: Arc<dyn SampleWriter>,
    fetcher: Fetcher,
    metrics: Metrics,
    membership: Option<Membership>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The resources of the last `apply` (re-derived when their files change).
    resources: Vec<ScrapeTarget>,
    files: FileSdCache,
    /// The last good groups of every `httpSd` URL.
    http: HttpSdCache,
    /// Targets discovered elsewhere, wanted beside the resources' own
    /// ([`ScrapeManager::follow_alongside`]).
    alongside: Discovery,
    /// Every target wanted, owned by this replica or not.
    desired: Vec<Target>,
    dropped: Vec<DroppedTarget>,
    loops: HashMap<TargetKey, LoopEntry>,
    /// Loops told to stop that may still be writing their staleness markers.
    stopping: Vec<JoinHandle<()>>,
    file_sd_task: Option<JoinHandle<()>>,
    /// One task per `httpSd` URL, fetching it every refresh interval.
    http_sd_tasks: Vec<JoinHandle<()>>,
    membership_task: Option<JoinHandle<()>>,
    shut_down: bool,
}

struct LoopEntry {
    target: Arc<Target>,
    control: watch::Sender<LoopCommand>,
    health: Arc<Mutex<ScrapeHealth>>,
    task: JoinHandle<()>,
}

/// A target and the outcome of its last scrape.
#[derive(Clone, Debug)]
pub struct TargetState {
    pub target: Arc<Target>,
    pub health: ScrapeHealth,
    /// The replica scraping it (this one), when the manager has a membership.
    pub scraper: Option<String>,
}

impl ScrapeManager {
    /// A manager with no targets that scrapes every target it is given, writing every
    /// scrape through `writer` and registering its metrics on `registry`.
    pub fn new(writer: Arc<dyn SampleWriter>, registry: &prometheus::Registry) -> Arc<Self> {
        Self::build(writer, registry, None)
    }

    /// A manager that scrapes only the targets `membership` assigns to this replica
    /// (rendezvous hashing of [`Target::identity_hash`] over the live members), and
    /// re-assigns them whenever the member set changes.
    pub fn with_membership(
        writer: Arc<dyn SampleWriter>,
        registry: &prometheus::Registry,
        membership: Membership,
    ) -> Arc<Self> {
        Self::build(writer, registry, Some(membership))
    }

    fn build(
        writer: Arc<dyn SampleWriter>,
        registry: &prometheus::Registry,
        membership: Option<Membership>,
    ) -> Arc<Self> {
        Arc::new(ScrapeManager {
            writer,
            fetcher: Fetcher::new(),
            metrics: Metrics::new(registry),
            membership,
            state: Mutex::new(State::default()),
        })
    }

    /// Reads the targets' Secret and ConfigMap references through `client`'s API (again
    /// every `refresh`: [`crate::pull::clients::REFRESH`]) and refuses their files, but the
    /// pod's service-account files (cluster mode; see [`crate::pull::clients`]). Without it,
    /// secrets come from files.
    pub fn use_kubernetes_secrets(&self, client: kube::Client, refresh: Duration) {
        self.fetcher.clients().set_mode(
            crate::pull::clients::SecretsMode::Kubernetes(client),
            refresh,
        );
    }

    /// The self-metrics (shared with the push receiver of [`crate::router`]).
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// This replica's name, when it has a membership.
    pub fn scraper_name(&self) -> Option<&str> {
        self.membership.as_ref().map(|m| m.self_name.as_str())
    }

    /// Replaces the desired set of targets with those of `resources` (their static
    /// endpoints and the groups of their `fileSd` files, relabeled): starts loops for new
    /// targets, stops those of removed ones (they write staleness markers on the way out)
    /// and updates the settings of changed ones in place. Files are checked for changes
    /// every `refreshInterval` (by default the resource's scrape interval).
    pub fn apply(self: &Arc<Self>, resources: &[ScrapeTarget]) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            error!("ScrapeManager::apply called outside a Tokio runtime; targets not applied");
            return;
        };
        let mut state = self.lock();
        if state.shut_down {
            error!("ScrapeManager::apply called after shutdown; targets not applied");
            return;
        }
        state.resources = resources.to_vec();
        let patterns = file_patterns(resources);
        state.files.refresh(patterns.iter().map(String::as_str));
        let urls = http_sd_urls(resources);
        state.http.retain(&urls.keys().cloned().collect());
        self.rediscover(&mut state);
        if let Some(task) = state.file_sd_task.take() {
            task.abort();
        }
        if let Some(period) = file_sd_period(resources) {
            state.file_sd_task = Some(runtime.spawn(refresh_files(Arc::downgrade(self), period)));
        }
        for task in state.http_sd_tasks.drain(..) {
            task.abort();
        }
        for (url, period) in urls {
            let task = refresh_http(
                Arc::downgrade(self),
                self.fetcher.client().clone(),
                url,
                period,
            );
            state.http_sd_tasks.push(runtime.spawn(task));
        }
        self.reconcile(&mut state, &runtime);
    }

    /// Like [`ScrapeManager::apply`], with targets already derived (no dropped targets,
    /// no files).
    pub fn apply_targets(self: &Arc<Self>, desired: Vec<Target>) {
        self.update(|_, state| {
            state.desired = desired;
            state.dropped.clear();
        });
    }

    /// Like [`ScrapeManager::apply_targets`], with the dropped targets of a discovery
    /// made elsewhere (such as [`crate::discovery::k8s::kubernetes_discovery`]).
    pub fn apply_discovery(self: &Arc<Self>, discovery: Discovery) {
        self.update(|_, state| {
            state.desired = discovery.active;
            state.dropped = discovery.dropped;
        });
    }

    /// Scrapes the targets of `discovery` beside those of the last [`ScrapeManager::apply`]
    /// (replacing the previous ones given here; an empty one removes them).
    pub fn set_alongside(self: &Arc<Self>, discovery: Discovery) {
        self.update(|me, state| {
            state.alongside = discovery;
            me.rediscover(state);
        });
    }

    /// Applies every new value of `targets` until the sender goes away or the manager
    /// shuts down (the current value counts once it is marked changed).
    pub async fn follow(self: Arc<Self>, targets: watch::Receiver<Discovery>) {
        self.follow_with(targets, Self::apply_discovery).await
    }

    /// [`ScrapeManager::set_alongside`] with every new value of `targets` (a Kubernetes
    /// discovery of standalone's prometheus.yml jobs), as [`ScrapeManager::follow`].
    pub async fn follow_alongside(self: Arc<Self>, targets: watch::Receiver<Discovery>) {
        self.follow_with(targets, Self::set_alongside).await
    }

    async fn follow_with(
        self: Arc<Self>,
        mut targets: watch::Receiver<Discovery>,
        apply: fn(&Arc<Self>, Discovery),
    ) {
        while targets.changed().await.is_ok() {
            let discovery = targets.borrow_and_update().clone();
            if self.lock().shut_down {
                return;
            }
            apply(&self, discovery);
        }
    }

    /// Changes the state with `change`, then reconciles the loops with it; nothing
    /// happens outside a Tokio runtime or after shutdown.
    fn update(self: &Arc<Self>, change: impl FnOnce(&Self, &mut State)) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            error!("ScrapeManager called outside a Tokio runtime; targets not applied");
            return;
        };
        let mut state = self.lock();
        if state.shut_down {
            error!("ScrapeManager called after shutdown; targets not applied");
            return;
        }
        change(self, &mut state);
        self.reconcile(&mut state, &runtime);
    }

    /// Starts, updates and stops loops so that exactly the owned desired targets run.
    fn reconcile(self: &Arc<Self>, state: &mut State, runtime: &tokio::runtime::Handle) {
        if let Some(m) = &self.membership
            && state.membership_task.is_none()
        {
            state.membership_task =
                Some(runtime.spawn(follow_membership(Arc::downgrade(self), m.members.clone())));
        }
        let members = self.membership.as_ref().map(|m| m.members.borrow().clone());
        let owned: Vec<Target> = state
            .desired
            .iter()
            .filter(|t| match (&self.membership, &members) {
                (Some(m), Some(set)) => owner(set, t.identity_hash()) == Some(m.self_name.as_str()),
                _ => true,
            })
            .cloned()
            .collect();
        self.metrics
            .scrape_targets_discovered
            .set(state.desired.len() as i64);
        if let (Some(m), Some(set)) = (&self.membership, &members) {
            self.metrics.scraper_members.set(set.len() as i64);
            if !set.contains(&m.self_name) {
                warn!(
                    scraper = %m.self_name,
                    members = ?set,
                    "this scraper is not in the live member set: it scrapes nothing"
                );
            }
        }
        let plan = plan(
            state.loops.iter().map(|(k, e)| (k, e.target.as_ref())),
            owned,
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
        let still_wanted: HashSet<TargetKey> = if plan.stop.is_empty() {
            HashSet::new()
        } else {
            state.desired.iter().map(Target::key).collect()
        };
        for key in plan.stop {
            if let Some(entry) = state.loops.remove(&key) {
                // A target still wanted but no longer ours is handed to another replica,
                // which goes on writing its series: no staleness markers.
                let command = if still_wanted.contains(&key) {
                    LoopCommand::Handoff
                } else {
                    LoopCommand::Stop
                };
                let _ = entry.control.send(command);
                state.stopping.push(entry.task);
            }
        }
        for target in plan.update {
            if let Some(entry) = state.loops.get_mut(&target.key()) {
                let target = Arc::new(target);
                entry.target = target.clone();
                let _ = entry.control.send(LoopCommand::Run(target));
            }
        }
        for target in plan.start {
            let key = target.key();
            let target = Arc::new(target);
            let health = Arc::new(Mutex::new(ScrapeHealth::default()));
            let (control, rx) = watch::channel(LoopCommand::Run(target.clone()));
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

    /// Re-reads changed `fileSd` files and reconciles when their targets changed.
    fn refresh_file_sd(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        let mut state = self.lock();
        if state.shut_down {
            return;
        }
        let patterns = file_patterns(&state.resources);
        if !state.files.refresh(patterns.iter().map(String::as_str)) {
            return;
        }
        self.rediscover(&mut state);
        self.reconcile(&mut state, runtime);
    }

    /// Records a fetch of an `httpSd` URL and reconciles when its targets changed.
    fn refresh_http_sd(
        self: &Arc<Self>,
        url: &str,
        fetched: crate::Result<Vec<crate::discovery::file_sd::TargetGroup>>,
        runtime: &tokio::runtime::Handle,
    ) {
        let mut state = self.lock();
        if state.shut_down || !state.http.update(url, fetched) {
            return;
        }
        self.rediscover(&mut state);
        self.reconcile(&mut state, runtime);
    }

    /// The desired and dropped targets of the resources, files and URLs as last read.
    fn rediscover(&self, state: &mut State) {
        let discovery = discover_from(&state.resources, &state.files, &state.http);
        state.desired = discovery.active;
        state.dropped = discovery.dropped;
        state.desired.extend(state.alongside.active.iter().cloned());
        state
            .dropped
            .extend(state.alongside.dropped.iter().cloned());
    }

    /// Stops every loop (each writes its staleness markers) and refuses further `apply`.
    pub fn shutdown(&self) {
        let mut state = self.lock();
        state.shut_down = true;
        for task in [state.file_sd_task.take(), state.membership_task.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        for task in state.http_sd_tasks.drain(..) {
            task.abort();
        }
        let loops: Vec<LoopEntry> = state.loops.drain().map(|(_, e)| e).collect();
        for entry in loops {
            let _ = entry.control.send(LoopCommand::Stop);
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
        let scraper = self.scraper_name().map(str::to_string);
        let mut out: Vec<TargetState> = state
            .loops
            .values()
            .map(|e| TargetState {
                target: e.target.clone(),
                health: e.health.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                scraper: scraper.clone(),
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

    /// The endpoints target relabeling dropped, in discovery order.
    pub fn dropped_targets(&self) -> Vec<DroppedTarget> {
        self.lock().dropped.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every `fileSd` file pattern of `resources`.
fn file_patterns(resources: &[ScrapeTarget]) -> Vec<String> {
    resources
        .iter()
        .flat_map(|r| r.spec.file_sd.iter())
        .flat_map(|sd| sd.files.iter().cloned())
        .collect()
}

/// How often files are checked: the shortest refresh interval (a resource's scrape
/// interval unless set); `None` without files.
fn file_sd_period(resources: &[ScrapeTarget]) -> Option<Duration> {
    resources
        .iter()
        .flat_map(|r| {
            r.spec
                .file_sd
                .iter()
                .map(|sd| sd.refresh_interval.unwrap_or(r.spec.interval).0)
        })
        .filter(|d| !d.is_zero())
        .min()
}

/// Every `httpSd` URL of `resources` with its shortest refresh interval.
fn http_sd_urls(resources: &[ScrapeTarget]) -> BTreeMap<String, Duration> {
    let mut out: BTreeMap<String, Duration> = BTreeMap::new();
    for sd in resources.iter().flat_map(|r| r.spec.http_sd.iter()) {
        let period = sd.refresh().0.max(Duration::from_millis(100));
        out.entry(sd.url.clone())
            .and_modify(|p| *p = (*p).min(period))
            .or_insert(period);
    }
    out
}

/// Fetches `url` now and every `period`; each answer (or failure) goes to the manager.
async fn refresh_http(
    manager: Weak<ScrapeManager>,
    client: reqwest::Client,
    url: String,
    period: Duration,
) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let fetched = http_sd::fetch(&client, &url, period, period).await;
        let Some(manager) = manager.upgrade() else {
            return;
        };
        manager.refresh_http_sd(&url, fetched, &tokio::runtime::Handle::current());
    }
}

async fn refresh_files(manager: Weak<ScrapeManager>, period: Duration) {
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(manager) = manager.upgrade() else {
            return;
        };
        manager.refresh_file_sd(&tokio::runtime::Handle::current());
    }
}

async fn follow_membership(
    manager: Weak<ScrapeManager>,
    mut members: watch::Receiver<Vec<String>>,
) {
    while members.changed().await.is_ok() {
        let Some(manager) = manager.upgrade() else {
            return;
        };
        debug!(members = ?*members.borrow(), "scraper membership changed");
        let mut state = manager.lock();
        if state.shut_down {
            return;
        }
        manager.reconcile(&mut state, &tokio::runtime::Handle::current());
    }
}
