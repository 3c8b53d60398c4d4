//! [`Snapshots`]: where a replica keeps what its Raft snapshots need, under
//! `<data-dir>/snapshots/`.
//!
//! The engine is its own snapshot. Building one (what openraft asks for every so many
//! entries or log bytes) flushes the engine, which makes everything applied durable so the
//! log before it can be purged, and records the snapshot's metadata (`built.meta`): no
//! copy of the engine is made. Only when a follower needs the snapshot (it is behind the
//! purged log, or new) does the leader take a RocksDB checkpoint (hard links: no data is
//! copied) in `send-<stamp>/` with a `send-<stamp>.manifest` naming it and the log id it
//! holds, stream it, and drop it once no transfer uses it. A follower receives into
//! `incoming-<id>/` and installs that directory as its engine.
//!
//! Earlier releases packed a full copy of the engine into `<id>.snap` at every snapshot
//! (named by `current.meta`); those files are removed at open.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openraft::{BasicNode, SnapshotMeta};
use serde::{Deserialize, Serialize};
use telltale_storage::Engine;
use tracing::{debug, info};

use crate::error::{Error, Result};
use crate::state_machine::write_atomic;
use crate::types::{NodeId, SmMeta, decode, encode};

/// A checkpoint made for sending is removed when no transfer uses it and it is older
/// than this (the newest is kept while young: a follower that asks again before
/// anything is applied reuses it).
const SEND_REUSE: Duration = Duration::from_secs(60);

/// First bytes of a manifest file (an older release's snapshot file starts with
/// `TTSNAP1\n` instead).
pub const MANIFEST_MAGIC: &[u8; 8] = b"TTMANIF1";

/// What a snapshot's data handle names: a checkpoint directory under `snapshots/` and
/// the state it holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub meta: SnapshotMeta<NodeId, BasicNode>,
    /// Directory name under `snapshots/`.
    pub dir: String,
}

impl Manifest {
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = MANIFEST_MAGIC.to_vec();
        out.extend(encode(self)?);
        Ok(out)
    }

    /// `None` when `bytes` are not a manifest.
    pub fn decode(bytes: &[u8]) -> Option<Result<Self>> {
        let rest = bytes.strip_prefix(MANIFEST_MAGIC.as_slice())?;
        Some(decode(rest))
    }
}

/// The snapshot directory of one replica. Shared by the state machine (building and
/// installing) and the network (leasing checkpoints while they are sent).
#[derive(Debug)]
pub struct Snapshots {
    dir: PathBuf,
    /// Checkpoints being sent, and by how many transfers.
    leased: Mutex<HashMap<String, usize>>,
}

/// Keeps a sent checkpoint from being removed until dropped.
#[derive(Debug)]
pub struct Lease {
    snapshots: Arc<Snapshots>,
    name: String,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut leased = self.snapshots.leases();
        if let Some(n) = leased.get_mut(&self.name) {
            *n -= 1;
            if *n == 0 {
                leased.remove(&self.name);
            }
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::io(context, source)
}

fn stamp() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

impl Snapshots {
    /// Opens `<data_dir>/snapshots`, removing what an earlier release or an interrupted
    /// transfer left there.
    pub fn open(data_dir: &Path) -> Result<Arc<Self>> {
        let dir = data_dir.join("snapshots");
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let stale = name.ends_with(".snap")
                || name == "current.meta"
                || name == "incoming.part"
                || name.starts_with("incoming-")
                || name.starts_with("send-")
                || name.ends_with(".tmp");
            if stale {
                info!(path = %entry.path().display(), "removing a stale snapshot file");
                let _ = fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
            }
        }
        Ok(Arc::new(Snapshots {
            dir,
            leased: Mutex::new(HashMap::new()),
        }))
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.leased.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn built_path(&self) -> PathBuf {
        self.dir.join("built.meta")
    }

    /// The metadata of the last snapshot built (the engine flushed up to it).
    pub fn built(&self) -> Result<Option<SnapshotMeta<NodeId, BasicNode>>> {
        match fs::read(self.built_path()) {
            Ok(bytes) => Ok(Some(decode(&bytes)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("reading the snapshot metadata", e)),
        }
    }

    /// Builds a snapshot: flushes `engine` (everything applied becomes durable) and
    /// records the state it holds. Nothing is copied.
    pub fn build(&self, engine: &Engine) -> Result<SnapshotMeta<NodeId, BasicNode>> {
        engine.flush()?;
        let (seq, bytes) = engine.durable();
        let meta = snapshot_meta(seq, &bytes, "built")?;
        write_atomic(&self.built_path(), &encode(&meta)?)?;
        self.cleanup();
        info!(index = seq, "snapshot built (engine flushed)");
        Ok(meta)
    }

    /// A checkpoint of `engine` to send to followers, with its manifest file: a recent one
    /// when it still holds everything applied or is fresh enough, else a new one.
    pub fn for_sending(&self, engine: &Engine) -> Result<PathBuf> {
        if let Some(path) = self.reusable(engine) {
            return Ok(path);
        }
        let name = format!("send-{}", stamp());
        let dir = self.dir.join(&name);
        let (seq, bytes) = engine.snapshot(&dir)?;
        let manifest = Manifest {
            meta: snapshot_meta(seq, &bytes, &name)?,
            dir: name.clone(),
        };
        let path = self.dir.join(format!("{name}.manifest"));
        write_atomic(&path, &manifest.encode()?)?;
        self.cleanup();
        info!(index = seq, checkpoint = %name, "snapshot checkpoint made for sending");
        Ok(path)
    }

    /// The newest sending checkpoint, if nothing was applied since it was made. Only
    /// then: Raft expects the snapshot it ships to be at least as new as the last one
    /// it built or installed, and an older checkpoint would roll a follower back.
    fn reusable(&self, engine: &Engine) -> Option<PathBuf> {
        let (name, _) = self.send_checkpoints().into_iter().next()?;
        let path = self.dir.join(format!("{name}.manifest"));
        let manifest = Manifest::decode(&fs::read(&path).ok()?)?.ok()?;
        let held = manifest.meta.last_log_id.map_or(0, |l| l.index);
        (held == engine.applied_seq()).then_some(path)
    }

    /// Sending checkpoints, newest first, with their age.
    fn send_checkpoints(&self) -> Vec<(String, Duration)> {
        let mut found: Vec<(String, Duration)> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let is_dir = e.file_type().ok()?.is_dir();
                let age = e
                    .metadata()
                    .ok()?
                    .modified()
                    .ok()?
                    .elapsed()
                    .unwrap_or_default();
                (is_dir && name.starts_with("send-")).then_some((name, age))
            })
            .collect();
        found.sort_by_key(|(_, age)| *age);
        found
    }

