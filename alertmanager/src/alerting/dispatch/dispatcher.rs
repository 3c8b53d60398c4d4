//! [`Dispatcher`]: runs the [`Aggregator`] on a timer task, mutes silenced and inhibited
//! alerts, delivers to every integration of the receiver, keeps the notification log
//! and the silences, and persists both.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use telltale_crds::AlertingSpec;
use telltale_model::now_ms;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::alerting::dispatch::aggregator::{Aggregator, FlushJob};
use crate::alerting::dispatch::dedup::{NotificationLog, Plan};
use crate::alerting::inhibit::{Inhibitor, SourceIndex};
use crate::alerting::notify::retry::{RetryPolicy, deliver};
use crate::alerting::notify::template::NotifyTemplates;
use crate::alerting::notify::{IntegrationContext, Notification, Notifier, NotifyAlert, notifiers};
use crate::alerting::route::RouteTree;
use crate::alerting::secrets::SecretResolver;
use crate::alerting::silence::{Silence, SilenceLimits, Silences};
use crate::error::Result;
use crate::labels::LabelSet;
use crate::metrics::Metrics;
use crate::persistence::store::{NFLOG_DOC, SILENCES_DOC, StateStore, load_json, save_json};

/// How long a resolved alert stays in the alert list after it resolved.
pub const RESOLVED_ALERT_RETENTION_MS: i64 = 30 * 60_000;
/// Longest sleep of the timer task when no group is waiting.
const IDLE_TICK: Duration = Duration::from_secs(60);

/// What the dispatcher needs besides the alerting spec.
#[derive(Clone)]
pub struct DispatcherOptions {
    pub external_url: String,
    /// The root route's repeat interval when the route sets none.
    pub default_repeat: Duration,
    pub retry: RetryPolicy,
    pub secrets: Arc<dyn SecretResolver>,
    pub store: Option<Arc<dyn StateStore>>,
    /// `--silences.max-silences` and `--silences.max-silence-size-bytes`.
    pub silence_limits: SilenceLimits,
}

/// An alert as stored, with when it was last updated.
#[derive(Clone, Debug)]
struct StoredAlert {
    alert: NotifyAlert,
    updated_at_ms: i64,
}

/// An alert as the v2 API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertView {
    pub alert: NotifyAlert,
    pub updated_at_ms: i64,
    pub receivers: Vec<String>,
    pub silenced_by: Vec<String>,
    /// Fingerprints (hex) of the alerts inhibiting it.
    pub inhibited_by: Vec<String>,
}

/// An aggregation group as the v2 API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupView {
    pub labels: LabelSet,
    pub receiver: String,
    pub alerts: Vec<AlertView>,
}

struct State {
    aggregator: Aggregator,
    alerts: BTreeMap<u64, StoredAlert>,
    /// The stored alerts as inhibition sources, for the routing's inhibitor.
    sources: SourceIndex,
}

/// The parts of the alerting spec besides the route tree (which the aggregator holds).
struct Routing {
    inhibitor: Inhibitor,
    receivers: BTreeMap<String, Vec<Arc<dyn Notifier>>>,
}

impl Routing {
    /// The route tree, inhibition rules and integrations of `spec`.
    fn build(spec: &AlertingSpec, opts: &DispatcherOptions) -> Result<(RouteTree, Routing)> {
        let tree = RouteTree::new(spec, opts.default_repeat)?;
        let inhibitor = Inhibitor::new(&spec.inhibit_rules)?;
        let mut ctx = IntegrationContext::new(opts.secrets.clone());
        ctx.templates = Arc::new(NotifyTemplates::load(&spec.templates)?);
        ctx.global_http = spec.global.as_ref().and_then(|g| g.http_config.clone());
        let receivers = spec
            .receivers
            .iter()
            .map(|r| (r.name.clone(), notifiers(r, &ctx)))
            .collect();
        Ok((
            tree,
            Routing {
                inhibitor,
                receivers,
            },
        ))
    }
}

