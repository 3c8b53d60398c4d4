//! Streaming a snapshot to a follower over `InstallFullSnapshot`: the leader packs the
//! checkpoint a manifest names file by file ([`crate::archive`]) straight into the gRPC
//! stream — no packed copy on disk — and the follower unpacks the stream into a fresh
//! directory as it arrives, then hands it to Raft to install.
//!
//! The first message carries the leader's vote and the snapshot's metadata (`header`);
//! every message may carry a piece of the packed bytes (`data`); the last one says the
//! sender finished (`done`), so a transfer cut short is never installed.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;

use openraft::{BasicNode, SnapshotMeta, Vote};
use telltale_storage_api::raft_pb::SnapshotChunk;
use tokio::sync::mpsc;
use tonic::Streaming;

use crate::archive;
use crate::types::{NodeId, decode, encode};

/// Bytes per streamed message.
const CHUNK_BYTES: usize = 1 << 20;

/// What the first message of a transfer says.
pub type Header = (Vote<NodeId>, SnapshotMeta<NodeId, BasicNode>);

/// Feeds the packed bytes of a checkpoint into a channel of stream messages.
struct ChunkWriter {
    tx: mpsc::Sender<SnapshotChunk>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK_BYTES));
        self.tx
            .blocking_send(SnapshotChunk {
                data,
                ..SnapshotChunk::default()
            })
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the transfer was closed"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let room = CHUNK_BYTES - self.buf.len();
        let n = bytes.len().min(room);
        self.buf.extend_from_slice(&bytes[..n]);
        if self.buf.len() >= CHUNK_BYTES {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

/// The messages of one transfer: the header, then the checkpoint in `dir` packed by a
/// blocking task (which stops when the receiver goes away).
pub fn outgoing(header: &Header, dir: PathBuf) -> io::Result<mpsc::Receiver<SnapshotChunk>> {
    let (tx, rx) = mpsc::channel(4);
    let first = SnapshotChunk {
        header: encode(header).map_err(io::Error::other)?,
        ..SnapshotChunk::default()
    };
    tx.try_send(first)
        .map_err(|_| io::Error::other("the transfer channel is full at its start"))?;
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkWriter {
            tx,
            buf: Vec::with_capacity(CHUNK_BYTES),
        };
        let result = archive::pack_to(&dir, &mut w).and_then(|_| w.flush());
        let result = result.and_then(|_| {
            w.tx.blocking_send(SnapshotChunk {
                done: true,
                ..SnapshotChunk::default()
            })
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the transfer was closed"))
        });
        if let Err(e) = result {
            tracing::warn!(dir = %dir.display(), error = %e, "packing a snapshot for a follower stopped");
        }
    });
    Ok(rx)
}

/// Reads the bytes forwarded from the gRPC stream, for the blocking unpacker.
struct ChunkReader {
    rx: std_mpsc::Receiver<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(next) => {
                    self.current = next;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Why a received snapshot was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("the stream ended before its header")]
    NoHeader,
    #[error("the stream ended before the sender finished")]
    Incomplete,
    #[error("bad header: {0}")]
    BadHeader(String),
    #[error("stream: {0}")]
    Stream(#[from] tonic::Status),
    #[error("unpacking into {dir}: {source}")]
    Unpack { dir: PathBuf, source: io::Error },
}

/// Receives one transfer into `dir` (created): returns its header once every file is
/// written and synced.
pub async fn receive(
    mut stream: Streaming<SnapshotChunk>,
    dir: &Path,
) -> Result<Header, ReceiveError> {
    let first = stream.message().await?.ok_or(ReceiveError::NoHeader)?;
    let header: Header =
        decode(&first.header).map_err(|e| ReceiveError::BadHeader(e.to_string()))?;
    let (tx, rx) = std_mpsc::sync_channel::<Vec<u8>>(4);
    let target = dir.to_path_buf();
    let unpacker = tokio::task::spawn_blocking(move || {
        let reader = ChunkReader {
            rx,
            current: first.data,
            pos: 0,
        };
        archive::unpack(reader, &target)
    });
    let mut forwarding = Err(ReceiveError::Incomplete);
    while let Some(chunk) = stream.message().await.transpose() {
        match chunk {
            Ok(chunk) if chunk.done => {
                forwarding = Ok(());
                break;
            }
            Ok(chunk) => {
                let tx = tx.clone();
                // The unpacker may be writing to disk: hand over without blocking a worker.
                let sent = tokio::task::spawn_blocking(move || tx.send(chunk.data)).await;
                if !matches!(sent, Ok(Ok(()))) {
                    break;
                }
            }
            Err(status) => {
                forwarding = Err(status.into());
                break;
            }
        }
    }
    drop(tx);
    let unpacked = unpacker
        .await
        .map_err(|e| io::Error::other(e.to_string()))
        .and_then(|r| r);
    forwarding?;
    unpacked.map_err(|source| ReceiveError::Unpack {
        dir: dir.to_path_buf(),
        source,
    })?;
    Ok(header)
}
