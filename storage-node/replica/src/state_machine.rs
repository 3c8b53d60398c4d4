//! [`StateMachine`]: the storage engine as the Raft state machine. Entries are applied
//! with their log index as the engine's sequence number and [`SmMeta`] as its metadata,
//! so the engine's applied (and, after a crash, durable) state says exactly which entries
//! it holds. Snapshots are engine checkpoints packed into one file ([`crate::archive`]).
//!
//! On disk under the data directory: `sm/CURRENT` names the engine generation in use,
//! `sm/<generation>/` is its database; `snapshots/` holds the latest snapshot file and
//! its metadata. Installing a snapshot unpacks it into a new generation, swaps the engine
//! and only then switches `CURRENT`, so a crash leaves either the old or the new engine.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder,
    SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use telltale_storage::{Engine, EngineOptions, Maintenance};
use tracing::{info, warn};

use crate::archive;
use crate::error::{Error, Result};
use crate::snapshots::{MANIFEST_MAGIC, Manifest, Snapshots};
use crate::types::{NodeId, Response, SmMeta, TypeConfig};

type StorageResult<T> = std::result::Result<T, StorageError<NodeId>>;

/// How often the background work of the engine runs.
const MAINTENANCE_TICK: Duration = Duration::from_secs(1);

/// The engine of a replica, swappable when a snapshot is installed; shared by the state
/// machine and the gRPC readers.
pub struct SharedEngine {
    data_dir: PathBuf,
    opts: EngineOptions,
    registry: prometheus::Registry,
    engine: RwLock<Option<Arc<Engine>>>,
    maintenance: Mutex<Option<Maintenance>>,
    generation: AtomicU64,
    /// The engine's durable index, read by the log store before purging.
    durable: Arc<AtomicU64>,
}

impl std::fmt::Debug for SharedEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedEngine")
            .field("data_dir", &self.data_dir)
            .field("generation", &self.generation.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::io(context, source)
}

/// Writes `bytes` to `path` through a synced temporary file and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        if let Some(parent) = path.parent() {
            fs::File::open(parent)?.sync_all()?;
        }
        Ok(())
    };
    write().map_err(io_err(format!("writing {}", path.display())))
}

