//! [`BackupSpec`] (`spec.backup`): scheduled backups of every shard of a MetricCluster to
//! object storage, and [`backup_schedule`], the one parser of their cron expressions.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// `spec.backup`: the operator backs every shard up on a schedule: each shard's leader
/// snapshots its data through Raft and uploads it, then the operator writes the backup's
/// `backup.json`. `telltale restore --from <url>/<time> --shard N` restores one.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupSpec {
    /// `s3://bucket/prefix` or `file:///path` (a path the storage pods and the operator
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

impl BackupSpec {
    pub fn validate(&self) -> Result<(), FieldError> {
        let url = self.url.as_str();
        if !(url.starts_with("s3://") || url.starts_with("file:///")) {
            return Err(FieldError::new(
                "spec.backup.url",
                format!("{url:?} is not s3://BUCKET/PREFIX or file:///PATH"),
            ));
        }
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
}
