//! [`StorageAdmin`]: Prometheus's TSDB admin operations over storage — delete series,
//! clean tombstones, snapshot — for the query API's `/api/v1/admin/tsdb/...`; and the
//! snapshot names, in Prometheus's form.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Result;
use crate::client::GrpcStorage;
use crate::pb::admin_client::AdminClient;
use crate::pb::{CleanTombstonesRequest, DeleteSeriesRequest, SnapshotRequest};

/// The TSDB admin operations of a storage (one replica group, or every shard).
#[async_trait::async_trait]
pub trait StorageAdmin: Send + Sync {
    /// Deletes the data of the matching series in the request's bounds, on every replica
    /// (through each group's Raft log); returns once applied on the leader(s).
    async fn delete_series(&self, req: DeleteSeriesRequest) -> Result<()>;
    /// Removes deleted data from the stored chunks and drops the tombstones, on every
    /// replica.
    async fn clean_tombstones(&self) -> Result<()>;
    /// Writes snapshot `req.name` of the stored data (per shard: its leader's data dir);
    /// returns the directories written.
    async fn snapshot(&self, req: SnapshotRequest) -> Result<Vec<String>>;
}

#[async_trait::async_trait]
impl StorageAdmin for GrpcStorage {
    async fn delete_series(&self, req: DeleteSeriesRequest) -> Result<()> {
        AdminClient::new(self.channel()).delete_series(req).await?;
        Ok(())
    }

    async fn clean_tombstones(&self) -> Result<()> {
        AdminClient::new(self.channel())
            .clean_tombstones(CleanTombstonesRequest {})
            .await?;
        Ok(())
    }

    async fn snapshot(&self, req: SnapshotRequest) -> Result<Vec<String>> {
        let resp = AdminClient::new(self.channel()).snapshot(req).await?;
        Ok(vec![resp.into_inner().path])
    }
}

/// A new snapshot name as Prometheus makes them: the UTC time as `20060102T150405Z` and
/// 16 hex digits of a random 63-bit number (`20171210T211224Z-2be650b6d019eb54`).
pub fn new_snapshot_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let seed = (now.as_nanos() as u64) ^ u64::from(std::process::id()).rotate_left(32);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = xxhash_rust::xxh3::xxh3_64_with_seed(&n.to_le_bytes(), seed) >> 1;
    snapshot_name(now.as_secs(), random)
}

/// The snapshot name for `unix_secs` and `random` (Prometheus's `%s-%016x`): the time
/// is its RFC 3339 form without the `-` and `:` separators.
pub fn snapshot_name(unix_secs: u64, random: u64) -> String {
    let rfc3339 = telltale_model::format_rfc3339(unix_secs as i64 * 1000);
    format!("{}-{random:016x}", rfc3339.replace(['-', ':'], ""))
}

/// Whether `name` can name a snapshot directory: letters, digits, `-`, `_` and `.`
/// only, not starting with `.` (no path separators, no `..`), at most 128 bytes.
pub fn is_valid_snapshot_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_prometheus_s() {
        // Prometheus's documented example: 2017-12-10T21:12:24Z.
        assert_eq!(
            snapshot_name(1_512_940_344, 0x2be6_50b6_d019_eb54),
            "20171210T211224Z-2be650b6d019eb54"
        );
        assert_eq!(snapshot_name(0, 1), "19700101T000000Z-0000000000000001");
        assert_eq!(
            snapshot_name(951_782_400, 0),
            "20000229T000000Z-0000000000000000"
        );
        let a = new_snapshot_name();
        let b = new_snapshot_name();
        assert_ne!(a, b);
        assert_eq!(a.len(), "20171210T211224Z-2be650b6d019eb54".len());
        assert!(is_valid_snapshot_name(&a));
    }

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        for bad in ["", "..", ".x", "a/b", "a\\b", "../x", "a b"] {
            assert!(!is_valid_snapshot_name(bad), "{bad:?}");
        }
        assert!(is_valid_snapshot_name("20171210T211224Z-2be650b6d019eb54"));
    }
}