impl SharedEngine {
    /// Opens the engine generation named by `sm/CURRENT` (the first one on a new disk)
    /// and removes generations left over by an interrupted snapshot install.
    pub fn open(
        data_dir: &Path,
        opts: EngineOptions,
        registry: &prometheus::Registry,
    ) -> Result<Arc<Self>> {
        let sm_dir = data_dir.join("sm");
        fs::create_dir_all(&sm_dir).map_err(io_err(format!("creating {}", sm_dir.display())))?;
        let current = sm_dir.join("CURRENT");
        let generation = match fs::read_to_string(&current) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .map_err(|e| Error::Decode(format!("{}: {e}", current.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_atomic(&current, b"1")?;
                1
            }
            Err(e) => return Err(Error::io(format!("reading {}", current.display()), e)),
        };
        if let Ok(entries) = fs::read_dir(&sm_dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.parse::<u64>().is_ok_and(|g| g != generation) {
                    info!(dir = %entry.path().display(), "removing a stale engine generation");
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
        let engine = Arc::new(Engine::open(
            &sm_dir.join(generation.to_string()),
            opts.clone(),
            registry,
        )?);
        let durable = Arc::new(AtomicU64::new(engine.durable().0));
        let maintenance = engine.start_maintenance(MAINTENANCE_TICK);
        Ok(Arc::new(SharedEngine {
            data_dir: data_dir.to_path_buf(),
            opts,
            registry: registry.clone(),
            engine: RwLock::new(Some(engine)),
            maintenance: Mutex::new(Some(maintenance)),
            generation: AtomicU64::new(generation),
            durable,
        }))
    }

    /// The engine in use; fails only while a snapshot is being installed.
    pub fn engine(&self) -> Result<Arc<Engine>> {
        self.engine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| Error::Raft("a snapshot is being installed; retry".into()))
    }

    /// The replica's data directory (`--data-dir`).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The index up to which applied entries survive a crash.
    pub fn durable_index(&self) -> Arc<AtomicU64> {
        self.durable.clone()
    }

    fn refresh_durable(&self, engine: &Engine) {
        self.durable.store(engine.durable().0, Ordering::Release);
    }

    /// Replaces the engine with the checkpoint in directory `received` (a snapshot
    /// received from the leader; moved, not copied) (blocking).
    fn install(&self, received: &Path) -> Result<()> {
        let next = self.generation.load(Ordering::Acquire) + 1;
        let sm_dir = self.data_dir.join("sm");
        let dir = sm_dir.join(next.to_string());
        let _ = fs::remove_dir_all(&dir);
        fs::rename(received, &dir).map_err(io_err(format!(
            "moving {} to {}",
            received.display(),
            dir.display()
        )))?;
        fs::File::open(&sm_dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("syncing the engine directory"))?;
        // Close the old engine: stop its background work, wait for readers in flight.
        drop(
            self.maintenance
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let old = self
            .engine
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let old_dir = sm_dir.join(self.generation.load(Ordering::Acquire).to_string());
        let registry = match old.map(wait_unique) {
            Some(Err(still_shared)) => {
                warn!("old engine still in use after a snapshot install; its metrics stay");
                drop(still_shared);
                prometheus::Registry::new()
            }
            _ => self.registry.clone(),
        };
        let engine = Arc::new(Engine::open(&dir, self.opts.clone(), &registry)?);
        write_atomic(&sm_dir.join("CURRENT"), next.to_string().as_bytes())?;
        self.generation.store(next, Ordering::Release);
        self.refresh_durable(&engine);
        *self
            .maintenance
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            Some(engine.start_maintenance(MAINTENANCE_TICK));
        *self.engine.write().unwrap_or_else(PoisonError::into_inner) = Some(engine);
        let _ = fs::remove_dir_all(&old_dir);
        info!(generation = next, "snapshot installed");
        Ok(())
    }
}

/// Waits (briefly) until `engine` is the last handle, then drops it so its database and
/// metrics are released; gives it back if readers still hold it.
fn wait_unique(mut engine: Arc<Engine>) -> std::result::Result<(), Arc<Engine>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Arc::try_unwrap(engine) {
            Ok(e) => {
                drop(e);
                return Ok(());
            }
            Err(shared) if Instant::now() < deadline => {
                engine = shared;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(shared) => return Err(shared),
        }
    }
}

/// The Raft state machine over a [`SharedEngine`].
#[derive(Debug, Clone)]
pub struct StateMachine {
    shared: Arc<SharedEngine>,
    snapshots: Arc<Snapshots>,
    meta: Arc<Mutex<Applier>>,
}

/// The state machine's metadata and the leader it was last handed to the engine for.
#[derive(Debug)]
struct Applier {
    meta: SmMeta,
    /// The leader of `meta.last_applied` when the engine last got the encoded metadata.
    stored: Option<Option<CommittedLeaderId<NodeId>>>,
}

impl Applier {
    /// The encoded metadata when the engine must get it (a new leader, or `always`);
    /// empty when the engine's copy still holds (its index follows the engine's).
    fn changed_meta(&mut self, always: bool) -> Vec<u8> {
        let leader = self.meta.last_applied.map(|l| l.leader_id);
        if !always && self.stored == Some(leader) {
            return Vec::new();
        }
        self.stored = Some(leader);
        self.meta.encode()
    }
}

impl StateMachine {
    pub fn new(shared: Arc<SharedEngine>, snapshots: Arc<Snapshots>) -> Result<Self> {
        let engine = shared.engine()?;
        let (seq, bytes) = engine.applied();
        let (meta, legacy) = SmMeta::decode(&bytes, seq)?;
        if !legacy.is_empty() {
            // An earlier release kept the writers' last batches here: the engine takes
            // them over (and keeps them from its next flush on).
            engine.import_sessions(legacy);
        }
        Ok(StateMachine {
            shared,
            snapshots,
            meta: Arc::new(Mutex::new(Applier { meta, stored: None })),
        })
    }

    fn meta(&self) -> SmMeta {
        self.meta
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .meta
            .clone()
    }

    /// Applies `entries` in order (blocking).
    fn apply_blocking(&self, entries: Vec<Entry<TypeConfig>>) -> Result<Vec<Response>> {
        let engine = self.shared.engine()?;
        let mut applier = self.meta.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let index = entry.log_id.index;
            applier.meta.last_applied = Some(entry.log_id);
            let resp = match entry.payload {
                EntryPayload::Blank => {
                    engine.apply_meta(index, &applier.changed_meta(true))?;
                    Response::default()
                }
                EntryPayload::Membership(m) => {
                    applier.meta.membership = StoredMembership::new(Some(entry.log_id), m);
                    engine.apply_meta(index, &applier.changed_meta(true))?;
                    Response::default()
                }
                EntryPayload::Normal(req) => {
                    let meta = applier.changed_meta(false);
                    let meta = (!meta.is_empty()).then_some(meta.as_slice());
                    let applied = engine.apply(index, req.batch(), &req.command, meta)?;
                    Response {
                        samples: applied.samples,
                        duplicate: applied.duplicate,
                        exemplars: applied.exemplars,
                    }
                }
            };
            out.push(resp);
        }
        drop(applier);
        self.shared.refresh_durable(&engine);
        Ok(out)
    }

    /// Builds a snapshot: the engine flushed, its state recorded (blocking). openraft
    /// keeps only the metadata of a built snapshot (to purge the log before it); the data
    /// handle is the recorded metadata file. What a follower receives is made when it is
    /// needed ([`RaftStateMachine::get_current_snapshot`]).
    fn build_blocking(&self) -> Result<(SnapshotMeta<NodeId, BasicNode>, PathBuf)> {
        let engine = self.shared.engine()?;
        let meta = self.snapshots.build(&engine)?;
        self.shared.refresh_durable(&engine);
        Ok((meta, self.snapshots.path("built.meta")))
    }

    /// A checkpoint of everything applied, for a follower (blocking).
    fn current_blocking(&self) -> Result<Option<(SnapshotMeta<NodeId, BasicNode>, PathBuf)>> {
        let engine = self.shared.engine()?;
        if engine.applied_seq() == 0 {
            return Ok(None);
        }
        let path = self.snapshots.for_sending(&engine)?;
        self.shared.refresh_durable(&engine);
        let bytes = fs::read(&path).map_err(io_err(format!("reading {}", path.display())))?;
        let manifest = Manifest::decode(&bytes)
            .ok_or_else(|| Error::Decode(format!("{} is not a manifest", path.display())))??;
        Ok(Some((manifest.meta, path)))
    }

    /// Installs a received snapshot: `file` is a manifest naming the directory a stream
    /// was received into, or the packed file an earlier release's leader sent in chunks
    /// (blocking).
    fn install_blocking(
        &self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        mut file: fs::File,
    ) -> Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let read_err = io_err("reading the received snapshot");
        file.seek(SeekFrom::Start(0)).map_err(read_err)?;
        let mut magic = [0u8; 8];
        let n = file
            .read(&mut magic)
            .map_err(io_err("reading the received snapshot"))?;
        let received = if n == magic.len() && &magic == MANIFEST_MAGIC {
            let mut bytes = magic.to_vec();
            file.read_to_end(&mut bytes)
                .map_err(io_err("reading the snapshot manifest"))?;
            let manifest = Manifest::decode(&bytes)
                .unwrap_or_else(|| Err(Error::Decode("the snapshot manifest is damaged".into())))?;
            self.snapshots.path(&manifest.dir)
        } else {
            file.seek(SeekFrom::Start(0))
                .map_err(io_err("reading the received snapshot"))?;
            let dir = self.snapshots.incoming(&meta.snapshot_id);
            archive::unpack(file, &dir).map_err(io_err("unpacking a snapshot"))?;
            let _ = fs::remove_file(self.snapshots.path("incoming.part"));
            dir
        };
        self.shared.install(&received)?;
        let engine = self.shared.engine()?;
        let (seq, bytes) = engine.applied();
        let (installed, legacy) = SmMeta::decode(&bytes, seq)?;
        if installed.last_applied != meta.last_log_id {
            return Err(Error::Raft(format!(
                "snapshot holds {:?}, its metadata says {:?}",
                installed.last_applied, meta.last_log_id
            )));
        }
        engine.import_sessions(legacy);
        self.shared.refresh_durable(&engine);
        *self.meta.lock().unwrap_or_else(PoisonError::into_inner) = Applier {
            meta: installed,
            stored: None,
        };
        Ok(())
    }
}

