//! `spec.backup`: a backup of every shard when the schedule says one is due.
//!
//! ```text
//!  due? (the schedule's next time after the last attempt, or after the cluster's
//!  creation, has passed)
//!    └─ per shard: its leader's Admin.Backup(to = <url>/<UTC time>, shard) over mutual
//!       TLS (a snapshot through Raft, uploaded by the replica, removed locally)
//!    └─ backup.json written by the operator (the store's environment from
//!       spec.backup.credentialsSecret) ─▶ status.backup, an Event
//! ```
//!
//! A shard without a leader fails the attempt (nothing half-written is listed: without
//! `backup.json` it is not a backup); it is tried again after [`RETRY_AFTER`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use telltale_backup::manifest::{BackupIndex, FORMAT};
use telltale_backup::{Location, write_index};
use telltale_crds::status::BackupStatus;
use telltale_crds::{BackupSpec, MetricCluster, ResourceStatus, backup_schedule};
use telltale_storage_api::client::channel_for;
use telltale_storage_api::pb::BackupRequest;
use telltale_storage_api::pb::admin_client::AdminClient;

use crate::context::Context;
use crate::membership::ShardGroup;
use crate::naming::Names;

/// How long one shard's backup may take.
const SHARD_TIMEOUT: Duration = Duration::from_secs(3600);

/// After a failed attempt, how long until the next (the schedule's next time may be a
/// day away; a leader election should not cost a day's backup).
pub const RETRY_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Whether a backup is due at `now`: the schedule's first time after the last success
/// (or after `created`) has come, and the last attempt did not just fail.
pub fn due(
    spec: &BackupSpec,
    last: Option<&BackupStatus>,
    created: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let Ok(cron) = backup_schedule(&spec.schedule) else {
        return false;
    };
    let time = |t: Option<&String>| {
        t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let since = time(last.and_then(|b| b.last_success_time.as_ref())).unwrap_or(created);
    let scheduled = cron
        .find_next_occurrence(&since, false)
        .is_ok_and(|next| next <= now);
    let failed_recently = last.is_some_and(|b| {
        b.last_error.is_some()
            && time(b.last_attempt_time.as_ref()).is_some_and(|t| now - t < RETRY_AFTER)
    });
    scheduled && !failed_recently
}

/// Runs the backup of `mc` if one is due; the status to record, if one ran.
pub async fn run_if_due(
    ctx: &Context,
    mc: &MetricCluster,
    names: &Names,
    groups: &[ShardGroup],
    previous: &ResourceStatus,
) -> Option<BackupStatus> {
    let spec = mc.spec.backup.as_ref()?;
    let now = Utc::now();
    let created = mc
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.0.as_second(), 0))
        // Without one (an emulated API), the first reconcile backs up at once.
        .unwrap_or(DateTime::UNIX_EPOCH);
    if !due(spec, previous.backup.as_ref(), created, now) {
        return None;
    }
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let url = format!("{}/{stamp}", spec.url.trim_end_matches('/'));
    let mut status = previous.backup.clone().unwrap_or_default();
    status.last_attempt_time = Some(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    match backup(ctx, spec, names, groups, &url, now).await {
        Ok(()) => {
            tracing::info!(cluster = %names.cluster, %url, "backup written");
            ctx.event(
                mc,
                false,
                "BackupSucceeded",
                "Backup",
                format!("every shard backed up to {url}"),
            )
            .await;
            status.last_success_time = status.last_attempt_time.clone();
            status.last_success_url = Some(url);
            status.last_error = None;
        }
        Err(e) => {
            tracing::warn!(cluster = %names.cluster, %url, error = %e, "backup failed");
            ctx.event(mc, true, "BackupFailed", "Backup", e.clone())
                .await;
            status.last_error = Some(e);
        }
    }
    Some(status)
}

async fn backup(
    ctx: &Context,
    spec: &BackupSpec,
    names: &Names,
    groups: &[ShardGroup],
    url: &str,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let tls = ctx.grpc_tls(names);
    for group in groups {
        let shard = group.shard;
        let leader = group
            .leader_address()
            .ok_or_else(|| format!("shard {shard} has no leader"))?;
        let channel = channel_for(&leader, tls.as_ref()).map_err(|e| e.to_string())?;
        let mut req = tonic::Request::new(BackupRequest {
            to: url.to_string(),
            shard,
        });
        req.set_timeout(SHARD_TIMEOUT);
        let done = AdminClient::new(channel)
            .backup(req)
            .await
            .map_err(|e| format!("shard {shard} (leader {leader}): {}", e.message()))?
            .into_inner();
        tracing::info!(cluster = %names.cluster, shard, files = done.files, bytes = done.bytes, "shard backed up");
    }
    let vars = credentials(ctx, spec.credentials_secret.as_ref(), &names.namespace)
        .await
        .map_err(|e| format!("spec.backup.credentialsSecret: {e}"))?;
    let location = Location::parse_with(url, vars).map_err(|e| e.to_string())?;
    let index = BackupIndex {
        format: FORMAT,
        created_ms: now.timestamp_millis(),
        source: format!("MetricCluster {}/{}", names.namespace, names.cluster),
        shards: groups.iter().map(|g| g.shard).collect(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    };
    write_index(&location, &index)
        .await
        .map_err(|e| e.to_string())
}

/// The store's environment: the operator's own, then the keys of the credentials Secret
/// `secret` (of `spec.backup` or `spec.restore`).
pub(super) async fn credentials(
    ctx: &Context,
    secret: Option<&String>,
    namespace: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    let Some(name) = secret else {
        return Ok(vars);
    };
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let secret = api
        .get_opt(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("Secret {name:?} does not exist"))?;
    for (k, v) in secret.data.unwrap_or_default() {
        vars.push((k, String::from_utf8_lossy(&v.0).into_owned()));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_backup_is_due_once_the_next_scheduled_time_has_come() {
        let spec: BackupSpec =
            serde_yaml::from_str("{url: 's3://b/p', schedule: '0 3 * * *'}").unwrap();
        let created = at("2026-12-05T10:00:00Z");
        assert!(!due(&spec, None, created, at("2026-12-06T02:59:59Z")));
        assert!(due(&spec, None, created, at("2026-12-06T03:00:00Z")));
        let last = BackupStatus {
            last_attempt_time: Some("2026-12-06T03:00:01Z".into()),
            last_success_time: Some("2026-12-06T03:00:01Z".into()),
            ..BackupStatus::default()
        };
        let later = |t: &str| due(&spec, Some(&last), created, at(t));
        assert!(!later("2026-12-06T23:00:00Z"));
        assert!(later("2026-12-07T03:00:00Z"));
        // A failed attempt is tried again a minute later, not a day later.
        let failed = BackupStatus {
            last_attempt_time: Some("2026-12-07T03:00:01Z".into()),
            last_error: Some("shard 0 has no leader".into()),
            ..last.clone()
        };
        assert!(!due(
            &spec,
            Some(&failed),
            created,
            at("2026-12-07T03:00:30Z")
        ));
        assert!(due(
            &spec,
            Some(&failed),
            created,
            at("2026-12-07T03:01:02Z")
        ));
    }
}