struct Shared {
    state: Mutex<State>,
    nflog: Mutex<NotificationLog>,
    silences: Mutex<Silences>,
    /// Replaced as a whole, together with the aggregator, by `set_config`.
    routing: Mutex<Arc<Routing>>,
    options: DispatcherOptions,
    wake: Notify,
    closed: AtomicBool,
    /// Flushes taken but not finished.
    in_flight: AtomicUsize,
    /// The notification log changed since it was last saved.
    nflog_dirty: AtomicBool,
    /// A blocking task is saving the notification log.
    nflog_saving: AtomicBool,
    store: Option<Arc<dyn StateStore>>,
    metrics: Metrics,
    retry: RetryPolicy,
    external_url: String,
}

/// Routes, groups, mutes and notifies alerts.
pub struct Dispatcher {
    shared: Arc<Shared>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Builds the routing tree, inhibition rules and integrations of `spec`, loads the
    /// notification log and silences from the store, and starts the timer task (so it
    /// must be called inside a Tokio runtime). An invalid tree or inhibition rule is an
    /// error.
    pub fn new(
        spec: &AlertingSpec,
        opts: DispatcherOptions,
        metrics: Metrics,
    ) -> Result<Dispatcher> {
        let (tree, routing) = Routing::build(spec, &opts)?;
        let (nflog, silences) = match &opts.store {
            Some(store) => (
                load_json::<NotificationLog>(store.as_ref(), NFLOG_DOC).unwrap_or_default(),
                Silences::from_snapshot(
                    load_json::<Vec<Silence>>(store.as_ref(), SILENCES_DOC).unwrap_or_default(),
                ),
            ),
            None => (NotificationLog::new(), Silences::new()),
        };
        let mut silences = silences;
        silences.set_limits(opts.silence_limits);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                aggregator: Aggregator::new(tree),
                alerts: BTreeMap::new(),
                sources: routing.inhibitor.index(),
            }),
            nflog: Mutex::new(nflog),
            silences: Mutex::new(silences),
            routing: Mutex::new(Arc::new(routing)),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            nflog_dirty: AtomicBool::new(false),
            nflog_saving: AtomicBool::new(false),
            store: opts.store.clone(),
            metrics,
            retry: opts.retry,
            external_url: opts.external_url.clone(),
            options: opts,
        });
        let task = tokio::spawn(run(shared.clone()));
        Ok(Dispatcher {
            shared,
            task: Mutex::new(Some(task)),
        })
    }

    /// Replaces the routing tree, inhibition rules and receivers by those of `spec`, at
    /// once: the alerts are routed again into new aggregation groups; silences, the
    /// notification log (so nothing already sent is sent again under an unchanged route)
    /// and the alerts themselves are kept. An invalid spec is an error and changes
    /// nothing.
    pub fn set_config(&self, spec: &AlertingSpec) -> Result<()> {
        let (tree, routing) = Routing::build(spec, &self.shared.options)?;
        let now = now_ms();
        {
            let mut state = self.shared.state.lock().expect("dispatch state lock");
            let mut aggregator = Aggregator::new(tree);
            let mut sources = routing.inhibitor.index();
            for stored in state.alerts.values() {
                aggregator.insert(&stored.alert, now);
                routing.inhibitor.add_source(
                    &mut sources,
                    &stored.alert.labels,
                    stored.alert.ends_at_ms,
                );
            }
            state.aggregator = aggregator;
            state.sources = sources;
            *self.shared.routing.lock().expect("routing lock") = Arc::new(routing);
        }
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Takes new or updated alerts (firing, or resolved with their end time). Alerts
    /// identical to the stored ones change nothing.
    pub fn put(&self, alerts: Vec<NotifyAlert>, now_ms: i64) {
        let mut inserted = false;
        let routing = self.shared.routing();
        let metrics = &self.shared.metrics;
        {
            let mut state = self.shared.state.lock().expect("dispatch state lock");
            for alert in alerts {
                let fp = alert.fingerprint();
                if state.alerts.get(&fp).is_some_and(|s| s.alert == alert) {
                    continue;
                }
                let status = if alert.is_resolved_at(now_ms) {
                    "resolved"
                } else {
                    "firing"
                };
                metrics.alerts_received.with_label_values(&[status]).inc();
                state.aggregator.insert(&alert, now_ms);
                let State { sources, .. } = &mut *state;
                routing
                    .inhibitor
                    .add_source(sources, &alert.labels, alert.ends_at_ms);
                state.alerts.insert(
                    fp,
                    StoredAlert {
                        alert,
                        updated_at_ms: now_ms,
                    },
                );
                inserted = true;
            }
        }
        if inserted {
            self.shared.wake.notify_one();
        }
    }

    /// Counts an alert the API refused.
    pub fn count_invalid(&self) {
        self.shared.metrics.alerts_invalid.inc();
    }

    /// The alerts not resolved at `now_ms`, with their receivers and why they are muted.
    pub fn alerts(&self, now_ms: i64) -> Vec<AlertView> {
        let routing = self.shared.routing();
        let state = self.shared.state.lock().expect("dispatch state lock");
        let silences = self.shared.silences.lock().expect("silences lock");
        state
            .alerts
            .values()
            .filter(|s| !s.alert.is_resolved_at(now_ms))
            .map(|s| view(&routing, &state, &silences, s, now_ms))
            .collect()
    }

    /// The aggregation groups with their unresolved alerts.
    pub fn groups(&self, now_ms: i64) -> Vec<GroupView> {
        let routing = self.shared.routing();
        let state = self.shared.state.lock().expect("dispatch state lock");
        let silences = self.shared.silences.lock().expect("silences lock");
        let tree = state.aggregator.tree();
        state
            .aggregator
            .groups()
            .map(|(_, g)| GroupView {
                labels: g.labels.clone(),
                receiver: tree.nodes[g.route].receiver.clone(),
                alerts: g
                    .alerts
                    .keys()
                    .filter_map(|fp| state.alerts.get(fp))
                    .filter(|s| !s.alert.is_resolved_at(now_ms))
                    .map(|s| view(&routing, &state, &silences, s, now_ms))
                    .collect(),
            })
            .filter(|g| !g.alerts.is_empty())
            .collect()
    }

    /// Names of the configured receivers.
    pub fn receivers(&self) -> Vec<String> {
        self.shared.routing().receivers.keys().cloned().collect()
    }

    /// Creates or updates a silence (see [`Silences::set`]) and persists the silences.
    pub fn set_silence(&self, silence: Silence) -> Result<String> {
        let (id, snapshot) = {
            let mut s = self.shared.silences.lock().expect("silences lock");
            let id = s.set(silence, now_ms())?;
            (id, s.snapshot())
        };
        self.shared.persist_silences(&snapshot);
        self.shared.count_silences(now_ms());
        Ok(id)
    }

    /// Expires a silence now and persists the silences.
    pub fn expire_silence(&self, id: &str) -> Result<()> {
        let snapshot = {
            let mut s = self.shared.silences.lock().expect("silences lock");
            s.expire(id, now_ms())?;
            s.snapshot()
        };
        self.shared.persist_silences(&snapshot);
        self.shared.count_silences(now_ms());
        Ok(())
    }

    /// Every silence.
    pub fn silences(&self) -> Vec<Silence> {
        self.shared
            .silences
            .lock()
            .expect("silences lock")
            .snapshot()
    }

    pub fn silence(&self, id: &str) -> Option<Silence> {
        self.shared
            .silences
            .lock()
            .expect("silences lock")
            .get(id)
            .cloned()
    }

    /// Waits until the flushes already started have finished (their notification log
    /// entries persisted), at most `limit`; false if some were still running.
    pub async fn drain(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.shared.in_flight.load(Ordering::SeqCst) > 0
            || self.shared.nflog_saving.load(Ordering::SeqCst)
            || self.shared.nflog_dirty.load(Ordering::SeqCst)
        {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Stops the timer task; flushes already started still finish.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
        if let Some(task) = self.task.lock().expect("task lock").take() {
            drop(task);
        }
    }
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.wake.notify_one();
    }
}

