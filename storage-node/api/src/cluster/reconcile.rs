//! Changing a running shard's voters over gRPC, one member at a time: the implementation
//! behind `telltale dev-cluster`'s `POST /dev-cluster/shards/{shard}/replicas`, kept in the
//! client crate (no engine, no RocksDB) for the operator's storage rollout to share.
//!
//! Each round asks every replica for its Raft status, takes the group as the leader of
//! the highest term reports it, [plans](super::membership::plan) from there and sends the
//! plan's first step to the leader as a `ChangeMembership` (which adds a learner with
//! openraft's blocking catch-up, then changes the voters with `retain = false`). The
//! next round starts from what the group then reports, so a leader change in the middle
//! (a kill, or the leader's own removal) only means the next step goes to the new one.
//! The whole plan is checked before the first step: a change that would need a replica
//! that does not answer is refused before anything changes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic::transport::Channel;
use tracing::info;

use super::membership::{Group, NodeId, PlanError, Step, plan};
use crate::client::channel_for;
use crate::raft_pb::raft_client::RaftClient;
use crate::raft_pb::{ChangeMembershipRequest, Member, StatusRequest, StatusResponse};
use crate::tls::ClientTls;

fn raft_client(channel: Channel) -> RaftClient<Channel> {
    RaftClient::new(channel)
}

/// How long the steps may take.
#[derive(Debug, Clone)]
pub struct ChangeOptions {
    /// How long one replica may take to answer a status call.
    pub probe_timeout: Duration,
    /// How long one step may take (adding a replica waits for it to catch up).
    pub step_timeout: Duration,
    /// How long the group may be without a leader (an election) before giving up.
    pub election_wait: Duration,
    /// Stop after this many steps (the operator takes one per reconcile, so that its
    /// status follows each step); `None`: go on until the group has the wanted voters.
    pub max_steps: Option<usize>,
    /// The address the group records for a replica where it differs from the one it is
    /// reached at here (the operator reaches pods by IP and records their stable DNS
    /// names).
    pub advertised: BTreeMap<NodeId, String>,
    /// The TLS identities to reach the replicas with; `None`: the process's
    /// ([`crate::tls::client::global`]). The operator holds one per cluster.
    pub tls: Option<Arc<ClientTls>>,
}

impl Default for ChangeOptions {
    fn default() -> Self {
        ChangeOptions {
            probe_timeout: Duration::from_secs(1),
            step_timeout: Duration::from_secs(120),
            election_wait: Duration::from_secs(20),
            max_steps: None,
            advertised: BTreeMap::new(),
            tls: None,
        }
    }
}

/// Why a change failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// The change cannot be made as asked (nothing was changed when this comes first).
    #[error("{0}")]
    Refused(#[from] PlanError),
    #[error("no replica of the group leads (waited {0:?})")]
    NoLeader(Duration),
    #[error("`{step}` failed on the leader {leader}: {message}")]
    Step {
        step: String,
        leader: String,
        message: String,
    },
    #[error("the group did not reach the wanted voters after {0} steps")]
    TooManySteps(usize),
}

/// What a change did.
#[derive(Debug, Clone, Default)]
pub struct Changed {
    pub steps: Vec<Step>,
    /// The group at the end, as its leader reports it.
    pub group: Group,
    /// The group has the wanted voters (false when `max_steps` stopped the change).
    pub complete: bool,
}

/// What every replica answered: the group, the leader's address, every member's address.
struct Probed {
    group: Group,
    leader_address: Option<String>,
    addresses: BTreeMap<NodeId, String>,
}

/// The Raft status of the replica at `address`.
pub async fn status(address: &str, timeout: Duration) -> Option<StatusResponse> {
    status_with(address, timeout, None).await
}

/// [`status`] over `tls` (`None`: the process's identities).
pub async fn status_with(
    address: &str,
    timeout: Duration,
    tls: Option<&Arc<ClientTls>>,
) -> Option<StatusResponse> {
    let mut client = raft_client(channel_for(address, tls).ok()?);
    let mut req = tonic::Request::new(StatusRequest {});
    req.set_timeout(timeout);
    tokio::time::timeout(timeout + Duration::from_millis(200), client.status(req))
        .await
        .ok()?
        .ok()
        .map(|r| r.into_inner())
}

