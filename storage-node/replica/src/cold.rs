//! The cold tier of a replica (see `telltale_storage::cold`): [`ColdBucket`], the object
//! store days move to (`s3://bucket/prefix` or `file:///path`, each shard under
//! `shard-<N>/`), and the leader's mover, which exports the days due, uploads them,
//! reads them back and checks them, then moves them through the log.
//!
//! Beside each object, `<object>.json` is its manifest: tier, day, size, SHA-256 (hex)
//! and the log position it holds data up to, written once the object is read back and
//! checked — so the bucket says what it holds without the replicas' metadata.
//!
//! A crash anywhere before the log record commits leaves the day local and due: the
//! next leader exports it again (under the same name only when nothing was applied in
//! between), and an object no record names is never read.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;
use openraft::ServerState;
use sha2::{Digest, Sha256};
use telltale_backup::Location;
use telltale_storage::Engine;
use telltale_storage::cold::{ColdEntry, ColdStorage};
use tokio::io::AsyncWriteExt;
use tracing::{info, warn};

use crate::storage_service::ReplicaStorage;

/// A shard's cold objects in object storage.
pub struct ColdBucket {
    location: Location,
    shard: u32,
    /// Object storage calls run here: the engine asks for objects from blocking
    /// threads, and the caller may itself be inside a runtime.
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ColdBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColdBucket")
            .field("url", &self.location.url)
            .field("shard", &self.shard)
            .finish()
    }
}

impl Drop for ColdBucket {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl ColdBucket {
    /// The cold objects of `shard` under `url`.
    pub fn open(url: &str, shard: u32) -> Result<Self, String> {
        let location = Location::parse(url).map_err(|e| e.to_string())?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cold-storage")
            .enable_all()
            .build()
            .map_err(|e| format!("starting the cold storage runtime: {e}"))?;
        Ok(ColdBucket {
            location,
            shard,
            runtime: Some(runtime),
        })
    }

    /// The URL as given.
    pub fn url(&self) -> &str {
        &self.location.url
    }

    fn path(&self, name: &str) -> ObjectPath {
        self.location
            .object(&format!("shard-{}/{name}", self.shard))
    }

    fn store(&self) -> Arc<dyn ObjectStore> {
        self.location.store.clone()
    }

    /// Runs `fut` on the bucket's runtime and waits for it from any thread.
    fn run<T: Send + 'static>(
        &self,
        fut: impl std::future::Future<Output = Result<T, String>> + Send + 'static,
    ) -> Result<T, String> {
        let rt = self.runtime.as_ref().ok_or("cold storage is shut down")?;
        let (tx, rx) = std::sync::mpsc::channel();
        rt.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| "the cold storage call was cancelled".to_string())?
    }
}

impl ColdStorage for ColdBucket {
    fn upload_checked(&self, src: &Path, entry: &ColdEntry) -> Result<(), String> {
        let (store, path, src) = (self.store(), self.path(&entry.object), src.to_path_buf());
        let (bytes, sha256) = (entry.bytes, entry.sha256);
        let manifest_json = manifest(entry);
        self.run(async move {
            let mut file = tokio::fs::File::open(&src)
                .await
                .map_err(|e| format!("{}: {e}", src.display()))?;
            // Multipart past its buffer, so a large day is never whole in memory.
            let mut up = object_store::buffered::BufWriter::new(store.clone(), path.clone());
            tokio::io::copy(&mut file, &mut up)
                .await
                .map_err(|e| format!("uploading {path}: {e}"))?;
            up.shutdown()
                .await
                .map_err(|e| format!("uploading {path}: {e}"))?;
            let mut stream = store
                .get(&path)
                .await
                .map_err(|e| format!("reading back {path}: {e}"))?
                .into_stream();
            let (mut sha, mut size) = (Sha256::new(), 0u64);
            while let Some(chunk) = stream
                .try_next()
                .await
                .map_err(|e| format!("reading back {path}: {e}"))?
            {
                sha.update(&chunk);
                size += chunk.len() as u64;
            }
            let digest: [u8; 32] = sha.finalize().into();
            if size != bytes || digest != sha256 {
                return Err(format!(
                    "{path} read back as {size} bytes that do not match what was uploaded"
                ));
            }
            let manifest = manifest_path(&path);
            store
                .put(&manifest, manifest_json.into_bytes().into())
                .await
                .map_err(|e| format!("writing {manifest}: {e}"))?;
            Ok(())
        })
    }

