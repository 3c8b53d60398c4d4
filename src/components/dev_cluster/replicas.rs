//! `POST /dev-cluster/shards/{shard}/replicas?count=N`: grows or shrinks one shard's Raft
//! group to the replicas `1..=N`, live.
//!
//! Growing starts the missing replica processes (a replica removed earlier comes back
//! under its id and address with an empty data directory), waits until they answer, then
//! [`change_voters`] adds them one at a time (learner, catch-up by snapshot and log,
//! promotion). Shrinking removes the replicas above `N` one at a time, the leader last,
//! never below quorum, and stops their processes once they are out of the group. The
//! answer lists the steps taken and the group at the end; `count=0`, a count the group
//! cannot reach without losing its quorum, or a missing or malformed count is a 400, an
//! unknown shard a 404.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use telltale_storage_api::cluster::membership::PlanError;
use telltale_storage_api::cluster::reconcile::{self, ChangeError, ChangeOptions, change_voters};

use super::{Cluster, Member};

/// How long a started replica may take to answer before it is added.
const START_WAIT: Duration = Duration::from_secs(30);

fn error(code: StatusCode, error_type: &str, message: impl Into<String>) -> Response {
    let body = json!({"status": "error", "errorType": error_type, "error": message.into()});
    (code, Json(body)).into_response()
}

pub(super) async fn set_count(
    State(cluster): State<Arc<Cluster>>,
    Path(shard): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(shard) = shard.parse::<u32>().ok().filter(|s| *s < cluster.shards) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no shard {shard:?}: the shards are 0..{}",
                cluster.shards.saturating_sub(1)
            ),
        );
    };
    let count = match query.get("count").map(|c| c.trim().parse::<u64>()) {
        None => return error(StatusCode::BAD_REQUEST, "bad_data", "count is required"),
        Some(Err(_)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                "count must be a whole number",
            );
        }
        Some(Ok(0)) => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                "count=0: a group needs at least one voter",
            );
        }
        Some(Ok(n)) if n > 9 => {
            return error(
                StatusCode::BAD_REQUEST,
                "bad_data",
                format!("count={n}: at most 9 replicas per shard"),
            );
        }
        Some(Ok(n)) => n,
    };
    let _one_at_a_time = cluster.changing.lock().await;
    let started = match start_missing(&cluster, shard, count).await {
        Ok(started) => started,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("{e:#}"),
            );
        }
    };
    let replicas: BTreeMap<u64, String> = cluster
        .active()
        .iter()
        .filter(|m| m.shard == shard)
        .map(|m| (m.id, m.address.clone()))
        .collect();
    let desired: BTreeSet<u64> = (1..=count).collect();
    tracing::info!(shard, count, "changing the replicas of a shard");
    let result = change_voters(&replicas, &desired, &ChangeOptions::default()).await;
    let changed = match result {
        Ok(changed) => changed,
        Err(e) => {
            if matches!(e, ChangeError::Refused(_)) {
                // Nothing changed: the processes started for it go again.
                for m in &started {
                    remove(m).await;
                }
            }
            let (code, kind) = match &e {
                ChangeError::Refused(PlanError::NoLeader) | ChangeError::NoLeader(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
                }
                ChangeError::Refused(_) => (StatusCode::BAD_REQUEST, "bad_data"),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            };
            return error(code, kind, format!("shard {shard}: {e}"));
        }
    };
    // Out of the group: stopped.
    for m in cluster.active() {
        if m.shard == shard && !changed.group.voters.contains(&m.id) {
            remove(&m).await;
        }
    }
    if let Err(e) = cluster.publish_map() {
        tracing::warn!(error = %e, "cannot publish the shard map");
    }
    let steps: Vec<String> = changed.steps.iter().map(ToString::to_string).collect();
    Json(json!({
        "status": "success",
        "data": {
            "shard": shard,
            "count": count,
            "steps": steps,
            "voters": changed.group.voters,
            "learners": changed.group.learners,
            "leader_id": changed.group.leader,
        }
    }))
    .into_response()
}

/// Starts replicas `1..=count` of `shard` that are not running as members and waits
/// until they answer; returns them.
async fn start_missing(
    cluster: &Cluster,
    shard: u32,
    count: u64,
) -> anyhow::Result<Vec<Arc<Member>>> {
    let all: Vec<Arc<Member>> = cluster
        .all()
        .into_iter()
        .filter(|m| m.shard == shard)
        .collect();
    let peers: Vec<String> = all
        .iter()
        .filter(|m| !m.state().removed || m.id <= count)
        .map(|m| format!("{}={}", m.id, m.address))
        .collect();
    let mut started = Vec::new();
    for id in 1..=count {
        match all.iter().find(|m| m.id == id) {
            Some(m) if !m.state().removed => continue,
            Some(m) => {
                // It was removed: it comes back as a new learner, with an empty disk.
                m.stop().await;
                wipe(&m.data_dir)?;
                m.spawn(&cluster.exe).await?;
                started.push(m.clone());
            }
            None => {
                let port = telltale_replica::loopback::stable_port()
                    .map_err(|e| anyhow::anyhow!("cannot pick a port: {e}"))?;
                let mut peers = peers.clone();
                peers.push(format!("{id}=127.0.0.1:{port}"));
                let m = Arc::new(cluster.new_member(shard, id, port, &peers.join(","))?);
                m.state().removed = true;
                m.spawn(&cluster.exe).await?;
                cluster
                    .members
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(m.clone());
                started.push(m);
            }
        }
    }
    // Members again (the supervisor watches them from here on) once they answer.
    let deadline = Instant::now() + START_WAIT;
    for m in &started {
        while reconcile::status(&m.address, Duration::from_millis(500))
            .await
            .is_none()
        {
            if Instant::now() > deadline {
                for m in &started {
                    remove(m).await;
                }
                anyhow::bail!(
                    "replica {} of shard {shard} did not answer within {START_WAIT:?} (log: {})",
                    m.id,
                    m.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    for m in &started {
        m.state().removed = false;
    }
    Ok(started)
}

/// Takes a replica out of the cluster's processes: marked removed, then stopped.
async fn remove(m: &Member) {
    m.state().removed = true;
    m.stop().await;
    tracing::info!(
        shard = m.shard,
        replica = m.id,
        "replica removed and stopped"
    );
}

/// Empties a data directory (a removed replica's state is of a group it left).
fn wipe(dir: &std::path::Path) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot empty {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))
}
