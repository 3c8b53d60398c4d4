//! The crate's error type.

use std::path::PathBuf;

/// Everything that can fail in a replica.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("raft log store at {path}: {source}")]
    LogStore {
        path: PathBuf,
        #[source]
        source: rocksdb::Error,
    },
    #[error("storage engine: {0}")]
    Engine(#[from] telltale_storage::Error),
    #[error("storage API: {0}")]
    Api(#[from] telltale_storage_api::Error),
    #[error("encoding: {0}")]
    Encode(String),
    #[error("decoding: {0}")]
    Decode(String),
    #[error("invalid peers `{input}`: {reason}")]
    InvalidPeers { input: String, reason: String },
    #[error("raft: {0}")]
    Raft(String),
    #[error(
        "{} holds a storage engine in the single-node layout (no raft-log/); storage now \
         keeps its data as a Raft group (one replica without --peers): start with an empty \
         data directory",
        dir.display()
    )]
    SingleNodeLayout { dir: PathBuf },
    #[error(
        "the Raft log holds {held} bytes since its last snapshot, at its bound of {max} \
         (--raft-log-max-bytes), and no snapshot made room within {waited:?}"
    )]
    LogFull {
        held: u64,
        max: u64,
        waited: std::time::Duration,
    },
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<String> },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
