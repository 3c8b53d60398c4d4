//! [`ShardedStorage`]: the storage client of a sharded, replicated cluster. Writes are
//! split by [`ShardMap::shard_for`] and sent per shard to its leader (following
//! `telltale-leader` redirects, trying the other replicas when one is down), each batch
//! tagged with a writer id and batch number so a retry of an acknowledged batch changes
//! nothing. Reads go to every shard concurrently and the answers are merged by label set.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use tonic::transport::Channel;
use tonic::{Code, Response, Status};
use tracing::{debug, warn};

use super::merge::{merge_chunked, merge_exemplars, merge_info, merge_series, union_sorted};
use super::metrics::ClientMetrics;
use super::shard_map::ShardMap;
use crate::client::{channel, collect_select, storage_client};
use crate::encoded_write::{self, EncodedWrite};
use crate::error::{Error, Result};
use crate::headers::{
    HEADER_APPLIED_INDEX, HEADER_BATCH_SEQ, HEADER_LEADER, HEADER_LOG_INDEX, HEADER_READ,
    HEADER_WRITER_ID,
};
use crate::pb::storage_client::StorageClient;
use crate::pb::{
    ExemplarsRequest, InfoRequest, InfoResponse, LabelNamesRequest, LabelValuesRequest,
    SelectRequest, SeriesChunks, SeriesExemplars, SeriesRequest, TimeSeries,
};
use crate::raft_pb::StatusRequest;
use crate::raft_pb::raft_client::RaftClient;
use crate::{BatchId, SampleReader, SampleWriter, Written};

/// How the client reads and retries.
#[derive(Debug, Clone)]
pub struct ShardedOptions {
    /// Read from any replica (round robin) instead of the leader.
    pub follower_reads: bool,
    /// A follower read from a replica more than this many entries behind the leader is
    /// repeated on the leader.
    pub max_follower_lag: u64,
    /// Answer reads from the shards that answered when others fail.
    pub partial_ok: bool,
    /// How long a shard batch is retried (leader changes, replicas down) before failing.
    pub write_timeout: Duration,
    /// Timeout of one attempt.
    pub request_timeout: Duration,
}

