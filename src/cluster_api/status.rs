//! `GET /api/v1/status/cluster`: each storage shard's Raft group as its replicas report it
//! — role, term, leader, log, applied and snapshot indexes, lag behind the newest log
//! entry, voters and learners — and the disk each replica's tiers take (the storage
//! `Info` call), plus the cluster's total per tier. Every replica is asked at once with a
//! short timeout; one that does not answer is listed as `unreachable` with the error.
//!
//! The replicas asked are the shard map's, and any other member a replica reports as a
//! voter or learner (so a replica added to a group shows up before the map lists it).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use serde_json::{Map, Value};
use telltale_storage_api::cluster::{Shard, ShardMap};
use telltale_storage_api::headers::HEADER_READ;
use telltale_storage_api::pb::storage_client::StorageClient;
use telltale_storage_api::pb::{InfoRequest, Resolution, TierInfo};
use telltale_storage_api::raft_pb::{StatusRequest, StatusResponse};

/// How long one replica may take to answer.
const TIMEOUT: Duration = Duration::from_millis(800);

/// What one replica answered.
#[derive(Debug, Clone)]
pub struct Probe {
    pub shard: u32,
    pub address: String,
    /// Its Raft status, or why there is none.
    pub raft: Result<StatusResponse, String>,
    /// Its tiers (retention, progress, disk), when it answered.
    pub tiers: Option<Vec<TierInfo>>,
}

/// The `data` of `/api/v1/status/cluster`.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterStatus {
    pub shards: Vec<ShardStatus>,
    /// Bytes on disk per tier (`raw`, `1m`, `1h`), summed over every replica that
    /// answered.
    pub disk_bytes: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShardStatus {
    pub id: u32,
    /// Address of the replica leading in the highest term.
    pub leader: Option<String>,
    pub leader_id: Option<u64>,
    /// Voting members, as the leader (else any replica) reports them.
    pub voters: Vec<u64>,
    pub learners: Vec<u64>,
    /// Voters and learners.
    pub members: Vec<u64>,
    /// The leader's commit index: the highest log index a majority of voters stored.
    pub commit_index: Option<u64>,
    /// A leader leads and a majority of the voters answer.
    pub quorum: bool,
    /// A voter does not answer or is behind, or a learner is still catching up.
    pub under_replicated: bool,
    pub replicas: Vec<ReplicaStatus>,
}

/// Entries a voter may be behind its leader and still count as replicating.
pub const UNDER_REPLICATED_LAG: u64 = 1000;

#[derive(Debug, Clone, Serialize)]
pub struct ReplicaStatus {
    /// Its Raft id (known from its own answer or from a peer's member list).
    pub id: Option<u64>,
    pub address: String,
    /// `leader`, `follower`, `candidate`, `learner`, `shutdown`, `single-node` (a
    /// storage node of an earlier release, without Raft) or `unreachable`.
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_log_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable_index: Option<u64>,
    /// Entries behind: as the leader's replication reports it (its last log index less
    /// what it knows this replica stored), else the shard's newest log index less what
    /// this replica applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
    /// On the leader's replication: the highest log index this replica stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_index: Option<u64>,
    /// Bytes on disk per tier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_bytes: Option<BTreeMap<&'static str, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Fields the caller adds (dev-cluster: the process's pid, restarts, log file).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The name of a tier in the API (and in the `tier` label of the storage metrics).
fn tier_name(resolution: i32) -> &'static str {
    Resolution::try_from(resolution).map_or("unknown", Resolution::short_name)
}

/// Asks every replica of `shards` (and every member they report that is not listed)
/// for its Raft status and tiers, all at once.
pub async fn probe(shards: &[Shard]) -> Vec<Probe> {
    let listed: Vec<(u32, String)> = shards
        .iter()
        .flat_map(|s| s.replicas.iter().map(move |a| (s.id, a.clone())))
        .collect();
    let mut probes = probe_each(&listed).await;
    let known: BTreeSet<(u32, String)> = listed.into_iter().collect();
    let reported: BTreeSet<(u32, String)> = probes
        .iter()
        .filter_map(|p| Some((p.shard, p.raft.as_ref().ok()?)))
        .flat_map(|(shard, s)| {
            s.voters
                .iter()
                .chain(&s.learners)
                .map(move |m| (shard, m.address.clone()))
        })
        .filter(|m| !known.contains(m))
        .collect();
    if !reported.is_empty() {
        let more: Vec<(u32, String)> = reported.into_iter().collect();
        probes.extend(probe_each(&more).await);
    }
    probes
}

