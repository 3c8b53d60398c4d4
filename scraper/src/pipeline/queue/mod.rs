//! The bounded persistent queue in front of the storage writer.
//!
//! ```text
//!  write(batch) --queue empty?--yes--> downstream.write --ok--> acknowledged
//!       |                                    | unavailable
//!       | no (a backlog exists: keep order)  v
//!       +--------------------------> append to segment file, fsync --> acknowledged
//!                                          | over max_bytes: error + dropped counter
//!  replay task: oldest records --persist group end (inflight)-->
//!    downstream.write_identified(writer id, batch number; retry with backoff) --> commit cursor
//! ```
//!
//! [`DiskQueue`] is itself a [`telltale_storage_api::SampleWriter`]; [`QueueStore`] owns
//! the files ([`segment`] has the byte layout, [`cursor`] the replay position). The
//! remote_write forwarder ([`crate::pipeline::forward`]) keeps its own queue in a
//! [`QueueStore`] too: same files, its own records, oldest evicted when full.

/// The replay position file.
pub mod cursor;
/// [`DiskQueue`]: the writer and its replay task.
pub mod disk_queue;
/// The writer id and batch numbers replayed batches carry (de-duplication by storage).
pub mod identity;
/// The queue's self-metrics.
pub mod metrics;
/// Segment files and record framing (pure).
pub mod segment;
/// [`QueueStore`]: appends, reads and commits over the files (blocking).
pub mod store;

pub use disk_queue::{DiskQueue, QueueOptions};
pub use store::QueueStore;
