//! [`RaftService`]: the `telltale.raft.v1.Raft` gRPC service of a replica — openraft's
//! messages from its peers (snapshots streamed, [`crate::transfer`]), the admin
//! `ChangeMembership`, and `Status`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers, Raft, ServerState, Snapshot};
use serde::Serialize;
use telltale_storage_api::tls::{Role, require};
use tonic::{Request, Response, Status, Streaming};

use telltale_storage_api::raft_pb::raft_server::Raft as RaftRpc;
use telltale_storage_api::raft_pb::{
    ChangeMembershipRequest, ChangeMembershipResponse, Member, RaftPayload, SnapshotChunk,
    StatusRequest, StatusResponse,
};

use crate::snapshots::{Manifest, Snapshots};
use crate::state_machine::SharedEngine;
use crate::storage_service::not_leader;
use crate::transfer;
use crate::types::{NodeId, TypeConfig, decode, encode};

/// Serves openraft's RPCs and the shard's admin calls.
#[derive(Clone)]
pub struct RaftService {
    raft: Raft<TypeConfig>,
    shared: Arc<SharedEngine>,
    snapshots: Arc<Snapshots>,
    overrides: Arc<BTreeMap<NodeId, String>>,
}

impl std::fmt::Debug for RaftService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RaftService").finish_non_exhaustive()
    }
}

fn payload<T: Serialize>(value: &T) -> Result<Response<RaftPayload>, Status> {
    let data = encode(value).map_err(|e| Status::internal(e.to_string()))?;
    Ok(Response::new(RaftPayload { data }))
}