async fn open_file(path: &Path) -> Result<Box<tokio::fs::File>> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(io_err(format!("opening {}", path.display())))?;
    Ok(Box::new(file))
}

/// Entries carrying at most this many bytes of records are applied on the state
/// machine's task rather than a blocking thread: a scrape of 1,000 series is a record of
/// about 18 KB and applies in a fraction of a millisecond (the head's appends; RocksDB
/// only for new series or a new day), which saves the hand-off to a blocking thread and
/// back. Its effect on scrape CPU is measured only together with the other changes of
/// that README row (inside the run-to-run spread).
const INLINE_APPLY_BYTES: usize = 32 << 10;

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Raft(format!("blocking task failed: {e}")))?
}

fn sm_read_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::read_state_machine(&e).into()
}

fn sm_write_err(e: Error) -> StorageError<NodeId> {
    StorageIOError::write_state_machine(&e).into()
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        let this = self.clone();
        let (meta, path) = blocking(move || this.build_blocking())
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_snapshot(None, &e)))?;
        let snapshot = open_file(&path)
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e))?;
        Ok(Snapshot { meta, snapshot })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>)> {
        let meta = self.meta();
        Ok((meta.last_applied, meta.membership))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Response>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let bytes: usize = entries
            .iter()
            .map(|e| match &e.payload {
                EntryPayload::Normal(req) => req.command.len(),
                _ => 0,
            })
            .sum();
        if bytes <= INLINE_APPLY_BYTES {
            // A scrape's write: applied here, on the state machine's task.
            return self.apply_blocking(entries).map_err(sm_write_err);
        }
        let this = self.clone();
        blocking(move || this.apply_blocking(entries))
            .await
            .map_err(sm_write_err)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<tokio::fs::File>> {
        // Only an earlier release's leader sends snapshots in chunks.
        let path = self.snapshots.path("incoming.part");
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .await
            .map_err(|e| sm_write_err(Error::io("creating the incoming snapshot file", e)))?;
        Ok(Box::new(file))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<tokio::fs::File>,
    ) -> StorageResult<()> {
        let mut file = *snapshot;
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| sm_write_err(Error::io("flushing the received snapshot", e)))?;
        let file = file.into_std().await;
        let this = self.clone();
        let meta = meta.clone();
        blocking(move || this.install_blocking(&meta, file))
            .await
            .map_err(sm_write_err)
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let this = self.clone();
        let Some((meta, path)) = blocking(move || this.current_blocking())
            .await
            .map_err(sm_read_err)?
        else {
            return Ok(None);
        };
        let snapshot = open_file(&path).await.map_err(sm_read_err)?;
        Ok(Some(Snapshot { meta, snapshot }))
    }
}