async fn probe_each(replicas: &[(u32, String)]) -> Vec<Probe> {
    futures::future::join_all(replicas.iter().map(|(shard, address)| async move {
        let (raft, tiers) = tokio::join!(raft_status(address), tiers(address));
        Probe {
            shard: *shard,
            address: address.clone(),
            raft,
            tiers,
        }
    }))
    .await
}

async fn raft_status(address: &str) -> Result<StatusResponse, String> {
    let channel = telltale_storage_api::client::channel(address).map_err(|e| e.to_string())?;
    let mut client = telltale_replica::network::raft_client(channel);
    let mut req = tonic::Request::new(StatusRequest {});
    req.set_timeout(TIMEOUT);
    match tokio::time::timeout(TIMEOUT + Duration::from_millis(200), client.status(req)).await {
        Ok(Ok(r)) => Ok(r.into_inner()),
        Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => {
            Err(SINGLE_NODE.to_string())
        }
        Ok(Err(status)) => Err(status.message().to_string()),
        Err(_) => Err(format!("no answer within {TIMEOUT:?}")),
    }
}

/// The role of a storage node of an earlier release, which ran without Raft.
const SINGLE_NODE: &str = "single-node";

/// The replica's own tiers: a follower read, so every replica answers for itself.
async fn tiers(address: &str) -> Option<Vec<TierInfo>> {
    let channel = telltale_storage_api::client::channel(address).ok()?;
    let mut client = StorageClient::new(channel);
    let mut req = tonic::Request::new(InfoRequest {});
    req.set_timeout(TIMEOUT);
    req.metadata_mut().insert(
        HEADER_READ,
        tonic::metadata::MetadataValue::from_static("any"),
    );
    let resp = tokio::time::timeout(TIMEOUT + Duration::from_millis(200), client.info(req))
        .await
        .ok()?
        .ok()?;
    Some(resp.into_inner().tiers)
}

impl ClusterStatus {
    /// The status the replicas' answers describe (pure).
    pub fn from_probes(probes: &[Probe]) -> ClusterStatus {
        let mut by_shard: BTreeMap<u32, Vec<&Probe>> = BTreeMap::new();
        for p in probes {
            by_shard.entry(p.shard).or_default().push(p);
        }
        let mut disk_bytes: BTreeMap<&'static str, u64> = BTreeMap::new();
        let shards = by_shard
            .into_iter()
            .map(|(id, probes)| {
                let shard = shard_status(id, &probes);
                for r in &shard.replicas {
                    for (tier, bytes) in r.disk_bytes.iter().flatten() {
                        *disk_bytes.entry(tier).or_default() += bytes;
                    }
                }
                shard
            })
            .collect();
        ClusterStatus { shards, disk_bytes }
    }

    /// The replica at `address` of `shard`, to add fields to.
    pub fn replica_mut(&mut self, shard: u32, address: &str) -> Option<&mut ReplicaStatus> {
        self.shards
            .iter_mut()
            .find(|s| s.id == shard)?
            .replicas
            .iter_mut()
            .find(|r| r.address == address)
    }
}

