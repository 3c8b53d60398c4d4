//! [`Network`]: openraft's transport over the `telltale.raft.v1.Raft` gRPC service. A
//! peer's address comes from this replica's `--peers` first (so each replica may reach
//! the others through its own route, e.g. a test's proxies), else from the membership.

use std::collections::BTreeMap;
use std::sync::Arc;

use std::future::Future;

use openraft::error::{
    Fatal, InstallSnapshotError, NetworkError, RPCError, RaftError, RemoteError, ReplicationClosed,
    StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, OptionalSend, Snapshot, StorageError, StorageIOError, Vote};
use serde::Serialize;
use serde::de::DeserializeOwned;
use telltale_storage_api::client::channel;
use tokio::io::AsyncReadExt;
use tonic::transport::Channel;

use crate::snapshots::{Manifest, Snapshots};
use crate::transfer;
use crate::types::{NodeId, TypeConfig, decode, encode};
use telltale_storage_api::raft_pb::RaftPayload;
use telltale_storage_api::raft_pb::raft_client::RaftClient;

/// Largest Raft message (a batch of entries or a snapshot chunk).
pub const MAX_RAFT_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// A Raft client with the message size limits both ways.
pub fn raft_client(channel: Channel) -> RaftClient<Channel> {
    RaftClient::new(channel)
        .max_decoding_message_size(MAX_RAFT_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_RAFT_MESSAGE_BYTES)
}

/// Creates one [`Network`] per peer.
#[derive(Debug, Clone)]
pub struct NetworkFactory {
    /// Addresses from this replica's command line, preferred over the membership's.
    pub overrides: Arc<BTreeMap<NodeId, String>>,
    /// Where the checkpoints sent to followers are.
    pub snapshots: Arc<Snapshots>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = Network;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Network {
        let address = self
            .overrides
            .get(&target)
            .cloned()
            .unwrap_or_else(|| node.addr.clone());
        let client = channel(&address).ok().map(raft_client);
        Network {
            target,
            address,
            client,
            snapshots: self.snapshots.clone(),
        }
    }
}

/// The connection to one peer.
#[derive(Debug)]
pub struct Network {
    target: NodeId,
    address: String,
    client: Option<RaftClient<Channel>>,
    snapshots: Arc<Snapshots>,
}

type RpcResult<T, E> = Result<T, RPCError<NodeId, BasicNode, RaftError<NodeId, E>>>;

fn unreachable(target: NodeId, address: &str) -> Unreachable {
    Unreachable::new(&crate::Error::Raft(format!(
        "invalid address {address:?} for replica {target}"
    )))
}

impl Network {
    async fn call<Req, Resp, E>(
        &mut self,
        method: Method,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let Some(client) = self.client.as_mut() else {
            return Err(RPCError::Unreachable(unreachable(
                self.target,
                &self.address,
            )));
        };
        let data = encode(req).map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        let mut request = tonic::Request::new(RaftPayload { data });
        request.set_timeout(option.hard_ttl());
        let reply = match method {
            Method::Append => client.append_entries(request).await,
            Method::Vote => client.vote(request).await,
            Method::Snapshot => client.install_snapshot(request).await,
        };
        let reply = reply.map_err(|status| match status.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown => {
                RPCError::Unreachable(Unreachable::new(&status))
            }
            _ => RPCError::Network(NetworkError::new(&status)),
        })?;
        let result: Result<Resp, RaftError<NodeId, E>> = decode(&reply.into_inner().data)
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

#[derive(Debug, Clone, Copy)]
enum Method {
    Append,
    Vote,
    Snapshot,
}

impl RaftNetwork<TypeConfig> for Network {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<NodeId>, openraft::error::Infallible> {
        self.call(Method::Append, &rpc, &option).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<NodeId>, InstallSnapshotError> {
        self.call(Method::Snapshot, &rpc, &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<NodeId>, openraft::error::Infallible> {
        self.call(Method::Vote, &rpc, &option).await
    }

    /// Streams the checkpoint the snapshot's manifest names ([`crate::transfer`]) instead
    /// of openraft's chunks of one packed file: nothing is copied on disk to send it.
    async fn full_snapshot(
        &mut self,
        vote: Vote<NodeId>,
        snapshot: Snapshot<TypeConfig>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<NodeId>, StreamingError<TypeConfig, Fatal<NodeId>>> {
        let Some(client) = self.client.as_mut() else {
            return Err(StreamingError::Unreachable(unreachable(
                self.target,
                &self.address,
            )));
        };
        let mut data = snapshot.snapshot;
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes)
            .await
            .map_err(|e| StorageError::from(StorageIOError::read_snapshot(None, &e)))?;
        let manifest = match Manifest::decode(&bytes) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                return Err(StorageError::from(StorageIOError::read_snapshot(None, &e)).into());
            }
            None => {
                let e = crate::Error::Decode("the snapshot to send has no manifest".into());
                return Err(StorageError::from(StorageIOError::read_snapshot(None, &e)).into());
            }
        };
        let _lease = self.snapshots.lease(&manifest);
        let header = (vote, snapshot.meta.clone());
        let messages = transfer::outgoing(&header, self.snapshots.path(&manifest.dir))
            .map_err(|e| StorageError::from(StorageIOError::read_snapshot(None, &e)))?;
        tracing::info!(target = self.target, snapshot = %snapshot.meta.snapshot_id, "sending a snapshot");
        let request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(messages));
        let reply = tokio::select! {
            reply = client.install_full_snapshot(request) => reply,
            closed = cancel => return Err(StreamingError::Closed(closed)),
        };
        let reply = reply.map_err(|status| match status.code() {
            tonic::Code::Unavailable | tonic::Code::Unknown => {
                StreamingError::Unreachable(Unreachable::new(&status))
            }
            _ => StreamingError::Network(NetworkError::new(&status)),
        })?;
        let result: Result<SnapshotResponse<NodeId>, Fatal<NodeId>> =
            decode(&reply.into_inner().data)
                .map_err(|e| StreamingError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| StreamingError::RemoteError(RemoteError::new(self.target, e)))
    }
}
