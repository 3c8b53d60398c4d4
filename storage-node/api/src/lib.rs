//! The storage contract shared by every component that reads or writes samples.
//!
//! ```text
//!  scraper / push receivers --SampleWriter--+   GrpcStorage    --gRPC--> one replica
//!                                           +-> ShardedStorage --gRPC--> every shard's
//!  query engine / alerting  --SampleReader--+   (cluster/)               Raft group
//! ```
//!
//! The messages ([`TimeSeries`], [`Matcher`], ...) are generated from
//! `proto/telltale/storage/v1/storage.proto`. Callers depend on the [`SampleWriter`] and
//! [`SampleReader`] traits, never on where samples live; [`GrpcStorage`] is the
//! implementation that talks to one storage replica, [`cluster::ShardedStorage`] the one
//! that routes series over the shards of a cluster. The wire contract of the replicas
//! (`telltale.storage.v1`, and `telltale.raft.v1` whose status call clients use to find
//! leaders) and its metadata ([`headers`]) are defined here once, and so are Prometheus's
//! remote write and remote read messages ([`prompb`]), which the push receivers and the
//! query API's remote read share. [`StorageAdmin`] is Prometheus's TSDB admin API over
//! storage (delete series, clean tombstones, snapshot; the `Admin` service), implemented
//! by both clients. [`rollup`] is the one definition of a rollup point and [`sketch`] of
//! the quantile sketch it keeps; [`histogram`] is the one definition of a native
//! histogram sample and its arithmetic. This crate does not pull
//! in the engine, Raft or RocksDB: it is the small crate the other deployables link
//! against.

pub mod admin;
pub mod chunk;
pub mod client;
pub mod cluster;
pub mod encoded_write;
pub mod error;
pub mod headers;
pub mod histogram;
pub mod prompb;
pub mod rollup;
pub mod select;
pub mod shared;
pub mod sketch;
pub mod tls;
pub mod traits;

/// Types and service stubs generated from `storage.proto`.
pub mod pb {
    tonic::include_proto!("telltale.storage.v1");
}

/// Types and service stubs generated from `raft.proto`: the replicas' Raft transport and
/// the shard admin and status calls.
pub mod raft_pb {
    tonic::include_proto!("telltale.raft.v1");
}

pub use admin::StorageAdmin;
pub use client::GrpcStorage;
pub use encoded_write::EncodedWrite;
pub use error::{Error, Result};
pub use histogram::FloatHistogram;
pub use pb::matcher::Op as MatchOp;
pub use pb::{
    Aggregate, Chunk, ChunkEncoding, CleanTombstonesRequest, DeleteSeriesRequest, Exemplar,
    ExemplarsRequest, InfoResponse, Label, LabelNamesRequest, LabelValuesRequest, LateWrite,
    LateWrites, Matcher, MatcherSet, Resolution, Sample, SelectRequest, Selection, SeriesChunks,
    SeriesExemplars, SeriesRequest, SnapshotRequest, TierInfo, TimeSeries,
};
pub use shared::{SeriesLabels, SharedSample, label_hash};
pub use traits::{BatchId, SampleReader, SampleWriter, Written};

/// The name of the label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// Largest gRPC message either side accepts (a select over many series is large).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

impl Label {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl Matcher {
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Self {
        Matcher {
            op: op as i32,
            name: name.into(),
            value: value.into(),
        }
    }
}

impl TimeSeries {
    /// The value of label `name`, if the series has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }
}

impl Resolution {
    /// Every resolution, finest first (raw, 1m, 5m, 1h, 1d).
    pub const BY_WIDTH: [Resolution; 5] = [
        Resolution::Raw,
        Resolution::OneMinute,
        Resolution::FiveMinutes,
        Resolution::OneHour,
        Resolution::OneDay,
    ];

    /// Width of a rollup bucket in milliseconds (raw: 0).
    pub fn width_ms(self) -> i64 {
        match self {
            Resolution::Raw => 0,
            Resolution::OneMinute => 60_000,
            Resolution::FiveMinutes => 300_000,
            Resolution::OneHour => 3_600_000,
            Resolution::OneDay => 86_400_000,
        }
    }

    /// The short name of flags (`--rollup-tiers`), logs, metric labels and the
    /// `X-Telltale-Tier` header: `raw`, `1m`, `5m`, `1h`, `1d`.
    pub fn short_name(self) -> &'static str {
        match self {
            Resolution::Raw => "raw",
            Resolution::OneMinute => "1m",
            Resolution::FiveMinutes => "5m",
            Resolution::OneHour => "1h",
            Resolution::OneDay => "1d",
        }
    }

    /// The resolution named `name` (see [`Resolution::short_name`]).
    pub fn from_short_name(name: &str) -> Option<Resolution> {
        Resolution::BY_WIDTH
            .into_iter()
            .find(|r| r.short_name() == name)
    }
}
