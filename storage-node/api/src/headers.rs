//! gRPC metadata of the storage API, one definition for servers and clients.

/// Request: the writer's id, so a retried batch is applied once (0 or absent: anonymous).
pub const HEADER_WRITER_ID: &str = "telltale-client-id";
/// Request: the writer's batch number (increasing per writer).
pub const HEADER_BATCH_SEQ: &str = "telltale-batch-seq";
/// Request: `any` lets a follower answer a read.
pub const HEADER_READ: &str = "telltale-read";
/// Response, on `FAILED_PRECONDITION`: the leader's gRPC address.
pub const HEADER_LEADER: &str = "telltale-leader";
/// Response, on `FAILED_PRECONDITION`: the leader's replica id.
pub const HEADER_LEADER_ID: &str = "telltale-leader-id";
/// Response: the answering replica's applied log index.
pub const HEADER_APPLIED_INDEX: &str = "telltale-applied-index";
/// Response: the log index a write was committed at.
pub const HEADER_LOG_INDEX: &str = "telltale-log-index";