/// An alert as the API shows it: its receivers and what mutes it.
fn view(
    routing: &Routing,
    state: &State,
    silences: &Silences,
    stored: &StoredAlert,
    now_ms: i64,
) -> AlertView {
    let labels = &stored.alert.labels;
    let tree = state.aggregator.tree();
    let mut receivers: Vec<String> = tree
        .matches(labels)
        .into_iter()
        .map(|i| tree.nodes[i].receiver.clone())
        .collect();
    receivers.dedup();
    AlertView {
        alert: stored.alert.clone(),
        updated_at_ms: stored.updated_at_ms,
        receivers,
        silenced_by: silences.silenced_by(labels, now_ms),
        inhibited_by: routing
            .inhibitor
            .inhibited_by_indexed(&state.sources, labels, now_ms)
            .into_iter()
            .map(|fp| format!("{fp:016x}"))
            .collect(),
    }
}

impl Shared {
    fn routing(&self) -> Arc<Routing> {
        self.routing.lock().expect("routing lock").clone()
    }

    /// Sets the `telltale_silences{state}` gauge.
    fn count_silences(&self, now_ms: i64) {
        let mut counts = BTreeMap::new();
        for s in self.silences.lock().expect("silences lock").snapshot() {
            *counts.entry(s.state(now_ms).as_str()).or_insert(0i64) += 1;
        }
        for state in ["active", "pending", "expired"] {
            self.metrics
                .silences
                .with_label_values(&[state])
                .set(counts.get(state).copied().unwrap_or(0));
        }
    }

