//! Which status a resource deserves, decided from its spec alone.

use serde_json::{Value, json};
use telltale_crds::{AlertRule, FieldError, MetricCluster, ScrapeTarget};

/// A resource whose spec the operator can judge.
pub trait Validate {
    fn validate_spec(&self) -> Result<(), FieldError>;
}

impl Validate for ScrapeTarget {
    fn validate_spec(&self) -> Result<(), FieldError> {
        self.spec.validate()
    }
}

impl Validate for AlertRule {
    fn validate_spec(&self) -> Result<(), FieldError> {
        self.spec.validate()
    }
}

impl Validate for MetricCluster {
    fn validate_spec(&self) -> Result<(), FieldError> {
        self.spec.validate()
    }
}

/// The phase written for a resource that passed validation.
pub const ACCEPTED: &str = "Accepted";
/// The phase written for a resource that did not.
pub const INVALID: &str = "Invalid";

/// The status patch (`{"status": {...}}`) for a resource with this verdict and generation.
pub fn decide(verdict: &Result<(), FieldError>, generation: Option<i64>) -> Value {
    let (phase, message) = match verdict {
        Ok(()) => (ACCEPTED, Value::Null),
        Err(e) => (INVALID, Value::String(e.to_string())),
    };
    json!({
        "status": {
            "phase": phase,
            "message": message,
            "observedGeneration": generation,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_spec_is_accepted_and_clears_the_message() {
        let patch = decide(&Ok(()), Some(3));
        assert_eq!(patch["status"]["phase"], ACCEPTED);
        assert!(patch["status"]["message"].is_null());
        assert_eq!(patch["status"]["observedGeneration"], 3);
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
        let patch = decide(&target.validate_spec(), target.metadata.generation);
        assert_eq!(patch["status"]["phase"], INVALID);
        assert!(
            patch["status"]["message"]
                .as_str()
                .unwrap()
                .starts_with("spec.scrapeTimeout: ")
        );
    }
}
