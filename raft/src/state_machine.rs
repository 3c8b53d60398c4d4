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
    BasicNode, Entry, EntryPayload, LogId, OptionalSend, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};
use telltale_storage::{Engine, EngineOptions, Maintenance, WriteCommand};
use tracing::{info, warn};

use crate::archive;
use crate::error::{Error, Result};
use crate::types::{NodeId, Request, Response, SmMeta, TypeConfig, decode, encode};

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
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
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
        fs::create_dir_all(data_dir.join("snapshots"))
            .map_err(io_err("creating the snapshot directory"))?;
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

    /// The index up to which applied entries survive a crash.
    pub fn durable_index(&self) -> Arc<AtomicU64> {
        self.durable.clone()
    }

    fn refresh_durable(&self, engine: &Engine) {
        self.durable.store(engine.durable().0, Ordering::Release);
    }

    fn snapshot_dir(&self) -> PathBuf {
        self.data_dir.join("snapshots")
    }

    /// Replaces the engine with the checkpoint in snapshot file `file` (blocking).
    fn install(&self, file: &Path) -> Result<()> {
        let next = self.generation.load(Ordering::Acquire) + 1;
        let sm_dir = self.data_dir.join("sm");
        let dir = sm_dir.join(next.to_string());
        let _ = fs::remove_dir_all(&dir);
        let input = fs::File::open(file).map_err(io_err(format!("opening {}", file.display())))?;
        let files = archive::unpack(input, &dir).map_err(io_err("unpacking a snapshot"))?;
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
        info!(files, generation = next, "snapshot installed");
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

/// What `snapshots/current.meta` holds: the snapshot's metadata and its file name.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    file: String,
}

/// The Raft state machine over a [`SharedEngine`].
#[derive(Debug, Clone)]
pub struct StateMachine {
    shared: Arc<SharedEngine>,
    meta: Arc<Mutex<SmMeta>>,
}

impl StateMachine {
    pub fn new(shared: Arc<SharedEngine>) -> Result<Self> {
        let (_, bytes) = shared.engine()?.applied();
        let meta = SmMeta::decode(&bytes)?;
        Ok(StateMachine {
            shared,
            meta: Arc::new(Mutex::new(meta)),
        })
    }