impl Default for ShardedOptions {
    fn default() -> Self {
        ShardedOptions {
            follower_reads: false,
            max_follower_lag: 10_000,
            partial_ok: false,
            write_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// A writer identity: one batch in flight at a time, so batch numbers apply in order.
#[derive(Debug, Clone, Copy)]
struct Session {
    client_id: u64,
    next_seq: u64,
}

/// The client side of one shard.
#[derive(Debug)]
pub(super) struct ShardClient {
    pub(super) id: u32,
    replicas: Vec<String>,
    /// The address believed to lead.
    leader: Mutex<Option<String>>,
    /// Round robin position for follower reads and for trying replicas.
    next: AtomicUsize,
    sessions: Mutex<Vec<Session>>,
    /// Highest log index this client saw committed on the shard.
    known_index: AtomicU64,
}

impl ShardClient {
    fn leader(&self) -> String {
        self.leader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| self.replicas[0].clone())
    }

    fn set_leader(&self, address: &str) {
        *self.leader.lock().unwrap_or_else(PoisonError::into_inner) = Some(address.to_string());
    }

    /// The replica after `current` in the list.
    fn after(&self, current: &str) -> String {
        let pos = self.replicas.iter().position(|r| r == current);
        let i = match pos {
            Some(p) => p + 1,
            None => self.next.fetch_add(1, Ordering::Relaxed),
        };
        self.replicas[i % self.replicas.len()].clone()
    }

    fn round_robin(&self) -> String {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.replicas[i % self.replicas.len()].clone()
    }

    fn saw_index(&self, md: &tonic::metadata::MetadataMap, header: &str) -> Option<u64> {
        let v = md.get(header)?.to_str().ok()?.parse::<u64>().ok()?;
        self.known_index.fetch_max(v, Ordering::AcqRel);
        Some(v)
    }
}

struct Inner {
    map: RwLock<Arc<ShardMap>>,
    shards: Mutex<HashMap<u32, Arc<ShardClient>>>,
    /// One lazily connecting channel per replica address.
    channels: Mutex<HashMap<String, Channel>>,
    opts: ShardedOptions,
    metrics: ClientMetrics,
    seed: u64,
    sessions_made: AtomicU64,
}

/// Writes and reads a sharded, replicated cluster; implements [`SampleWriter`] and
/// [`SampleReader`]. Cheap to clone.
#[derive(Clone)]
pub struct ShardedStorage {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ShardedStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedStorage")
            .field("map", &self.map())
            .finish_non_exhaustive()
    }
}

/// A per-process random-enough seed for writer ids (time, pid, address entropy).
fn random_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let local = 0u8;
    let addr = &local as *const u8 as u64;
    let mut bytes = Vec::with_capacity(24);
    bytes.extend(nanos.to_le_bytes());
    bytes.extend(u64::from(std::process::id()).to_le_bytes());
    bytes.extend(addr.to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

type ShardResult<T> = (u32, Result<T>);

impl ShardedStorage {
    /// A client of the cluster in `map`; registers its metrics on `registry`.
    pub fn new(
        map: ShardMap,
        opts: ShardedOptions,
        registry: &prometheus::Registry,
    ) -> Result<Self> {
        let metrics = ClientMetrics::register(registry)?;
        let storage = ShardedStorage {
            inner: Arc::new(Inner {
                map: RwLock::new(Arc::new(map.clone())),
                shards: Mutex::new(HashMap::new()),
                channels: Mutex::new(HashMap::new()),
                opts,
                metrics,
                seed: random_seed(),
                sessions_made: AtomicU64::new(0),
            }),
        };
        storage.set_map(map);
        Ok(storage)
    }

    /// A client of the cluster in the YAML shard map file `path`, re-read whenever the
    /// file changes (e.g. a ConfigMap update).
    pub fn from_file(
        path: PathBuf,
        opts: ShardedOptions,
        registry: &prometheus::Registry,
    ) -> Result<Self> {
        let storage = ShardedStorage::new(ShardMap::load(&path)?, opts, registry)?;
        let weak = Arc::downgrade(&storage.inner);
        tokio::spawn(async move {
            let mut last = std::fs::read_to_string(&path).ok();
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let Some(inner) = weak.upgrade() else { return };
                let text = std::fs::read_to_string(&path).ok();
                if text.is_none() || text == last {
                    continue;
                }
                match text.as_deref().map(ShardMap::from_yaml) {
                    Some(Ok(map)) => {
                        tracing::info!(path = %path.display(), shards = map.shards.len(), "shard map changed");
                        ShardedStorage { inner }.set_map(map);
                        last = text;
                    }
                    Some(Err(e)) => {
                        warn!(path = %path.display(), error = %e, "ignoring a bad shard map")
                    }
                    None => {}
                }
            }
        });
        Ok(storage)
    }

    /// The shard map in use.
    pub fn map(&self) -> Arc<ShardMap> {
        self.inner
            .map
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Switches to `map`: new writes follow it; data already written stays put and is
    /// still read as long as its shard is in the map.
    pub fn set_map(&self, map: ShardMap) {
        let mut shards = self
            .inner
            .shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let keep: HashMap<u32, Arc<ShardClient>> = map
            .shards
            .iter()
            .map(|s| {
                let existing = shards
                    .get(&s.id)
                    .filter(|c| c.replicas == s.replicas)
                    .cloned();
                let client = existing.unwrap_or_else(|| {
                    Arc::new(ShardClient {
                        id: s.id,
                        replicas: s.replicas.clone(),
                        leader: Mutex::new(None),
                        next: AtomicUsize::new(0),
                        sessions: Mutex::new(Vec::new()),
                        known_index: AtomicU64::new(0),
                    })
                });
                (s.id, client)
            })
            .collect();
        *shards = keep;
        *self
            .inner
            .map
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
    }

    pub(super) fn options(&self) -> &ShardedOptions {
        &self.inner.opts
    }

    fn shard(&self, id: u32) -> Option<Arc<ShardClient>> {
        self.inner
            .shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
    }

    pub(super) fn all_shards(&self) -> Vec<Arc<ShardClient>> {
        let shards = self
            .inner
            .shards
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<_> = shards.values().cloned().collect();
        all.sort_by_key(|s| s.id);
        all
    }

    fn channel(&self, address: &str) -> Result<Channel> {
        let mut channels = self
            .inner
            .channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = channels.get(address) {
            return Ok(c.clone());
        }
        let c = channel(address)?;
        channels.insert(address.to_string(), c.clone());
        Ok(c)
    }

    fn client(&self, address: &str) -> Result<StorageClient<Channel>> {
        Ok(storage_client(self.channel(address)?))
    }

    fn checkout(&self, shard: &ShardClient) -> Session {
        let pooled = shard
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        pooled.unwrap_or_else(|| {
            let n = self.inner.sessions_made.fetch_add(1, Ordering::Relaxed);
            let id = xxhash_rust::xxh3::xxh3_64_with_seed(&n.to_le_bytes(), self.inner.seed);
            Session {
                client_id: id.max(1),
                next_seq: 1,
            }
        })
    }

    fn checkin(&self, shard: &ShardClient, mut session: Session) {
        session.next_seq += 1;
        shard
            .sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(session);
    }

    /// Sends one shard's batch to its leader until acknowledged or out of time, as the
    /// batch `id` when given (a caller's persistent identity), else under a pooled session.
    async fn write_shard(
        &self,
        shard: Arc<ShardClient>,
        series: &[&TimeSeries],
        id: Option<BatchId>,
    ) -> Result<Written> {
        let encoded = EncodedWrite::encode(series.iter().copied());
        let session = match id {
            Some(id) => Session {
                client_id: id.writer,
                next_seq: id.seq,
            },
            None => self.checkout(&shard),
        };
        let label = shard.id.to_string();
        let timer = self
            .inner
            .metrics
            .write_duration
            .with_label_values(&[&label])
            .start_timer();
        let result = self
            .with_leader(
                &shard,
                &label,
                |channel| {
                    // Encoded once above: an attempt re-sends the bytes, copying nothing.
                    let mut req = tonic::Request::new(encoded.clone());
                    let md = req.metadata_mut();
                    if let Ok(v) = session.client_id.to_string().parse() {
                        md.insert(HEADER_WRITER_ID, v);
                    }
                    if let Ok(v) = session.next_seq.to_string().parse() {
                        md.insert(HEADER_BATCH_SEQ, v);
                    }
                    req.set_timeout(self.inner.opts.request_timeout);
                    encoded_write::send(channel, req)
                },
                self.inner.opts.write_timeout,
            )
            .await;
        timer.observe_duration();
        if id.is_none() {
            self.checkin(&shard, session);
        }
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.inner
            .metrics
            .batches
            .with_label_values(&[&label, outcome])
            .inc();
        let resp = result?;
        shard.saw_index(resp.metadata(), HEADER_LOG_INDEX);
        let resp = resp.into_inner();
        Ok(Written {
            samples: resp.samples_written,
            exemplars: resp.exemplars_written,
            histograms: resp.histograms_written,
        })
    }

    /// Calls `f` on the shard's leader, following redirects and moving to the next
    /// replica on unavailability, until it answers or `budget` is spent.
    pub(super) async fn with_leader<T, F, Fut>(
        &self,
        shard: &ShardClient,
        label: &str,
        f: F,
        budget: Duration,
    ) -> Result<Response<T>>
    where
        F: Fn(Channel) -> Fut,
        Fut: Future<Output = std::result::Result<Response<T>, Status>>,
    {
        let deadline = Instant::now() + budget;
        let mut target = shard.leader();
        let mut backoff = Duration::from_millis(20);
        loop {
            let status = match f(self.channel(&target)?).await {
                Ok(resp) => {
                    shard.set_leader(&target);
                    return Ok(resp);
                }
                Err(status) => status,
            };
            let reason = match status.code() {
                Code::InvalidArgument | Code::ResourceExhausted | Code::OutOfRange => {
                    return Err(Error::Status {
                        code: status.code(),
                        message: format!("shard {}: {}", shard.id, status.message()),
                    });
                }
                Code::FailedPrecondition => {
                    let hint = status
                        .metadata()
                        .get(HEADER_LEADER)
                        .and_then(|v| v.to_str().ok())
                        .filter(|a| !a.is_empty() && *a != target)
                        .map(str::to_string);
                    match hint {
                        Some(leader) => {
                            target = leader;
                            backoff = Duration::from_millis(20);
                            "redirect"
                        }
                        None => {
                            target = shard.after(&target);
                            "no_leader"
                        }
                    }
                }
                _ => {
                    target = shard.after(&target);
                    "unavailable"
                }
            };
            debug!(shard = shard.id, reason, next = %target, status = %status.message(), "retrying");
            self.inner
                .metrics
                .retries
                .with_label_values(&[label, reason])
                .inc();
            if Instant::now() + backoff > deadline {
                return Err(Error::Shard {
                    shard: shard.id,
                    reason: format!("no acknowledgment in {budget:?}: {}", status.message()),
                });
            }
            if reason != "redirect" {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_millis(500));
            }
        }
    }

    /// One read on one shard: its leader, or with follower reads a replica in turn whose
    /// lag (against the leader's last log index) is within the bound.
    async fn read_shard<T, F, Fut>(&self, shard: Arc<ShardClient>, f: F) -> Result<T>
    where
        F: Fn(StorageClient<Channel>, bool) -> Fut,
        Fut: Future<Output = std::result::Result<Response<T>, Status>>,
    {
        let label = shard.id.to_string();
        if self.inner.opts.follower_reads {
            let replica = shard.round_robin();
            let leader = shard.leader();
            let (read, leader_index) =
                tokio::join!(f(self.client(&replica)?, true), leader_last_index(&leader));
            if let Ok(resp) = read {
                let known = shard
                    .known_index
                    .load(Ordering::Acquire)
                    .max(leader_index.unwrap_or(0));
                let applied = shard
                    .saw_index(resp.metadata(), HEADER_APPLIED_INDEX)
                    .unwrap_or(0);
                let lag = known.saturating_sub(applied);
                self.inner
                    .metrics
                    .follower_lag
                    .with_label_values(&[&label])
                    .set(lag as i64);
                if lag <= self.inner.opts.max_follower_lag {
                    return Ok(resp.into_inner());
                }
                debug!(
                    shard = shard.id,
                    replica, lag, "follower too far behind; reading the leader"
                );
            }
        }
        let resp = self
            .with_leader(
                &shard,
                &label,
                |c| f(storage_client(c), false),
                self.inner.opts.request_timeout,
            )
            .await?;
        shard.saw_index(resp.metadata(), HEADER_APPLIED_INDEX);
        Ok(resp.into_inner())
    }

    /// Runs a read on every shard concurrently; fails if any shard fails unless
    /// `partial_ok` and at least one answered.
    async fn fan_out<T, F, Fut>(&self, f: F) -> Result<Vec<T>>
    where
        F: Fn(StorageClient<Channel>, bool) -> Fut + Clone,
        Fut: Future<Output = std::result::Result<Response<T>, Status>>,
    {
        let reads = self.all_shards().into_iter().map(|shard| {
            let f = f.clone();
            async move {
                let id = shard.id;
                (id, self.read_shard(shard, f).await)
            }
        });
        let results: Vec<ShardResult<T>> = futures::future::join_all(reads).await;
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for (id, r) in results {
            match r {
                Ok(v) => ok.push(v),
                Err(e) => failed.push((id, e)),
            }
        }
        if let Some((id, e)) = failed.into_iter().next() {
            if !self.inner.opts.partial_ok || ok.is_empty() {
                return Err(Error::Shard {
                    shard: id,
                    reason: e.to_string(),
                });
            }
            warn!(shard = id, error = %e, "answering without a failed shard");
        }
        Ok(ok)
    }

    /// The leader of every shard as this client last saw it.
    pub fn leaders(&self) -> BTreeMap<u32, String> {
        self.all_shards()
            .iter()
            .map(|s| (s.id, s.leader()))
            .collect()
    }
}

/// The last log index of the replica at `address`, if it answers quickly.
async fn leader_last_index(address: &str) -> Option<u64> {
    let mut client = RaftClient::new(channel(address).ok()?);
    let mut req = tonic::Request::new(StatusRequest {});
    req.set_timeout(Duration::from_secs(1));
    Some(client.status(req).await.ok()?.into_inner().last_log_index)
}

fn with_read_mode<T>(msg: T, follower: bool) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if follower && let Ok(v) = "any".parse() {
        req.metadata_mut().insert(HEADER_READ, v);
    }
    req
}