    /// Takes a lease on the checkpoint a manifest names.
    pub fn lease(self: &Arc<Self>, manifest: &Manifest) -> Lease {
        *self.leases().entry(manifest.dir.clone()).or_default() += 1;
        Lease {
            snapshots: self.clone(),
            name: manifest.dir.clone(),
        }
    }

    /// Removes sending checkpoints no transfer uses, except the newest while it is young.
    pub fn cleanup(&self) {
        let leased = self.leases().clone();
        for (i, (name, age)) in self.send_checkpoints().into_iter().enumerate() {
            if leased.contains_key(&name) || (i == 0 && age < SEND_REUSE) {
                continue;
            }
            debug!(checkpoint = %name, "removing a sent checkpoint");
            let _ = fs::remove_dir_all(self.dir.join(&name));
            let _ = fs::remove_file(self.dir.join(format!("{name}.manifest")));
        }
    }

    /// A fresh directory to receive a snapshot into.
    pub fn incoming(&self, snapshot_id: &str) -> PathBuf {
        let safe: String = snapshot_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.dir.join(format!("incoming-{safe}-{}", stamp()))
    }
}

/// The snapshot metadata of an engine state: its sequence number and the state machine's
/// metadata with it.
fn snapshot_meta(seq: u64, meta_bytes: &[u8], id: &str) -> Result<SnapshotMeta<NodeId, BasicNode>> {
    let (meta, _) = SmMeta::decode(meta_bytes, seq)?;
    let snapshot_id = match meta.last_applied {
        Some(l) => format!("{}-{}-{id}", l.leader_id.term, l.index),
        None => format!("0-0-{id}"),
    };
    Ok(SnapshotMeta {
        last_log_id: meta.last_applied,
        last_membership: meta.membership,
        snapshot_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_older_layout_is_removed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let snaps = dir.path().join("snapshots");
        fs::create_dir_all(snaps.join("send-1")).unwrap();
        fs::write(snaps.join("1-59-123.snap"), b"TTSNAP1\n").unwrap();
        fs::write(snaps.join("current.meta"), b"x").unwrap();
        fs::write(snaps.join("incoming.part"), b"x").unwrap();
        fs::write(snaps.join("built.meta"), b"kept").unwrap();
        Snapshots::open(dir.path()).unwrap();
        let left: Vec<String> = fs::read_dir(&snaps)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(left, vec!["built.meta".to_string()]);
    }

    /// A checkpoint made for sending is reused only while nothing was applied since: Raft
    /// expects the snapshot it ships to be no older than the last one it built.
    #[test]
    fn a_sending_checkpoint_is_reused_only_while_current() {
        use openraft::{CommittedLeaderId, LogId};
        use telltale_storage::EngineOptions;
        use telltale_storage_api::{Label, Sample, TimeSeries};

        let dir = tempfile::tempdir().unwrap();
        let snapshots = Snapshots::open(dir.path()).unwrap();
        let engine = Engine::open(
            &dir.path().join("engine"),
            EngineOptions::default(),
            &prometheus::Registry::new(),
        )
        .unwrap();
        let write = |t: i64| {
            let series = TimeSeries {
                labels: vec![Label {
                    name: "__name__".into(),
                    value: "m".into(),
                }],
                samples: vec![Sample {
                    timestamp_ms: t,
                    value: 1.0,
                }],
                exemplars: Vec::new(),
                histograms: Vec::new(),
            };
            engine.apply_write(&[series]).unwrap();
            let seq = engine.applied_seq();
            let meta = SmMeta {
                last_applied: Some(LogId::new(CommittedLeaderId::new(1, 1), seq)),
                membership: Default::default(),
            };
            engine.apply_meta(seq + 1, &meta.encode()).unwrap();
        };
        let index = |path: &Path| {
            let m = Manifest::decode(&fs::read(path).unwrap()).unwrap().unwrap();
            m.meta.last_log_id.unwrap().index
        };
        write(1);
        let first = snapshots.for_sending(&engine).unwrap();
        let first_index = index(&first);
        assert_eq!(snapshots.for_sending(&engine).unwrap(), first, "reused");
        write(2);
        let second = snapshots.for_sending(&engine).unwrap();
        assert_ne!(second, first, "a young but stale checkpoint is not reused");
        assert!(index(&second) > first_index);
    }

    #[test]
    fn manifests_round_trip_and_other_files_are_not_manifests() {
        let m = Manifest {
            meta: SnapshotMeta::default(),
            dir: "send-1".into(),
        };
        let back = Manifest::decode(&m.encode().unwrap()).unwrap().unwrap();
        assert_eq!(back.dir, "send-1");
        assert!(Manifest::decode(b"TTSNAP1\nrest").is_none());
        assert!(Manifest::decode(b"TTMANIF1\xff").unwrap().is_err());
    }
}