    fn delete(&self, name: &str) -> Result<(), String> {
        let (store, path) = (self.store(), self.path(name));
        self.run(async move {
            for p in [manifest_path(&path), path] {
                match store.delete(&p).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(format!("deleting {p}: {e}")),
                }
            }
            Ok(())
        })
    }

    fn fetch(&self, name: &str, dest: &Path) -> Result<u64, String> {
        let (store, path, dest) = (self.store(), self.path(name), dest.to_path_buf());
        self.run(async move {
            let mut stream = store
                .get(&path)
                .await
                .map_err(|e| format!("fetching {path}: {e}"))?
                .into_stream();
            let mut file = tokio::fs::File::create(&dest)
                .await
                .map_err(|e| format!("{}: {e}", dest.display()))?;
            let mut size = 0u64;
            while let Some(chunk) = stream
                .try_next()
                .await
                .map_err(|e| format!("fetching {path}: {e}"))?
            {
                size += chunk.len() as u64;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| format!("{}: {e}", dest.display()))?;
            }
            file.flush()
                .await
                .map_err(|e| format!("{}: {e}", dest.display()))?;
            Ok(size)
        })
    }
}

/// The manifest of the object at `path`: `<path>.json`.
fn manifest_path(path: &ObjectPath) -> ObjectPath {
    ObjectPath::from(format!("{path}.json"))
}

/// The manifest of `entry`'s object (its name says tier and day).
fn manifest(entry: &ColdEntry) -> String {
    let (tier, day) = entry
        .object
        .split_once('/')
        .map(|(t, rest)| (t, rest.split('-').next().unwrap_or_default()))
        .unwrap_or_default();
    let sha256: String = entry.sha256.iter().map(|b| format!("{b:02x}")).collect();
    serde_json::json!({
        "object": entry.object,
        "tier": tier,
        "day": day.parse::<i64>().ok(),
        "bytes": entry.bytes,
        "sha256": sha256,
        "log_index": entry.seq,
    })
    .to_string()
}

/// Moves due days to `bucket` while this replica leads, every `every`, until Raft stops.
pub(crate) fn spawn_mover(storage: ReplicaStorage, bucket: Arc<dyn ColdStorage>, every: Duration) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let metrics = storage.raft().metrics().borrow().clone();
            if metrics.running_state.is_err() {
                return;
            }
            if metrics.state != ServerState::Leader {
                continue;
            }
            if let Err(e) = move_due(&storage, &bucket).await {
                warn!(error = %e, "moving days to the cold tier failed; retried next round");
            }
        }
    });
}

/// One round of the mover: every due day exported, uploaded, checked and moved; the
/// objects of days retention dropped deleted.
pub(crate) async fn move_due(
    storage: &ReplicaStorage,
    bucket: &Arc<dyn ColdStorage>,
) -> Result<usize, String> {
    let engine = storage.shared().engine().map_err(|e| e.to_string())?;
    let expired = engine.take_expired_cold();
    let due = blocking(engine.clone(), |e| e.cold_due().map_err(|e| e.to_string())).await?;
    for name in expired {
        let b = bucket.clone();
        tokio::task::spawn_blocking(move || b.delete(&name))
            .await
            .map_err(|e| e.to_string())??;
    }
    let dir = storage.shared().data_dir().join("cold-upload");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut moved = 0;
    for (tier, day) in due {
        let file = dir.join(format!("{}-{day}.ttcold", tier.name()));
        let (f, b) = (file.clone(), bucket.clone());
        let entry = blocking(engine.clone(), move |e| {
            let mut out = std::io::BufWriter::new(
                std::fs::File::create(&f).map_err(|e| format!("{}: {e}", f.display()))?,
            );
            let entry = e
                .export_cold(tier, day, &mut out)
                .map_err(|e| e.to_string())?;
            std::io::Write::flush(&mut out).map_err(|e| e.to_string())?;
            drop(out);
            b.upload_checked(&f, &entry)?;
            Ok(entry)
        })
        .await;
        let _ = tokio::fs::remove_file(&file).await;
        let entry = entry?;
        let object = entry.object.clone();
        storage
            .propose_admin(Engine::prepare_cold_moved(tier, day, entry))
            .await
            .map_err(|s| format!("moving {object} through the log: {}", s.message()))?;
        info!(tier = tier.name(), day, %object, "day moved to object storage");
        moved += 1;
    }
    Ok(moved)
}

async fn blocking<T: Send + 'static>(
    engine: Arc<Engine>,
    f: impl FnOnce(&Engine) -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(move || f(&engine))
        .await
        .map_err(|e| e.to_string())?
}