#[async_trait::async_trait]
impl SampleWriter for ShardedStorage {
    async fn write(&self, series: Vec<TimeSeries>) -> Result<u64> {
        Ok(self.write_split(&series, None).await?.total())
    }

    async fn write_borrowed(&self, series: &[TimeSeries]) -> Result<u64> {
        Ok(self.write_split(series, None).await?.total())
    }

    async fn write_counted(&self, series: Vec<TimeSeries>) -> Result<Written> {
        self.write_split(&series, None).await
    }

    /// Each shard's part of the batch carries `id`: every shard remembers the last batch
    /// number it applied per writer, so a re-sent batch is a no-op on the shards that
    /// took it and applied on those that did not.
    async fn write_identified(&self, series: Vec<TimeSeries>, id: BatchId) -> Result<u64> {
        Ok(self.write_split(&series, Some(id)).await?.total())
    }
}

impl ShardedStorage {
    async fn write_split(
        &self,
        series: &[TimeSeries],
        batch_id: Option<BatchId>,
    ) -> Result<Written> {
        let map = self.map();
        let mut batches: BTreeMap<u32, Vec<&TimeSeries>> = BTreeMap::new();
        for s in series {
            batches
                .entry(map.shard_for(&s.labels).id)
                .or_default()
                .push(s);
        }
        let sends = batches.into_iter().map(|(id, batch)| async move {
            match self.shard(id) {
                Some(shard) => self.write_shard(shard, &batch, batch_id).await,
                None => Err(Error::Shard {
                    shard: id,
                    reason: "not in the shard map".into(),
                }),
            }
        });
        let mut total = Written::default();
        let mut first_error = None;
        for r in futures::future::join_all(sends).await {
            match r {
                Ok(n) => {
                    total.samples += n.samples;
                    total.exemplars += n.exemplars;
                    total.histograms += n.histograms;
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            None => Ok(total),
            Some(e) => Err(e),
        }
    }
}

#[async_trait::async_trait]
impl SampleReader for ShardedStorage {
    /// One request per shard with every selection, all shards at once; the answers are
    /// merged and the budget checked again over the whole (each shard checks it alone).
    async fn select(&self, req: SelectRequest) -> Result<Vec<SeriesChunks>> {
        let (max_series, max_samples) = (req.max_series, req.max_samples);
        let parts = self
            .fan_out(|mut c, follower| {
                let req = with_read_mode(req.clone(), follower);
                async move {
                    let stream = c.select(req).await?;
                    let (md, stream, ext) = stream.into_parts();
                    let series = collect_select(stream)
                        .await
                        .map_err(|e| Status::internal(e.to_string()))?;
                    Ok(Response::from_parts(md, series, ext))
                }
            })
            .await?;
        let merged = merge_chunked(parts)?;
        let samples: u64 = merged.iter().map(SeriesChunks::count).sum();
        if max_series > 0 && merged.len() as u64 > max_series {
            return Err(Error::over_budget("series", max_series));
        }
        if max_samples > 0 && samples > max_samples {
            return Err(Error::over_budget("samples", max_samples));
        }
        Ok(merged)
    }

    async fn info(&self) -> Result<InfoResponse> {
        let parts = self
            .fan_out(|mut c, follower| {
                let req = with_read_mode(InfoRequest {}, follower);
                async move { c.info(req).await }
            })
            .await?;
        let mut info = merge_info(parts);
        if self.inner.opts.partial_ok {
            // An answer may lack a shard that failed: nothing derived from answers may be
            // kept, so result caches stay off.
            info.late_writes = None;
        }
        Ok(info)
    }

    async fn series(&self, req: SeriesRequest) -> Result<Vec<TimeSeries>> {
        let limit = req.limit as usize;
        let parts = self
            .fan_out(|mut c, follower| {
                let req = with_read_mode(req.clone(), follower);
                async move { c.series(req).await.map(|r| r.map(|s| s.series)) }
            })
            .await?;
        let mut merged = merge_series(parts);
        if limit > 0 {
            merged.truncate(limit);
        }
        Ok(merged)
    }

    async fn label_names(&self, req: LabelNamesRequest) -> Result<Vec<String>> {
        let parts = self
            .fan_out(|mut c, follower| {
                let req = with_read_mode(req.clone(), follower);
                async move { c.label_names(req).await.map(|r| r.map(|s| s.values)) }
            })
            .await?;
        Ok(union_sorted(parts))
    }

    async fn label_values(&self, req: LabelValuesRequest) -> Result<Vec<String>> {
        let parts = self
            .fan_out(|mut c, follower| {
                let req = with_read_mode(req.clone(), follower);
                async move { c.label_values(req).await.map(|r| r.map(|s| s.values)) }
            })
            .await?;
        Ok(union_sorted(parts))
    }

    /// Every shard at once; a series lives on one shard, but the answers are merged by
    /// series labels all the same (a series moved by a resharding has exemplars on both).
    async fn exemplars(&self, req: ExemplarsRequest) -> Result<Vec<SeriesExemplars>> {
        let parts = self
            .fan_out(|mut c, follower| {
                let req = with_read_mode(req.clone(), follower);
                async move { c.query_exemplars(req).await.map(|r| r.map(|s| s.series)) }
            })
            .await?;
        Ok(merge_exemplars(parts))
    }
}