async fn probe(
    replicas: &BTreeMap<NodeId, String>,
    timeout: Duration,
    tls: Option<&Arc<ClientTls>>,
) -> Probed {
    let answers = futures::future::join_all(replicas.iter().map(|(id, address)| async move {
        (*id, address, status_with(address, timeout, tls).await)
    }))
    .await;
    let mut addresses = replicas.clone();
    let mut reachable = BTreeSet::new();
    let mut leader: Option<(&String, &StatusResponse)> = None;
    for (id, address, answer) in &answers {
        let Some(s) = answer else { continue };
        // A replica restarted under another id at this address is not the one asked for.
        if s.id != *id {
            continue;
        }
        reachable.insert(*id);
        if s.role == "leader" && leader.is_none_or(|(_, l)| s.term > l.term) {
            leader = Some((address, s));
        }
    }
    let Some((leader_address, l)) = leader else {
        return Probed {
            group: Group {
                reachable,
                ..Group::default()
            },
            leader_address: None,
            addresses,
        };
    };
    for m in l.voters.iter().chain(&l.learners) {
        addresses.entry(m.id).or_insert_with(|| m.address.clone());
    }
    Probed {
        group: Group {
            voters: l.voters.iter().map(|m| m.id).collect(),
            learners: l.learners.iter().map(|m| m.id).collect(),
            leader: Some(l.id),
            reachable,
        },
        leader_address: Some(leader_address.clone()),
        addresses,
    }
}

/// Changes the voters of the group `replicas` belong to into exactly `desired`, one member
/// at a time. `replicas` holds the address of every current member and of every replica
/// to add (those must be running).
pub async fn change_voters(
    replicas: &BTreeMap<NodeId, String>,
    desired: &BTreeSet<NodeId>,
    opts: &ChangeOptions,
) -> Result<Changed, ChangeError> {
    if desired.is_empty() {
        return Err(PlanError::Empty.into());
    }
    for id in desired {
        if !replicas.contains_key(id) {
            return Err(PlanError::Unreachable(*id).into());
        }
    }
    let mut done = Vec::new();
    // Every member can be added or removed once, a few more for leader changes.
    let max_steps = 2 * (replicas.len() + desired.len()) + 8;
    // Rounds that changed nothing (a step retried on a new leader) are bounded too.
    let mut retries = 0usize;
    let mut leaderless_since: Option<Instant> = None;
    loop {
        let mut known = replicas.clone();
        let probed = probe(&known, opts.probe_timeout, opts.tls.as_ref()).await;
        // Members the leader reports that the caller did not list are asked too.
        if probed.addresses.len() > known.len() {
            known = probed.addresses.clone();
        }
        let probed = if known.len() > replicas.len() {
            probe(&known, opts.probe_timeout, opts.tls.as_ref()).await
        } else {
            probed
        };
        let Some(leader_address) = probed.leader_address.clone() else {
            let since = *leaderless_since.get_or_insert_with(Instant::now);
            if since.elapsed() > opts.election_wait {
                return Err(ChangeError::NoLeader(opts.election_wait));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        leaderless_since = None;
        let steps = plan(&probed.group, desired)?;
        let Some(step) = steps.first().copied() else {
            return Ok(Changed {
                steps: done,
                group: probed.group,
                complete: true,
            });
        };
        if opts.max_steps.is_some_and(|max| done.len() >= max) {
            return Ok(Changed {
                steps: done,
                group: probed.group,
                complete: false,
            });
        }
        if done.len() >= max_steps || retries >= 4 * max_steps {
            return Err(ChangeError::TooManySteps(done.len()));
        }
        let voters = super::membership::apply(&probed.group.voters, step);
        let members: Vec<Member> = voters
            .iter()
            .map(|id| Member {
                id: *id,
                address: opts
                    .advertised
                    .get(id)
                    .or_else(|| probed.addresses.get(id))
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        info!(%step, leader = %leader_address, "membership step");
        match send(&leader_address, members, opts).await {
            Ok(()) => done.push(step),
            // The leader changed or went away under the step, or an earlier change is
            // still being committed: the next round starts from what the group reports.
            Err(status) if retryable(status.code()) => {
                retries += 1;
                info!(%step, error = %status.message(), "the step is retried");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(status) => {
                return Err(ChangeError::Step {
                    step: step.to_string(),
                    leader: leader_address,
                    message: status.message().to_string(),
                });
            }
        }
    }
}

fn retryable(code: tonic::Code) -> bool {
    use tonic::Code;
    matches!(
        code,
        Code::FailedPrecondition | Code::Unavailable | Code::Cancelled | Code::Unknown
    )
}

async fn send(
    leader: &str,
    members: Vec<Member>,
    opts: &ChangeOptions,
) -> Result<(), tonic::Status> {
    let channel = channel_for(leader, opts.tls.as_ref())
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut client = raft_client(channel);
    let mut req = tonic::Request::new(ChangeMembershipRequest { members });
    req.set_timeout(opts.step_timeout);
    client.change_membership(req).await.map(|_| ())
}
