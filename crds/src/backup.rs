//! [`BackupSpec`] (`spec.backup`): scheduled backups of every shard of a MetricCluster to
//! object storage, and [`backup_schedule`], the one parser of their cron expressions;
//! [`RestoreSpec`] (`spec.restore`): a new MetricCluster bootstrapped from one of them.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// `spec.backup`: the operator backs every shard up on a schedule: each shard's leader
/// snapshots its data through Raft and uploads it, then the operator writes the backup's
/// `backup.json`. `telltale restore --from <url>/<time> --shard N` restores one.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupSpec {
    /// `s3://bucket/prefix`, `gs://bucket/prefix`, `az://container/prefix` or
    /// `file:///path` (a path the storage pods and the operator
    /// share); each backup goes under `<url>/<UTC time>/`.
    pub url: String,
    /// When, as cron in UTC: five fields (`0 3 * * *`: daily at 03:00), or six with
    /// seconds first.
    pub schedule: String,
    /// A Secret of the cluster's namespace whose keys are the store's environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`, ...),
    /// given to the storage pods and read by the operator. Without it the pods' own
    /// identity is used (IRSA, workload identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

/// `schedule` parsed: five cron fields, or six with seconds first.
pub fn backup_schedule(schedule: &str) -> Result<croner::Cron, String> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Optional)
        .build()
        .parse(schedule)
        .map_err(|e| e.to_string())
}

/// `spec.restore`: a new MetricCluster starts from a backup instead of empty. Each shard
/// N restores the backup's shard N into its first replica (pod ordinal 0), which becomes
/// the shard's Raft group of one; the other replicas join it as the operator grows the
/// group to `replicasPerShard` (each caught up by a snapshot). Only empty volumes are
/// restored: a pod whose volume holds data, or whose shard's group exists already
/// (another replica answers as its member), starts as it would without this field, so
/// restarts and rescheduling never go back to the backup. The backup must have
/// `spec.shards` shards (the operator refuses it otherwise, before creating anything).
/// Read only when the cluster's storage is first created: set on a running cluster, or
/// left in place afterwards, it changes nothing.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestoreSpec {
    /// One backup: `s3://bucket/prefix/<UTC time>` or `file:///path/<UTC time>`, the
    /// directory holding its `backup.json` (`status.backup.lastSuccessUrl` of the cluster
    /// that took it).
    pub from: String,
    /// A Secret of the cluster's namespace whose keys are the store's environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// ...), given to the restoring pods and read by the operator. Without it the pods'
    /// own identity is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,
}

impl RestoreSpec {
    pub fn validate(&self) -> Result<(), FieldError> {
        check_url("spec.restore.from", &self.from)?;
        if self.credentials_secret.as_deref() == Some("") {
            return Err(FieldError::new(
                "spec.restore.credentialsSecret",
                "must not be empty",
            ));
        }
        Ok(())
    }
}

/// A backup URL: `s3://`, `gs://`, `az://` or `file:///`.
fn check_url(field: &str, url: &str) -> Result<(), FieldError> {
    crate::cold_storage::store_url(field, url).map(|_| ())
}

impl BackupSpec {
    pub fn validate(&self) -> Result<(), FieldError> {
        check_url("spec.backup.url", &self.url)?;
        backup_schedule(&self.schedule).map_err(|e| {
            FieldError::new("spec.backup.schedule", format!("{:?}: {e}", self.schedule))
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str, schedule: &str) -> BackupSpec {
        BackupSpec {
            url: url.into(),
            schedule: schedule.into(),
            credentials_secret: None,
        }
    }

    #[test]
    fn urls_and_schedules_are_checked_with_the_field_named() {
        assert!(spec("s3://b/p", "0 3 * * *").validate().is_ok());
        assert!(spec("file:///backups", "*/10 * * * * *").validate().is_ok());
        let e = spec("http://x", "0 3 * * *")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.backup.url"), "{e}");
        let e = spec("s3://b", "every day")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.backup.schedule"), "{e}");
    }

    #[test]
    fn a_restore_names_its_field() {
        let restore = |yaml: &str| serde_yaml::from_str::<RestoreSpec>(yaml).unwrap();
        restore("{from: 's3://b/p/20260101T030000Z'}")
            .validate()
            .unwrap();
        restore("{from: 'file:///backups/x', credentialsSecret: s3}")
            .validate()
            .unwrap();
        let e = restore("{from: 'https://b/p'}").validate().unwrap_err();
        assert_eq!(e.field, "spec.restore.from");
        assert!(e.message.contains("https://b/p"), "{e}");
        let e = restore("{from: 's3://b/p', credentialsSecret: ''}")
            .validate()
            .unwrap_err();
        assert_eq!(e.field, "spec.restore.credentialsSecret");
        assert!(serde_yaml::from_str::<RestoreSpec>("{url: 's3://b'}").is_err());
    }
}
