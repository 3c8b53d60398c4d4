//! Backups of storage snapshots to object storage, and their restore.
//!
//! ```text
//!  snapshot dir (a data directory of its own, per shard)
//!     ──upload_dir──▶ <url>/shard-<N>/<files>   (each file, then shard-N/manifest.json:
//!                                               sizes and SHA-256 of every file)
//!     ──write_index──▶ <url>/backup.json        (last: a backup exists once it does)
//!  <url> ──restore──▶ a new data directory (files checked against the manifest, written
//!                     beside it and moved into place only when all are good)
//! ```
//!
//! - [`location`]: a backup's URL, `s3://bucket/prefix` (credentials, region and endpoint
//!   from the usual `AWS_*` environment variables, `AWS_ENDPOINT_URL` for S3-compatible
//!   servers) or `file:///path`, opened as an [`object_store`] store and prefix.
//! - [`manifest`]: what a backup holds: `backup.json` (when, from what, its shards) and a
//!   manifest per shard (every file's path, size and SHA-256).
//! - [`transfer`]: [`upload_dir`](transfer::upload_dir) and
//!   [`restore_shard`](transfer::restore_shard).

pub mod error;
pub mod location;
pub mod manifest;
pub mod transfer;

pub use error::{Error, Result};
pub use location::Location;
pub use manifest::{BackupIndex, ShardManifest};
pub use transfer::{read_index, restore_shard, upload_dir, write_index};
