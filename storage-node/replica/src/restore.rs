//! [`become_group_of_one`]: a data directory restored from a backup (a snapshot of any
//! shard's group, of one replica or five) made the data of a new group with replica 1 as
//! its only voter, so `telltale standalone` serves it, or a new cluster's first replica
//! starts from it and grows by membership changes. The Raft log is not part of a
//! snapshot: the group starts from the applied state, with a vote of the term that state
//! was written in (the next election then goes past it, as Raft requires of a leader).

use std::collections::BTreeSet;
use std::path::Path;

use openraft::storage::RaftLogStorage;
use openraft::{Membership, StoredMembership, Vote};
use telltale_storage::{Engine, EngineOptions};

use crate::error::{Error, Result};
use crate::log_store::LogStore;
use crate::types::SmMeta;

/// Rewrites the membership kept in `data_dir`'s engine to replica 1 alone (the engine is
/// opened without its maintenance, so no retention runs) and flushes it.
pub async fn become_group_of_one(data_dir: &Path) -> Result<()> {
    let sm = data_dir.join("sm");
    let current = sm.join("CURRENT");
    let generation = std::fs::read_to_string(&current)
        .map_err(|e| Error::io(format!("reading {}", current.display()), e))?;
    let dir = sm.join(generation.trim());
    let engine = Engine::open(&dir, EngineOptions::default(), &prometheus::Registry::new())?;
    let (seq, bytes) = engine.applied();
    let (mut meta, _) = SmMeta::decode(&bytes, seq)?;
    let log_id = *meta.membership.log_id();
    meta.membership =
        StoredMembership::new(log_id, Membership::new(vec![BTreeSet::from([1])], None));
    engine.replace_applied_meta(&meta.encode());
    engine.flush()?;
    let term = meta.last_applied.map_or(0, |l| l.leader_id.term);
    drop(engine);
    // The vote lives with the log: a new log holding the applied state's term.
    let durable = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(seq));
    let mut log = LogStore::open(&data_dir.join("raft-log"), durable)?;
    log.save_vote(&Vote::new(term, 1))
        .await
        .map_err(|e| Error::Decode(format!("saving the vote: {e}")))?;
    tracing::info!(dir = %data_dir.display(), applied = seq, "restored data made a group of one (replica 1)");
    Ok(())
}
