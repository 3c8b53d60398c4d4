//! `spec.restore`: which storage shards of a cluster are created restoring a backup.
//!
//! ```text
//!  spec.restore set, a shard's StatefulSet missing, every existing one created restoring?
//!    └─ read <from>/backup.json (the store's environment from credentialsSecret)
//!        ├─ no StatefulSet yet and the backup's shards != spec.shards ─▶ refused
//!        │   (status Invalid naming spec.restore, a Warning Event; nothing created)
//!        └─ each missing shard restores if the backup has it (init container,
//!           render/storage.rs: replica 1 restores, the others join by snapshot)
//! ```
//!
//! A cluster that exists without it (`spec.restore` added later) never restores, nor do
//! shards added after the backup's (`spec.shards` grown): they start empty.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use telltale_backup::{Location, read_index};
use telltale_crds::{FieldError, MetricClusterSpec};

use super::backup::credentials;
use crate::context::Context;
use crate::render::storage::restores;

/// Whether each shard without a StatefulSet (`sets[shard]` is `None`) restores the
/// backup, or why the cluster cannot be created from it.
pub async fn missing_shards(
    ctx: &Context,
    spec: &MetricClusterSpec,
    namespace: &str,
    sets: &[Option<&StatefulSet>],
) -> Result<BTreeMap<u32, bool>, FieldError> {
    let missing: Vec<u32> = (0..spec.shards)
        .filter(|s| sets.get(*s as usize).is_none_or(Option::is_none))
        .collect();
    let Some(restore) = &spec.restore else {
        return Ok(missing.iter().map(|s| (*s, false)).collect());
    };
    let existing: Vec<&StatefulSet> = sets.iter().flatten().copied().collect();
    if missing.is_empty() || !existing.iter().all(|s| restores(s)) {
        return Ok(missing.iter().map(|s| (*s, false)).collect());
    }
    let from = |message: String| FieldError::new("spec.restore.from", message);
    let vars = credentials(ctx, restore.credentials_secret.as_ref(), namespace)
        .await
        .map_err(|e| FieldError::new("spec.restore.credentialsSecret", e))?;
    let location = Location::parse_with(&restore.from, vars).map_err(|e| from(e.to_string()))?;
    let index = read_index(&location)
        .await
        .map_err(|e| from(e.to_string()))?;
    decide(
        spec,
        &restore.from,
        &index.shards,
        existing.is_empty(),
        &missing,
    )
}

/// [`missing_shards`] once the backup's shards are known.
pub fn decide(
    spec: &MetricClusterSpec,
    from: &str,
    backup_shards: &[u32],
    new_cluster: bool,
    missing: &[u32],
) -> Result<BTreeMap<u32, bool>, FieldError> {
    let wanted: Vec<u32> = (0..spec.shards).collect();
    let mut have = backup_shards.to_vec();
    have.sort_unstable();
    if new_cluster && have != wanted {
        return Err(FieldError::new(
            "spec.restore",
            format!(
                "the backup at {from} holds the shards {have:?}, spec.shards is {}: a cluster \
                 is restored with the shards of its backup (each shard restores its own)",
                spec.shards
            ),
        ));
    }
    Ok(missing.iter().map(|s| (*s, have.contains(s))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(shards: u32) -> MetricClusterSpec {
        serde_yaml::from_str(&format!(
            "shards: {shards}\nrestore: {{from: 'file:///b/20260101T000000Z'}}"
        ))
        .unwrap()
    }

    #[test]
    fn a_new_cluster_restores_only_a_backup_of_its_shard_count() {
        let all = decide(&spec(2), "file:///b", &[1, 0], true, &[0, 1]).unwrap();
        assert_eq!(all, BTreeMap::from([(0, true), (1, true)]));
        let e = decide(&spec(3), "file:///b", &[0, 1], true, &[0, 1, 2]).unwrap_err();
        assert_eq!(e.field, "spec.restore");
        assert!(
            e.message.contains("[0, 1]") && e.message.contains("spec.shards is 3"),
            "{e}"
        );
        // A shard added to a restored cluster starts empty; one of the backup's that was
        // not created yet restores.
        let later = decide(&spec(3), "file:///b", &[0, 1], false, &[1, 2]).unwrap();
        assert_eq!(later, BTreeMap::from([(1, true), (2, false)]));
    }
}
