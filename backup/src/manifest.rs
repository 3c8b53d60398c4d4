//! What a backup holds: [`BackupIndex`] (`backup.json`) and a [`ShardManifest`] per shard.

use serde::{Deserialize, Serialize};

/// The name of a backup's index object.
pub const INDEX: &str = "backup.json";
/// The name of a shard's manifest object, under `shard-<N>/`.
pub const MANIFEST: &str = "manifest.json";
/// The format of what this crate writes.
pub const FORMAT: u32 = 1;

/// `backup.json`: written last, so a backup is complete once it exists.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BackupIndex {
    pub format: u32,
    /// When the snapshots were taken (Unix milliseconds).
    pub created_ms: i64,
    /// What was backed up (`standalone`, `dev-cluster`, `storage`).
    pub source: String,
    /// The shards, in order; each under `shard-<N>/`.
    pub shards: Vec<u32>,
    /// The Telltale version that wrote it.
    pub version: String,
}

/// `shard-<N>/manifest.json`: every file of the shard's data directory.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ShardManifest {
    pub format: u32,
    pub shard: u32,
    pub files: Vec<FileEntry>,
}

/// One file: its path relative to the data directory (`/`-separated), size, SHA-256.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl ShardManifest {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// The directory of shard `shard` in a backup.
pub fn shard_dir(shard: u32) -> String {
    format!("shard-{shard}")
}