    fn persist_silences(&self, snapshot: &Vec<Silence>) {
        if let Some(store) = &self.store
            && let Err(e) = save_json(store.as_ref(), SILENCES_DOC, snapshot)
        {
            tracing::error!(error = %e, "cannot persist silences");
        }
    }

    fn persist_nflog(&self) {
        let Some(store) = &self.store else {
            return;
        };
        let log = self.nflog.lock().expect("nflog lock").clone();
        if let Err(e) = save_json(store.as_ref(), NFLOG_DOC, &log) {
            tracing::error!(error = %e, "cannot persist the notification log");
        }
    }

    /// The alerts of `job` that no silence and no inhibition mutes: a lookup per alert
    /// of the job in the source index, so the cost follows the job's own alerts.
    fn unmuted(&self, job: &FlushJob) -> Vec<NotifyAlert> {
        let routing = self.routing();
        let inhibited: Vec<bool> = {
            let state = self.state.lock().expect("dispatch state lock");
            job.alerts
                .iter()
                .map(|a| {
                    !routing
                        .inhibitor
                        .inhibited_by_indexed(&state.sources, &a.labels, job.now_ms)
                        .is_empty()
                })
                .collect()
        };
        let silences = self.silences.lock().expect("silences lock");
        job.alerts
            .iter()
            .zip(inhibited)
            .filter(|(a, inhibited)| {
                !inhibited && silences.silenced_by(&a.labels, job.now_ms).is_empty()
            })
            .map(|(a, _)| a.clone())
            .collect()
    }
}

/// Saves the notification log on a blocking thread; flushes finishing meanwhile are
/// saved by the same task (one save covers any number of them), so many groups flushing
/// at once do not each encode the whole log.
fn save_nflog_soon(shared: &Arc<Shared>) {
    shared.nflog_dirty.store(true, Ordering::SeqCst);
    if shared.nflog_saving.swap(true, Ordering::SeqCst) {
        return;
    }
    let shared = shared.clone();
    tokio::task::spawn_blocking(move || {
        loop {
            while shared.nflog_dirty.swap(false, Ordering::SeqCst) {
                shared.persist_nflog();
            }
            shared.nflog_saving.store(false, Ordering::SeqCst);
            // A change that came after the last save and before `saving` was cleared.
            if !shared.nflog_dirty.load(Ordering::SeqCst)
                || shared.nflog_saving.swap(true, Ordering::SeqCst)
            {
                return;
            }
        }
    });
}