    fn meta(&self) -> SmMeta {
        self.meta
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Applies `entries` in order (blocking).
    fn apply_blocking(&self, entries: Vec<Entry<TypeConfig>>) -> Result<Vec<Response>> {
        let engine = self.shared.engine()?;
        let mut meta = self.meta();
        let mut out = Vec::with_capacity(entries.len());
        for entry in entries {
            let index = entry.log_id.index;
            meta.last_applied = Some(entry.log_id);
            let resp = match entry.payload {
                EntryPayload::Blank => {
                    engine.apply_meta(index, &meta.encode())?;
                    Response::default()
                }
                EntryPayload::Membership(m) => {
                    meta.membership = StoredMembership::new(Some(entry.log_id), m);
                    engine.apply_meta(index, &meta.encode())?;
                    Response::default()
                }
                EntryPayload::Normal(req) => self.apply_write(&engine, &mut meta, index, &req)?,
            };
            out.push(resp);
        }
        self.shared.refresh_durable(&engine);
        *self.meta.lock().unwrap_or_else(PoisonError::into_inner) = meta;
        Ok(out)
    }

    fn apply_write(
        &self,
        engine: &Engine,
        meta: &mut SmMeta,
        index: u64,
        req: &Request,
    ) -> Result<Response> {
        if meta.is_duplicate(req) {
            engine.apply_meta(index, &meta.encode())?;
            return Ok(Response {
                samples: 0,
                duplicate: true,
            });
        }
        meta.record(req, index);
        let cmd = WriteCommand::decode(&req.command)?;
        let samples = engine.apply(index, &cmd, &meta.encode())?;
        Ok(Response {
            samples,
            duplicate: false,
        })
    }

    fn current_meta_path(&self) -> PathBuf {
        self.shared.snapshot_dir().join("current.meta")
    }

    /// Records `file` (in the snapshot directory) as the current snapshot and removes
    /// older snapshot files.
    fn set_current(&self, stored: &StoredSnapshot) -> Result<()> {
        write_atomic(&self.current_meta_path(), &encode(stored)?)?;
        if let Ok(entries) = fs::read_dir(self.shared.snapshot_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.ends_with(".snap") && name != stored.file {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    fn load_current(&self) -> Result<Option<StoredSnapshot>> {
        match fs::read(self.current_meta_path()) {
            Ok(bytes) => Ok(Some(decode(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading the snapshot metadata", e)),
        }
    }

    /// Builds a snapshot of everything applied (blocking).
    fn build_blocking(&self) -> Result<StoredSnapshot> {
        let engine = self.shared.engine()?;
        let dir = self.shared.snapshot_dir();
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let checkpoint = dir.join(format!("checkpoint-{stamp}"));
        let (seq, meta_bytes) = engine.snapshot(&checkpoint)?;
        self.shared.refresh_durable(&engine);
        let meta = SmMeta::decode(&meta_bytes)?;
        let id = match meta.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id.term, l.index, stamp),
            None => format!("0-0-{stamp}"),
        };
        let file = format!("{id}.snap");
        let packed = archive::pack(&checkpoint, &dir.join(&file));
        let _ = fs::remove_dir_all(&checkpoint);
        let bytes = packed.map_err(io_err("packing a snapshot"))?;
        let stored = StoredSnapshot {
            meta: SnapshotMeta {
                last_log_id: meta.last_applied,
                last_membership: meta.membership.clone(),
                snapshot_id: id,
            },
            file,
        };
        self.set_current(&stored)?;
        info!(seq, bytes, "snapshot built");
        Ok(stored)
    }

    async fn open_snapshot(&self, stored: StoredSnapshot) -> Result<Snapshot<TypeConfig>> {
        let path = self.shared.snapshot_dir().join(&stored.file);
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(io_err(format!("opening {}", path.display())))?;
        Ok(Snapshot {
            meta: stored.meta,
            snapshot: Box::new(file),
        })
    }
}

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
        let stored = blocking(move || this.build_blocking())
            .await
            .map_err(|e| StorageError::from(StorageIOError::write_snapshot(None, &e)))?;
        self.open_snapshot(stored)
            .await
            .map_err(|e| StorageIOError::read_snapshot(None, &e).into())
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
        let this = self.clone();
        blocking(move || this.apply_blocking(entries))
            .await
            .map_err(sm_write_err)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<tokio::fs::File>> {
        let path = self.shared.snapshot_dir().join("incoming.part");
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
        file.sync_all()
            .await
            .map_err(|e| sm_write_err(Error::io("syncing the received snapshot", e)))?;
        drop(file);
        let name = format!("{}.snap", meta.snapshot_id);
        let dir = self.shared.snapshot_dir();
        let path = dir.join(&name);
        tokio::fs::rename(dir.join("incoming.part"), &path)
            .await
            .map_err(|e| sm_write_err(Error::io("keeping the received snapshot", e)))?;
        let this = self.clone();
        let stored = StoredSnapshot {
            meta: meta.clone(),
            file: name,
        };
        let expected = meta.last_log_id;
        blocking(move || {
            this.shared
                .install(&this.shared.snapshot_dir().join(&stored.file))?;
            let (_, bytes) = this.shared.engine()?.applied();
            let installed = SmMeta::decode(&bytes)?;
            if installed.last_applied != expected {
                return Err(Error::Raft(format!(
                    "snapshot holds {:?}, its metadata says {:?}",
                    installed.last_applied, expected
                )));
            }
            *this.meta.lock().unwrap_or_else(PoisonError::into_inner) = installed;
            this.set_current(&stored)
        })
        .await
        .map_err(sm_write_err)
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let Some(stored) = self.load_current().map_err(sm_read_err)? else {
            return Ok(None);
        };
        match self.open_snapshot(stored).await {
            Ok(s) => Ok(Some(s)),
            Err(e) => {
                warn!(error = %e, "the current snapshot cannot be opened");
                Ok(None)
            }
        }
    }
}