fn shard_status(id: u32, probes: &[&Probe]) -> ShardStatus {
    // (address, status) of every replica that answered.
    let answers: Vec<(&str, &StatusResponse)> = probes
        .iter()
        .filter_map(|p| Some((p.address.as_str(), p.raft.as_ref().ok()?)))
        .collect();
    let leader = answers
        .iter()
        .filter(|(_, s)| s.role == "leader")
        .max_by_key(|(_, s)| s.term)
        .copied();
    let members = leader
        .or_else(|| answers.iter().max_by_key(|(_, s)| s.term).copied())
        .map(|(_, s)| s);
    let newest = answers
        .iter()
        .map(|(_, s)| s.last_log_index)
        .max()
        .unwrap_or(0);
    // Ids of replicas that did not answer, from a peer's member list.
    let mut ids: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, s) in &answers {
        for m in s.voters.iter().chain(&s.learners) {
            ids.insert(m.address.as_str(), m.id);
        }
    }
    let replicas = probes
        .iter()
        .map(|p| {
            let disk_bytes = p.tiers.as_ref().map(|tiers| {
                tiers
                    .iter()
                    .map(|t| (tier_name(t.resolution), t.disk_bytes))
                    .collect()
            });
            let mut r = ReplicaStatus {
                id: ids.get(p.address.as_str()).copied(),
                address: p.address.clone(),
                role: "unreachable".into(),
                term: None,
                leader_id: None,
                applied_index: None,
                last_log_index: None,
                snapshot_index: None,
                durable_index: None,
                lag: None,
                matched_index: None,
                disk_bytes,
                error: None,
                extra: Map::new(),
            };
            match &p.raft {
                Ok(s) => {
                    r.id = Some(s.id);
                    r.role = s.role.clone();
                    r.term = Some(s.term);
                    r.leader_id = (s.leader_id != 0).then_some(s.leader_id);
                    r.applied_index = Some(s.applied_index);
                    r.last_log_index = Some(s.last_log_index);
                    r.snapshot_index = Some(s.snapshot_index);
                    r.durable_index = Some(s.durable_index);
                    r.lag = Some(newest.saturating_sub(s.applied_index));
                }
                Err(e) if e == SINGLE_NODE && p.tiers.is_some() => r.role = SINGLE_NODE.into(),
                Err(e) => r.error = Some(e.clone()),
            }
            if let Some((_, l)) = leader
                && let Some(id) = r.id
                && let Some(matched) = l.matched.get(&id)
            {
                r.matched_index = Some(*matched);
                r.lag = Some(l.last_log_index.saturating_sub(*matched));
            }
            r
        })
        .collect::<Vec<ReplicaStatus>>();
    let voters: Vec<u64> =
        members.map_or_else(Vec::new, |m| m.voters.iter().map(|v| v.id).collect());
    let learners: Vec<u64> =
        members.map_or_else(Vec::new, |m| m.learners.iter().map(|v| v.id).collect());
    let replicating = |id: &u64| {
        replicas.iter().any(|r| {
            r.id == Some(*id)
                && r.error.is_none()
                && r.lag.is_some_and(|lag| lag <= UNDER_REPLICATED_LAG)
        })
    };
    let answering = voters
        .iter()
        .filter(|id| {
            replicas
                .iter()
                .any(|r| r.id == Some(**id) && r.error.is_none())
        })
        .count();
    let quorum = leader.is_some() && answering > voters.len() / 2;
    let under_replicated = !quorum || !learners.is_empty() || !voters.iter().all(replicating);
    let mut all_members: Vec<u64> = voters.iter().chain(&learners).copied().collect();
    all_members.sort_unstable();
    ShardStatus {
        id,
        leader: leader.map(|(address, _)| address.to_string()),
        leader_id: leader.map(|(_, l)| l.id),
        commit_index: leader.map(|(_, l)| l.commit_index),
        voters,
        learners,
        members: all_members,
        quorum,
        under_replicated,
        replicas,
    }
}

/// Where the shards' replicas are listed.
#[derive(Debug, Clone)]
pub enum Replicas {
    /// A shard map file, read on every request (the operator's ConfigMap changes).
    ShardMapFile(PathBuf),
    /// A fixed set: standalone's one replica, or a single storage node.
    Fixed(Vec<Shard>),
}

impl Replicas {
    fn shards(&self) -> Result<Vec<Shard>, String> {
        match self {
            Replicas::ShardMapFile(path) => ShardMap::load(path)
                .map(|m| m.shards)
                .map_err(|e| format!("shard map {}: {e}", path.display())),
            Replicas::Fixed(shards) => Ok(shards.clone()),
        }
    }
}

/// `GET /api/v1/status/cluster` over `replicas`.
pub fn router(replicas: Replicas) -> axum::Router {
    axum::Router::new()
        .route("/api/v1/status/cluster", get(handler))
        .with_state(replicas)
}

async fn handler(State(replicas): State<Replicas>) -> Response {
    match replicas.shards() {
        Ok(shards) => success(&ClusterStatus::from_probes(&probe(&shards).await)),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"status": "error", "errorType": "internal", "error": e})),
        )
            .into_response(),
    }
}

/// The Prometheus envelope around `status`.
pub fn success(status: &ClusterStatus) -> Response {
    Json(serde_json::json!({ "status": "success", "data": status })).into_response()
}

#[cfg(test)]
mod tests {
    use telltale_storage_api::raft_pb::Member;

    use super::*;

