//! [`RemoteWriteForwarder`]: the [`SampleWriter`] a `remote_write` section becomes. A
//! write is relabeled and cut into records ([`super::record`]), appended to the
//! forwarder's own disk queue ([`QueueStore`], fsync) and acknowledged; the sender task
//! ([`super::sender`]) drains the queue in order. When the queue reaches its byte limit
//! the oldest records are evicted (counted) to make room: a write never waits for the
//! remote.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use md5::{Digest, Md5};
use telltale_crds::prometheus::RemoteWriteConfig;
use telltale_storage_api::{SampleWriter, SharedSample, TimeSeries};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tracing::{error, warn};

use super::client::RemoteClient;
use super::metrics::{ForwardMetrics, Registered};
use super::record::{self, SeriesRules};
use super::sender;
use crate::error::{Error, Result};
use crate::queue::QueueStore;
use crate::queue::store::{AppendError, Record};
use crate::relabel::Relabeler;

/// Settings of a forwarder that prometheus.yml's `remote_write` section does not carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwarderOptions {
    /// Most bytes the queue's files hold; past it the oldest records are evicted.
    pub max_bytes: u64,
    /// Size at which a new segment file is started.
    pub segment_bytes: u64,
    /// `global.external_labels`: added to every series that has no label of that name,
    /// before `write_relabel_configs` (as Prometheus).
    pub external_labels: BTreeMap<String, String>,
}

impl Default for ForwarderOptions {
    fn default() -> Self {
        ForwarderOptions {
            max_bytes: 1 << 30,
            segment_bytes: 16 << 20,
            external_labels: BTreeMap::new(),
        }
    }
}

/// What the sender reads of the `queue_config` section.
#[derive(Clone, Copy, Debug)]
pub(super) struct SendSettings {
    pub max_samples_per_send: usize,
    pub batch_send_deadline: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
}

/// Forwards every sample written to it to one remote_write endpoint through a durable
/// queue. Dropping it stops the sender at once (a batch being sent is sent again by the
/// next forwarder on the directory); [`RemoteWriteForwarder::close`] lets a send in
/// progress finish first.
pub struct RemoteWriteForwarder {
    shared: Arc<Shared>,
    name: String,
    stop: watch::Sender<bool>,
    sender: Option<JoinHandle<()>>,
    /// The metrics leave the registry with the forwarder (a forwarder reopened on the
    /// same registry registers them again).
    _registered: Registered,
}

/// What the writers and the sender share.
pub(super) struct Shared {
    store: Mutex<QueueStore>,
    /// Samples queued and not sent yet (the records' headers summed).
    pub pending_samples: AtomicU64,
    pub notify: Notify,
    pub metrics: ForwardMetrics,
    rules: SeriesRules,
    pub settings: SendSettings,
}

impl RemoteWriteForwarder {
    /// Opens the queue in `dir` (created if needed; what a previous forwarder left there
    /// is sent first) and starts the sender for the section `config`. The metrics are
    /// registered in `registry` under the section's `remote_name`: its `name`, or a
    /// hash of the section as Prometheus makes one. Must be called within a Tokio
    /// runtime. One directory per section, e.g. `<data-dir>/remote_write/<remote_name>`
    /// ([`remote_name`]): a changed unnamed section is a new queue, as in Prometheus.
    pub async fn open(
        config: &RemoteWriteConfig,
        dir: impl Into<PathBuf>,
        options: ForwarderOptions,
        registry: &prometheus::Registry,
    ) -> Result<RemoteWriteForwarder> {
        let name = remote_name(config);
        let client = RemoteClient::new(config, &name)?;
        let specs: Vec<_> = config
            .write_relabel_configs
            .iter()
            .map(|r| r.to_spec())
            .collect();
        let rules = SeriesRules {
            external_labels: options.external_labels.clone().into_iter().collect(),
            relabeler: Relabeler::new(&specs, "write_relabel_configs")?,
        };
        let queue = config.queue();
        let settings = SendSettings {
            max_samples_per_send: queue.max_samples_per_send().max(1) as usize,
            batch_send_deadline: queue.batch_send_deadline().0,
            min_backoff: queue.min_backoff().0,
            max_backoff: queue.max_backoff().0,
        };
        let dir = dir.into();
        let (store, pending) = tokio::task::spawn_blocking(move || {
            let (store, _) = QueueStore::open(&dir, options.segment_bytes, options.max_bytes)?;
            let mut pending = 0u64;
            store
                .visit_pending(|p| pending += record::header(p).map_or(0, |h| h.samples as u64))?;
            Ok::<_, Error>((store, pending))
        })
        .await
        .map_err(|e| Error::Internal {
            message: format!("remote_write queue open task failed: {e}"),
        })??;
        let (metrics, registered) = ForwardMetrics::new(registry, &name, &config.url);
        let shared = Arc::new(Shared {
            pending_samples: AtomicU64::new(pending),
            store: Mutex::new(store),
            notify: Notify::new(),
            metrics,
            rules,
            settings,
        });
        shared.update_gauges(&shared.lock());
        let (stop, stopped) = watch::channel(false);
        let sender = tokio::spawn(sender::run(shared.clone(), client, stopped));
        Ok(RemoteWriteForwarder {
            shared,
            name,
            stop,
            sender: Some(sender),
            _registered: registered,
        })
    }

    /// The section's `remote_name` (its metrics' label).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Samples queued and not sent yet.
    pub fn pending_samples(&self) -> u64 {
        self.shared.pending_samples.load(Ordering::SeqCst)
    }

    /// Bytes of the queue's files not sent yet.
    pub fn pending_bytes(&self) -> u64 {
        self.shared.lock().pending_bytes()
    }

