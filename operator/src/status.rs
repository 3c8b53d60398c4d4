//! Which status a resource's spec deserves, decided from the spec alone, and the merge
//! patch that writes a status.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use serde_json::{Value, json};
use telltale_crds::scrape_client::{SERVICE_ACCOUNT_DIR, is_service_account_file};
use telltale_crds::status::condition::ACCEPTED as ACCEPTED_CONDITION;
use telltale_crds::{AlertRule, FieldError, MetricCluster, ResourceStatus, ScrapeTarget};

use crate::cluster_status::condition;
use crate::naming::{Component, Names};

/// A resource whose spec the operator can judge.
pub trait Validate {
    fn validate_spec(&self) -> Result<(), FieldError>;
}

impl Validate for ScrapeTarget {
    /// The spec's checks, and in a cluster no file but the pod's service-account ones
    /// (the scraper refuses the others: their certificates and credentials come from
    /// Secrets).
    fn validate_spec(&self) -> Result<(), FieldError> {
        self.spec.validate()?;
        for (field, path) in self.spec.client().files() {
            if !is_service_account_file(path) {
                return Err(FieldError::new(
                    format!("spec.{field}"),
                    format!(
                        "{path}: files are refused in a cluster (only the pod's service-account files under {SERVICE_ACCOUNT_DIR}); use a Secret"
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Validate for AlertRule {
    fn validate_spec(&self) -> Result<(), FieldError> {
        self.spec.validate()
    }
}

impl Validate for MetricCluster {
    /// The spec's checks, and a user's CA Secret that is not one the operator writes.
    fn validate_spec(&self) -> Result<(), FieldError> {
        self.spec.validate()?;
        let Some(ca) = &self.spec.tls.internal.ca_secret_name else {
            return Ok(());
        };
        let names = Names::new(self.name_any(), self.namespace().unwrap_or_default());
        let ours = (0..self.spec.shards)
            .map(|s| names.tls_secret(Component::Storage, s))
            .chain(
                [
                    Component::Scraper,
                    Component::Query,
                    Component::Alertmanager,
                ]
                .map(|c| names.tls_secret(c, 0)),
            );
        for name in ours {
            if *ca == name {
                return Err(FieldError::new(
                    "spec.tls.internal.caSecretName",
                    format!("{name} is a Secret the operator writes the certificates to"),
                ));
            }
        }
        Ok(())
    }
}

/// The phase written for a resource that passed validation.
pub const ACCEPTED: &str = "Accepted";
/// The phase written for a resource that did not.
pub const INVALID: &str = "Invalid";

/// The status of a resource with this verdict: phase, message and the `Accepted`
/// condition (its transition time kept from `previous` when unchanged).
pub fn decide(
    verdict: &Result<(), FieldError>,
    generation: Option<i64>,
    previous: &ResourceStatus,
    now: &Time,
) -> ResourceStatus {
    let (phase, message, c) = match verdict {
        Ok(()) => (
            ACCEPTED,
            None,
            condition(
                previous,
                ACCEPTED_CONDITION,
                true,
                "Valid",
                String::new(),
                generation,
                now,
            ),
        ),
        Err(e) => (
            INVALID,
            Some(e.to_string()),
            condition(
                previous,
                ACCEPTED_CONDITION,
                false,
                "InvalidSpec",
                e.to_string(),
                generation,
                now,
            ),
        ),
    };
    ResourceStatus {
        phase: Some(phase.into()),
        message,
        observed_generation: generation,
        ready: None,
        conditions: vec![c],
        shards: Vec::new(),
        backup: previous.backup.clone(),
    }
}

/// The merge patch (`{"status": {...}}`) that makes the stored status exactly `status`:
/// fields it leaves out are cleared, and the condition list is replaced whole.
pub fn status_patch(status: &ResourceStatus) -> Value {
    let mut value = serde_json::to_value(status).unwrap_or_else(|_| json!({}));
    if let Some(map) = value.as_object_mut() {
        for key in [
            "phase",
            "message",
            "observedGeneration",
            "ready",
            "conditions",
            "shards",
        ] {
            map.entry(key).or_insert(Value::Null);
        }
    }
    json!({ "status": value })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn now() -> Time {
        Time(Timestamp::from_second(1_000).unwrap())
    }

    #[test]
    fn valid_spec_is_accepted_and_clears_the_message() {
        let s = decide(&Ok(()), Some(3), &ResourceStatus::default(), &now());
        assert_eq!(s.phase.as_deref(), Some(ACCEPTED));
        assert_eq!(s.conditions[0].status, "True");
        let patch = status_patch(&s);
        assert!(patch["status"]["message"].is_null());
        assert!(patch["status"].as_object().unwrap().contains_key("message"));
        assert_eq!(patch["status"]["observedGeneration"], 3);
    }

    #[test]
    fn a_user_ca_is_not_a_secret_the_operator_writes() {
        let cluster = |ca: &str| -> MetricCluster {
            serde_json::from_value(json!({
                "apiVersion": "telltale.dev/v1alpha1",
                "kind": "MetricCluster",
                "metadata": {"name": "mc", "namespace": "ns"},
                "spec": {"shards": 2, "tls": {"internal": {"mode": "Secret", "caSecretName": ca}}}
            }))
            .unwrap()
        };
        cluster("my-ca").validate_spec().unwrap();
        cluster("mc-ca").validate_spec().unwrap();
        for ours in ["mc-storage-1-tls", "mc-query-tls"] {
            let err = cluster(ours).validate_spec().unwrap_err();
            assert_eq!(err.field, "spec.tls.internal.caSecretName", "{ours}");
        }
    }

    #[test]
    fn scrape_targets_name_no_file_but_the_service_account_ones() {
        let target = |auth: Value| -> ScrapeTarget {
            serde_json::from_value(json!({
                "apiVersion": "telltale.dev/v1alpha1",
                "kind": "ScrapeTarget",
                "metadata": {"name": "kubelet"},
                "spec": {"scheme": "https", "authorization": auth}
            }))
            .unwrap()
        };
        target(json!({"credentialsFile": "/var/run/secrets/kubernetes.io/serviceaccount/token"}))
            .validate_spec()
            .unwrap();
        let e = target(json!({"credentialsFile": "/etc/shadow"}))
            .validate_spec()
            .unwrap_err();
        assert_eq!(e.field, "spec.authorization.credentialsFile");
        assert!(
            e.message
                .starts_with("/etc/shadow: files are refused in a cluster")
        );
    }

    #[test]
    fn invalid_spec_names_the_field() {
        let target: ScrapeTarget = serde_json::from_value(json!({
            "apiVersion": "telltale.dev/v1alpha1",
            "kind": "ScrapeTarget",
            "metadata": {"name": "x", "generation": 2},
            "spec": {"interval": "5s", "scrapeTimeout": "10s"}
        }))
        .unwrap();
        let s = decide(
            &target.validate_spec(),
            target.metadata.generation,
            &ResourceStatus::default(),
            &now(),
        );
        assert_eq!(s.phase.as_deref(), Some(INVALID));
        assert!(
            s.message
                .as_deref()
                .unwrap()
                .starts_with("spec.scrapeTimeout: ")
        );
        let c = &s.conditions[0];
        assert_eq!(
            (c.type_.as_str(), c.status.as_str(), c.reason.as_str()),
            ("Accepted", "False", "InvalidSpec")
        );
        assert_eq!(c.observed_generation, Some(2));
    }
}