    fn raft(id: u64, role: &str, term: u64, last: u64, applied: u64) -> StatusResponse {
        StatusResponse {
            id,
            role: role.into(),
            term,
            leader_id: 1,
            last_log_index: last,
            applied_index: applied,
            voters: (1..=3)
                .map(|i| Member {
                    id: i,
                    address: format!("r{i}:1"),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn probe(shard: u32, n: u64, raft: Result<StatusResponse, String>, raw: u64) -> Probe {
        Probe {
            shard,
            address: format!("r{n}:1"),
            tiers: raft.is_ok().then(|| {
                vec![
                    TierInfo {
                        resolution: Resolution::Raw as i32,
                        disk_bytes: raw,
                        ..Default::default()
                    },
                    TierInfo {
                        resolution: Resolution::OneHour as i32,
                        disk_bytes: 1,
                        ..Default::default()
                    },
                ]
            }),
            raft,
        }
    }

    #[test]
    fn leader_lag_members_and_disk() {
        let status = ClusterStatus::from_probes(&[
            probe(0, 1, Ok(raft(1, "leader", 3, 100, 100)), 10),
            probe(0, 2, Ok(raft(2, "follower", 3, 100, 96)), 20),
            probe(0, 3, Err("connection refused".into()), 0),
        ]);
        let shard = &status.shards[0];
        assert_eq!(shard.leader.as_deref(), Some("r1:1"));
        assert_eq!(shard.leader_id, Some(1));
        assert_eq!(shard.voters, [1, 2, 3]);
        let lags: Vec<Option<u64>> = shard.replicas.iter().map(|r| r.lag).collect();
        assert_eq!(lags, [Some(0), Some(4), None]);
        let dead = &shard.replicas[2];
        assert_eq!(dead.role, "unreachable");
        assert_eq!(dead.id, Some(3), "the id comes from the peers' member list");
        assert_eq!(dead.error.as_deref(), Some("connection refused"));
        assert_eq!(status.disk_bytes, BTreeMap::from([("1h", 2), ("raw", 30)]));
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["shards"][0]["replicas"][1]["disk_bytes"]["raw"], 20);
        assert!(json["shards"][0]["replicas"][2].get("term").is_none());
    }

    #[test]
    fn lag_from_the_leaders_replication_and_the_shards_health() {
        let mut leader = raft(1, "leader", 3, 100, 100);
        leader.matched = [(1, 100), (2, 90), (3, 40)].into();
        leader.commit_index = 90;
        leader.learners = vec![Member {
            id: 4,
            address: "r4:1".into(),
        }];
        let status = ClusterStatus::from_probes(&[
            probe(0, 1, Ok(leader.clone()), 0),
            probe(0, 2, Ok(raft(2, "follower", 3, 100, 95)), 0),
            probe(0, 3, Ok(raft(3, "follower", 3, 40, 40)), 0),
        ]);
        let shard = &status.shards[0];
        assert_eq!(shard.commit_index, Some(90));
        assert_eq!(shard.members, [1, 2, 3, 4]);
        assert_eq!(shard.learners, [4]);
        // The leader's view: what it knows each follower stored.
        let lags: Vec<Option<u64>> = shard.replicas.iter().map(|r| r.lag).collect();
        assert_eq!(lags[..3], [Some(0), Some(10), Some(60)]);
        assert_eq!(shard.replicas[2].matched_index, Some(40));
        assert!(shard.quorum);
        assert!(shard.under_replicated, "a learner is catching up");

        leader.learners.clear();
        let healthy = ClusterStatus::from_probes(&[
            probe(0, 1, Ok(leader.clone()), 0),
            probe(0, 2, Ok(raft(2, "follower", 3, 100, 95)), 0),
            probe(0, 3, Ok(raft(3, "follower", 3, 40, 40)), 0),
        ]);
        assert!(healthy.shards[0].quorum && !healthy.shards[0].under_replicated);

        let degraded = ClusterStatus::from_probes(&[
            probe(0, 1, Ok(leader), 0),
            probe(0, 2, Ok(raft(2, "follower", 3, 100, 95)), 0),
            probe(0, 3, Err("connection refused".into()), 0),
        ]);
        assert!(degraded.shards[0].quorum && degraded.shards[0].under_replicated);

        let lost = ClusterStatus::from_probes(&[
            probe(0, 1, Ok(raft(1, "candidate", 4, 100, 100)), 0),
            probe(0, 2, Err("connection refused".into()), 0),
            probe(0, 3, Err("connection refused".into()), 0),
        ]);
        assert!(!lost.shards[0].quorum && lost.shards[0].under_replicated);
        assert_eq!(lost.shards[0].commit_index, None);
    }

    #[test]
    fn the_leader_of_the_highest_term_wins() {
        let status = ClusterStatus::from_probes(&[
            probe(0, 1, Ok(raft(1, "leader", 2, 10, 10)), 0),
            probe(0, 2, Ok(raft(2, "leader", 4, 12, 12)), 0),
        ]);
        assert_eq!(status.shards[0].leader.as_deref(), Some("r2:1"));
        assert_eq!(status.shards[0].leader_id, Some(2));
    }

    #[test]
    fn no_leader_and_a_node_without_raft() {
        let status = ClusterStatus::from_probes(&[
            probe(0, 1, Ok(raft(1, "candidate", 5, 10, 10)), 0),
            Probe {
                tiers: Some(Vec::new()),
                ..probe(1, 4, Err(SINGLE_NODE.into()), 0)
            },
        ]);
        assert_eq!(status.shards[0].leader, None);
        assert_eq!(status.shards[0].voters, [1, 2, 3]);
        assert_eq!(status.shards[1].replicas[0].role, "single-node");
        assert_eq!(status.shards[1].replicas[0].error, None);
    }
}