    /// Stops the sender once the batch it is sending (if any) is sent or given up for
    /// now, and waits for it; what is still queued stays on disk for the next
    /// [`RemoteWriteForwarder::open`] of the directory.
    pub async fn close(mut self) {
        let _ = self.stop.send(true);
        if let Some(sender) = self.sender.take() {
            let _ = sender.await;
        }
    }
}

impl Drop for RemoteWriteForwarder {
    fn drop(&mut self) {
        if let Some(sender) = self.sender.take() {
            sender.abort();
        }
    }
}

#[async_trait::async_trait]
impl SampleWriter for RemoteWriteForwarder {
    /// Queues the samples for the remote; returns how many were queued (those
    /// `write_relabel_configs` drops are not).
    async fn write(&self, series: Vec<TimeSeries>) -> telltale_storage_api::Result<u64> {
        let shared = self.shared.clone();
        blocking(move || {
            let p = record::prepare(&series, &shared.rules, shared.settings.max_samples_per_send);
            shared.enqueue(p)
        })
        .await
    }

    /// As [`Self::write`], from samples whose label sets the writer shares (scrapes):
    /// no intermediate messages.
    async fn write_shared(&self, samples: &[SharedSample]) -> telltale_storage_api::Result<u64> {
        let shared = self.shared.clone();
        let samples = samples.to_vec();
        blocking(move || {
            let p = record::prepare_shared(
                &samples,
                &shared.rules,
                shared.settings.max_samples_per_send,
            );
            shared.enqueue(p)
        })
        .await
    }
}

/// Runs `f` (relabeling, fsync) on Tokio's blocking threads.
async fn blocking(
    f: impl FnOnce() -> telltale_storage_api::Result<u64> + Send + 'static,
) -> telltale_storage_api::Result<u64> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| {
        Err(telltale_storage_api::Error::Status {
            code: tonic::Code::Internal,
            message: format!("remote_write enqueue task failed: {e}"),
        })
    })
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, QueueStore> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn update_gauges(&self, store: &QueueStore) {
        self.metrics
            .samples_pending
            .set(self.pending_samples.load(Ordering::SeqCst) as i64);
        self.metrics.queue_bytes.set(store.pending_bytes() as i64);
    }

    /// Takes `n` sent (or dropped) samples off the pending count.
    pub fn settle(&self, n: u64) {
        let _ = self
            .pending_samples
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |p| {
                Some(p.saturating_sub(n))
            });
    }

    /// Appends one prepared write (blocking: fsync).
    fn enqueue(&self, prepared: record::Prepared) -> telltale_storage_api::Result<u64> {
        self.metrics.samples_dropped_total.inc_by(prepared.dropped);
        if prepared.records.is_empty() {
            return Ok(0);
        }
        let payloads: Vec<&[u8]> = prepared.records.iter().map(Vec::as_slice).collect();
        let mut store = self.lock();
        let mut appended = store.append_many(&payloads);
        if let Err(AppendError::Full { needed, .. }) = appended {
            match store.evict_oldest(needed) {
                Ok(evicted) => {
                    let lost = samples_in(&evicted);
                    self.settle(lost);
                    self.metrics.samples_dropped_total.inc_by(lost);
                    self.metrics.samples_evicted_total.inc_by(lost);
                    warn!(
                        samples = lost,
                        records = evicted.len(),
                        "remote_write queue full: oldest samples evicted"
                    );
                }
                Err(e) => error!(error = %e, "cannot evict from the remote_write queue"),
            }
            appended = store.append_many(&payloads);
        }
        let result = match appended {
            Ok(()) => {
                self.pending_samples
                    .fetch_add(prepared.samples, Ordering::SeqCst);
                self.notify.notify_one();
                Ok(prepared.samples)
            }
            Err(AppendError::Full { needed, limit, .. }) => {
                self.metrics.samples_dropped_total.inc_by(prepared.samples);
                self.metrics.samples_evicted_total.inc_by(prepared.samples);
                warn!(
                    needed,
                    limit, "write larger than the remote_write queue: dropped"
                );
                Err(telltale_storage_api::Error::Status {
                    code: tonic::Code::ResourceExhausted,
                    message: format!(
                        "remote_write queue of {limit} bytes cannot hold a write of {needed} bytes: {} samples dropped",
                        prepared.samples
                    ),
                })
            }
            Err(AppendError::Io(e)) => {
                self.metrics.samples_dropped_total.inc_by(prepared.samples);
                error!(error = %e, samples = prepared.samples, "cannot append to the remote_write queue");
                Err(telltale_storage_api::Error::Status {
                    code: tonic::Code::Unavailable,
                    message: format!("remote_write queue: {e}"),
                })
            }
        };
        self.update_gauges(&store);
        result
    }
}

/// Samples the records' headers count.
pub(super) fn samples_in(records: &[Record]) -> u64 {
    records
        .iter()
        .map(|r| record::header(&r.payload).map_or(0, |h| h.samples as u64))
        .sum()
}

/// The section's `name`, or the first 6 hex digits of the MD5 of its JSON form (as
/// Prometheus names an unnamed queue; the JSON differs from Go's, so the hash does too).
pub fn remote_name(config: &RemoteWriteConfig) -> String {
    if let Some(n) = config.name.as_deref().filter(|n| !n.is_empty()) {
        return n.to_string();
    }
    let json = serde_json::to_vec(config).unwrap_or_else(|_| config.url.clone().into_bytes());
    let digest = Md5::digest(&json);
    digest.iter().take(3).map(|b| format!("{b:02x}")).collect()
}