fn parse<T: for<'de> serde::Deserialize<'de>>(req: Request<RaftPayload>) -> Result<T, Status> {
    decode(&req.into_inner().data).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// The role name used in status answers.
pub fn role_name(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

impl RaftService {
    pub fn new(
        raft: Raft<TypeConfig>,
        shared: Arc<SharedEngine>,
        snapshots: Arc<Snapshots>,
        overrides: Arc<BTreeMap<NodeId, String>>,
    ) -> Self {
        RaftService {
            raft,
            shared,
            snapshots,
            overrides,
        }
    }

    /// This replica's view of its group.
    pub fn status(&self) -> StatusResponse {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let address = |id: NodeId, node: Option<&BasicNode>| {
            self.overrides
                .get(&id)
                .cloned()
                .or_else(|| node.map(|n| n.addr.clone()))
                .unwrap_or_default()
        };
        let voter_ids: BTreeSet<NodeId> = membership.voter_ids().collect();
        let mut voters = Vec::new();
        let mut learners = Vec::new();
        for (id, node) in membership.nodes() {
            let member = Member {
                id: *id,
                address: address(*id, Some(node)),
            };
            if voter_ids.contains(id) {
                voters.push(member);
            } else {
                learners.push(member);
            }
        }
        let leader_id = m.current_leader.unwrap_or(0);
        let leader_address = m
            .current_leader
            .map(|id| address(id, membership.get_node(&id)))
            .unwrap_or_default();
        let matched: std::collections::HashMap<NodeId, u64> = m
            .replication
            .as_ref()
            .map(|r| {
                r.iter()
                    .map(|(id, l)| (*id, l.map(|l| l.index).unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default();
        let commit_index = if m.state == ServerState::Leader {
            let own = m.last_log_index.unwrap_or(0);
            let stored: Vec<u64> = voter_ids
                .iter()
                .map(|id| match matched.get(id) {
                    Some(index) => *index,
                    None if *id == m.id => own,
                    None => 0,
                })
                .collect();
            committed(stored)
        } else {
            0
        };
        StatusResponse {
            id: m.id,
            role: role_name(m.state).to_string(),
            term: m.current_term,
            leader_id,
            leader_address,
            last_log_index: m.last_log_index.unwrap_or(0),
            applied_index: m.last_applied.map(|l| l.index).unwrap_or(0),
            snapshot_index: m.snapshot.map(|l| l.index).unwrap_or(0),
            purged_index: m.purged.map(|l| l.index).unwrap_or(0),
            durable_index: self.shared.durable_index().load(Ordering::Acquire),
            initialized: !voter_ids.is_empty(),
            voters,
            learners,
            matched,
            commit_index,
        }
    }
}

/// The highest index stored by a majority, given the index each voter stored.
pub fn committed(mut stored: Vec<u64>) -> u64 {
    if stored.is_empty() {
        return 0;
    }
    stored.sort_unstable_by(|a, b| b.cmp(a));
    stored[stored.len() / 2]
}

/// Over mutual TLS, only replicas replicate (the operator and the replicas, which forward
/// to their leader, change voters; anyone of the CA may ask for the status).
const REPLICAS: &[Role] = &[Role::Storage];

#[tonic::async_trait]
impl RaftRpc for RaftService {
    async fn append_entries(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        require(&req, "AppendEntries", REPLICAS)?;
        let result = self.raft.append_entries(parse(req)?).await;
        payload(&result)
    }

    async fn vote(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        require(&req, "Vote", REPLICAS)?;
        let result = self.raft.vote(parse(req)?).await;
        payload(&result)
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        require(&req, "InstallSnapshot", REPLICAS)?;
        let result = self.raft.install_snapshot(parse(req)?).await;
        payload(&result)
    }

    async fn install_full_snapshot(
        &self,
        req: Request<Streaming<SnapshotChunk>>,
    ) -> Result<Response<RaftPayload>, Status> {
        require(&req, "InstallFullSnapshot", REPLICAS)?;
        let dir = self.snapshots.incoming("stream");
        let (vote, meta) = match transfer::receive(req.into_inner(), &dir).await {
            Ok(header) => header,
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&dir).await;
                tracing::warn!(error = %e, "a snapshot transfer failed");
                return Err(Status::aborted(e.to_string()));
            }
        };
        tracing::info!(snapshot = %meta.snapshot_id, "snapshot received");
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let manifest = Manifest {
            meta: meta.clone(),
            dir: name,
        };
        let manifest_path = dir.with_extension("manifest");
        let bytes = manifest
            .encode()
            .map_err(|e| Status::internal(e.to_string()))?;
        tokio::fs::write(&manifest_path, bytes)
            .await
            .map_err(|e| Status::internal(format!("writing the snapshot manifest: {e}")))?;
        let file = tokio::fs::File::open(&manifest_path)
            .await
            .map_err(|e| Status::internal(format!("opening the snapshot manifest: {e}")))?;
        let snapshot = Snapshot {
            meta,
            snapshot: Box::new(file),
        };
        let result = self.raft.install_full_snapshot(vote, snapshot).await;
        let _ = tokio::fs::remove_file(&manifest_path).await;
        // Installed: the directory became the engine. Refused (an older snapshot): dropped.
        let _ = tokio::fs::remove_dir_all(&dir).await;
        payload(&result)
    }

    async fn change_membership(
        &self,
        req: Request<ChangeMembershipRequest>,
    ) -> Result<Response<ChangeMembershipResponse>, Status> {
        require(&req, "ChangeMembership", &[Role::Storage, Role::Operator])?;
        let members = req.into_inner().members;
        if members.is_empty() {
            return Err(Status::invalid_argument("a group needs at least one voter"));
        }
        let (voters, known): (BTreeSet<NodeId>, BTreeSet<NodeId>) = {
            let m = self.raft.metrics().borrow().clone();
            let membership = m.membership_config.membership();
            (
                membership.voter_ids().collect(),
                membership.nodes().map(|(id, _)| *id).collect(),
            )
        };
        let ids: BTreeSet<NodeId> = members.iter().map(|m| m.id).collect();
        // Learners of the group that are wanted (an earlier add that did not finish) are
        // caught up again like new ones.
        for m in members.iter().filter(|m| !voters.contains(&m.id)) {
            tracing::info!(id = m.id, address = %m.address, "adding a learner and waiting for it to catch up");
            self.raft
                .add_learner(m.id, BasicNode::new(&m.address), true)
                .await
                .map_err(|e| self.write_error(e))?;
            tracing::info!(id = m.id, "the learner caught up");
        }
        let mut log_index = 0;
        if ids != voters {
            let resp = self
                .raft
                .change_membership(ids.clone(), false)
                .await
                .map_err(|e| self.write_error(e))?;
            log_index = resp.log_id.index;
            tracing::info!(log_index, voters = ?ids, "membership changed");
        }
        let stale: BTreeSet<NodeId> = known
            .difference(&voters)
            .filter(|id| !ids.contains(id))
            .copied()
            .collect();
        if !stale.is_empty() {
            let resp = self
                .raft
                .change_membership(ChangeMembers::RemoveNodes(stale.clone()), false)
                .await
                .map_err(|e| self.write_error(e))?;
            log_index = resp.log_id.index;
            tracing::info!(log_index, learners = ?stale, "learners removed");
        }
        let status = self.status();
        Ok(Response::new(ChangeMembershipResponse {
            members: status.voters,
            log_index,
        }))
    }

    async fn status(&self, _: Request<StatusRequest>) -> Result<Response<StatusResponse>, Status> {
        Ok(Response::new(RaftService::status(self)))
    }
}

impl RaftService {
    fn write_error(&self, e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> Status {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => {
                let address = f.leader_id.and_then(|id| {
                    self.overrides
                        .get(&id)
                        .cloned()
                        .or_else(|| f.leader_node.as_ref().map(|n| n.addr.clone()))
                });
                not_leader(f.leader_id, address)
            }
            RaftError::APIError(ClientWriteError::ChangeMembershipError(c)) => {
                Status::failed_precondition(c.to_string())
            }
            other => Status::unavailable(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::committed;

    #[test]
    fn the_commit_index_is_what_a_majority_stored() {
        assert_eq!(committed(vec![]), 0);
        assert_eq!(committed(vec![7]), 7);
        assert_eq!(committed(vec![10, 4]), 4);
        assert_eq!(committed(vec![10, 4, 8]), 8);
        assert_eq!(committed(vec![10, 4, 8, 9]), 8);
        assert_eq!(committed(vec![1, 10, 4, 8, 9]), 8);
    }
}