/// The timer task: flushes due groups, sleeps until the next is due or alerts arrive.
async fn run(shared: Arc<Shared>) {
    let mut last_gc = 0;
    while !shared.closed.load(Ordering::SeqCst) {
        let now = now_ms();
        let (jobs, deadline) = {
            let mut state = shared.state.lock().expect("dispatch state lock");
            if now - last_gc > 60_000 {
                last_gc = now;
                let routing = shared.routing();
                let State {
                    alerts, sources, ..
                } = &mut *state;
                alerts.retain(|_, s| {
                    let keep = s
                        .alert
                        .ends_at_ms
                        .is_none_or(|end| now - end < RESOLVED_ALERT_RETENTION_MS);
                    if !keep {
                        routing.inhibitor.remove_source(sources, &s.alert.labels);
                    }
                    keep
                });
                let changed = shared.silences.lock().expect("silences lock").gc(now);
                if changed {
                    let snapshot = shared.silences.lock().expect("silences lock").snapshot();
                    shared.persist_silences(&snapshot);
                }
                if shared.nflog.lock().expect("nflog lock").gc(now) {
                    save_nflog_soon(&shared);
                }
                shared.count_silences(now);
            }
            let jobs = state.aggregator.take_due(now);
            shared
                .metrics
                .aggregation_groups
                .set(state.aggregator.groups().count() as i64);
            shared.in_flight.fetch_add(jobs.len(), Ordering::SeqCst);
            (jobs, state.aggregator.next_deadline())
        };
        for job in jobs {
            tokio::spawn(flush(shared.clone(), job));
        }
        let sleep = deadline.map_or(IDLE_TICK, |d| {
            Duration::from_millis(u64::try_from(d - now_ms()).unwrap_or(0)).min(IDLE_TICK)
        });
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = shared.wake.notified() => {}
        }
    }
    tracing::debug!("dispatcher stopped");
}

/// Notifies every integration of the job's receiver that needs to hear about the group.
async fn flush(shared: Arc<Shared>, job: FlushJob) {
    // Muting costs in proportion to the group's alerts: off the async workers. The
    // histogram times the muting itself, not the wait for a blocking thread.
    let (job, alerts) = {
        let muting = shared.clone();
        match tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let alerts = muting.unmuted(&job);
            muting
                .metrics
                .flush_seconds
                .observe(started.elapsed().as_secs_f64());
            (job, alerts)
        })
        .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "muting a group panicked");
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                return;
            }
        }
    };
    let notifiers = shared
        .routing()
        .receivers
        .get(&job.receiver)
        .cloned()
        .unwrap_or_default();
    let repeat_ms = i64::try_from(job.repeat_interval.as_millis()).unwrap_or(i64::MAX);
    let deliveries = notifiers.iter().enumerate().map(|(i, notifier)| {
        let key = format!(
            "{}/{}/{i}:{}",
            job.receiver,
            notifier.integration(),
            job.group_key
        );
        let plan = shared.nflog.lock().expect("nflog lock").plan(
            &key,
            &alerts,
            notifier.send_resolved(),
            job.now_ms,
            repeat_ms,
        );
        let shared = &shared;
        let job = &job;
        let alerts = &alerts;
        async move {
            let to_send = match plan {
                Plan::Skip => return Ok(false),
                Plan::RecordOnly => Vec::new(),
                Plan::Send(a) => a,
            };
            if !to_send.is_empty() {
                let n = Notification {
                    receiver: job.receiver.clone(),
                    group_key: job.group_key.clone(),
                    group_labels: job.group_labels.clone(),
                    alerts: to_send,
                    external_url: shared.external_url.clone(),
                };
                deliver(notifier.as_ref(), &n, &shared.retry, &shared.metrics).await?;
                tracing::debug!(receiver = %job.receiver, integration = notifier.integration(), group = %job.group_key, status = n.status(), alerts = n.alerts.len(), "notified");
            }
            shared
                .nflog
                .lock()
                .expect("nflog lock")
                .record(&key, alerts, job.now_ms);
            Ok::<bool, crate::error::Error>(true)
        }
    });
    let results = futures::future::join_all(deliveries).await;
    let mut success = true;
    let mut changed = false;
    for (result, notifier) in results.into_iter().zip(&notifiers) {
        match result {
            Ok(c) => changed |= c,
            Err(e) => {
                success = false;
                tracing::warn!(receiver = %job.receiver, integration = notifier.integration(), group = %job.group_key, error = %e, "notification failed; retried at the next group interval");
            }
        }
    }
    if changed {
        save_nflog_soon(&shared);
    }
    shared
        .state
        .lock()
        .expect("dispatch state lock")
        .aggregator
        .finish(&job, success);
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    shared.wake.notify_one();
}
