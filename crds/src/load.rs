//! Reading resources from YAML files: the standalone equivalent of `kubectl apply -f`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{ConfigError, FieldError, Result};
use crate::prometheus_operator::{
    self as operator, PodMonitor, PrometheusRule, ScrapeConfig, ServiceMonitor,
};
use crate::{API_VERSION, AlertRule, MetricCluster, ScrapeTarget};

/// One resource read from a file. A prometheus-operator document gives Telltale's
/// resources: a ServiceMonitor or PodMonitor one ScrapeTarget per endpoint (each a
/// `Document` with the same `index`), a PrometheusRule one AlertRule.
#[derive(Clone, Debug)]
pub struct Document {
    pub file: PathBuf,
    /// 1-based position of the document in its file.
    pub index: usize,
    pub resource: Resource,
    /// `Kind name` of the prometheus-operator resource this was translated from.
    pub translated_from: Option<String>,
    /// The settings of that resource that are not honoured (`field: why`); each is
    /// also logged as a warning when the file is loaded.
    pub not_honoured: Vec<String>,
}

#[derive(Clone, Debug)]
pub enum Resource {
    ScrapeTarget(Box<ScrapeTarget>),
    AlertRule(Box<AlertRule>),
    MetricCluster(Box<MetricCluster>),
}

impl Resource {
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::ScrapeTarget(_) => "ScrapeTarget",
            Resource::AlertRule(_) => "AlertRule",
            Resource::MetricCluster(_) => "MetricCluster",
        }
    }

    pub fn name(&self) -> &str {
        let meta = match self {
            Resource::ScrapeTarget(r) => &r.metadata,
            Resource::AlertRule(r) => &r.metadata,
            Resource::MetricCluster(r) => &r.metadata,
        };
        meta.name.as_deref().unwrap_or_default()
    }
}

impl Document {
    /// The error for `field` of this document, naming the file and the document.
    pub fn error(&self, error: FieldError) -> ConfigError {
        let what = match &self.translated_from {
            Some(from) => format!(" ({from})"),
            None => format!(" ({} {})", self.resource.kind(), self.resource.name()),
        };
        ConfigError::Invalid {
            file: self.file.clone(),
            document: self.index,
            what,
            error,
        }
    }
}

/// Reads every document of `file`. Empty documents are skipped.
pub fn load_file(file: &Path) -> Result<Vec<Document>> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    load_str(file, &text)
}

/// The fields a resource document may have at its top level.
const TOP_LEVEL_FIELDS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];

/// Reads every document of `text`, reporting errors against `file`.
pub fn load_str(file: &Path, text: &str) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for (i, de) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let index = i + 1;
        let value = serde_yaml::Value::deserialize(de).map_err(|e| ConfigError::Syntax {
            file: file.to_path_buf(),
            document: index,
            message: e.to_string(),
        })?;
        if value.is_null() {
            continue;
        }
        let invalid = |what: String, error: FieldError| ConfigError::Invalid {
            file: file.to_path_buf(),
            document: index,
            what,
            error,
        };
        let str_field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let kind = str_field("kind")
            .ok_or_else(|| invalid(String::new(), FieldError::new("kind", "missing")))?;
        let name = value
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(|n| n.as_str())
            .map(str::to_owned);
        let what = format!(" ({kind} {})", name.as_deref().unwrap_or("<unnamed>"));
        let operator_kind = OPERATOR_KINDS.contains(&kind.as_str());
        let wanted = if kind == "ScrapeConfig" {
            operator::scrape_config::API_VERSION
        } else if operator_kind {
            operator::API_VERSION
        } else {
            API_VERSION
        };
        match str_field("apiVersion") {
            Some(v) if v == wanted => {}
            Some(v) => {
                return Err(invalid(
                    what,
                    FieldError::new("apiVersion", format!("{v:?} is not {wanted:?}")),
                ));
            }
            None => return Err(invalid(what, FieldError::new("apiVersion", "missing"))),
        }
        if name.as_deref().unwrap_or("").is_empty() {
            return Err(invalid(what, FieldError::new("metadata.name", "missing")));
        }
        // A mis-indented field (`relabelings:` at the top) is refused, as the API
        // server's strict field validation refuses it, rather than silently ignored.
        if let Some(map) = value.as_mapping() {
            for key in map.keys() {
                let key = key.as_str().unwrap_or("");
                if !TOP_LEVEL_FIELDS.contains(&key) {
                    return Err(invalid(
                        what,
                        FieldError::new(
                            key,
                            "unknown field (a resource has apiVersion, kind, metadata, spec and status)",
                        ),
                    ));
                }
            }
        }
        if operator_kind {
            let from = format!("{kind} {}", name.as_deref().unwrap_or(""));
            let (resources, not_honoured) =
                translate(&kind, value).map_err(|e| invalid(what.clone(), e))?;
            for setting in &not_honoured {
                tracing::warn!(file = %file.display(), document = index, resource = %from, "{setting}");
            }
            docs.extend(resources.into_iter().map(|resource| Document {
                file: file.to_path_buf(),
                index,
                resource,
                translated_from: Some(from.clone()),
                not_honoured: not_honoured.clone(),
            }));
            continue;
        }
        let resource = match kind.as_str() {
            "ScrapeTarget" => {
                let r: ScrapeTarget = typed(value).map_err(|e| invalid(what.clone(), e))?;
                r.spec.validate().map_err(|e| invalid(what.clone(), e))?;
                Resource::ScrapeTarget(Box::new(r))
            }
            "AlertRule" => {
                let r: AlertRule = typed(value).map_err(|e| invalid(what.clone(), e))?;
                r.spec.validate().map_err(|e| invalid(what.clone(), e))?;
                Resource::AlertRule(Box::new(r))
            }
            "MetricCluster" => {
                let r: MetricCluster = typed(value).map_err(|e| invalid(what.clone(), e))?;
                r.spec.validate().map_err(|e| invalid(what.clone(), e))?;
                Resource::MetricCluster(Box::new(r))
            }
            other => {
                return Err(invalid(
                    what,
                    FieldError::new(
                        "kind",
                        format!(
                            "{other:?} is not one of ScrapeTarget, AlertRule, MetricCluster, ServiceMonitor, PodMonitor, PrometheusRule, ScrapeConfig"
                        ),
                    ),
                ));
            }
        };
        docs.push(Document {
            file: file.to_path_buf(),
            index,
            resource,
            translated_from: None,
            not_honoured: Vec::new(),
        });
    }
    Ok(docs)
}

/// prometheus-operator's kinds `load` accepts (`monitoring.coreos.com/v1`, ScrapeConfig
/// `v1alpha1`).
const OPERATOR_KINDS: [&str; 4] = [
    "ServiceMonitor",
    "PodMonitor",
    "PrometheusRule",
    "ScrapeConfig",
];

/// A prometheus-operator document as Telltale's resources, with what is not honoured.
fn translate(
    kind: &str,
    value: serde_yaml::Value,
) -> Result<(Vec<Resource>, Vec<String>), FieldError> {
    let targets = |t: operator::Translated| {
        let resources = t
            .targets
            .into_iter()
            .map(|t| Resource::ScrapeTarget(Box::new(t)))
            .collect();
        (resources, t.not_honoured)
    };
    match kind {
        "ServiceMonitor" => Ok(targets(
            typed::<ServiceMonitor>(value)?.to_scrape_targets()?,
        )),
        "PodMonitor" => Ok(targets(typed::<PodMonitor>(value)?.to_scrape_targets()?)),
        "ScrapeConfig" => Ok(targets(typed::<ScrapeConfig>(value)?.to_scrape_targets()?)),
        _ => {
            let (rule, not_honoured) = typed::<PrometheusRule>(value)?.to_alert_rule()?;
            Ok((vec![Resource::AlertRule(Box::new(rule))], not_honoured))
        }
    }
}

/// Deserializes `value`, turning an error into the path of the field that caused it.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    value: serde_yaml::Value,
) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        // serde names a missing field in the message, at the path of its parent.
        match (path.as_str(), missing_field(&message)) {
            (".", Some(f)) => FieldError::new(f, "missing"),
            (p, Some(f)) => FieldError::new(format!("{p}.{f}"), "missing"),
            (".", None) => FieldError::new("(document)", message),
            (p, None) => FieldError::new(p, message),
        }
    })
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Vec<Document>> {
        load_str(Path::new("rules.yaml"), text)
    }

    const RULE: &str = "apiVersion: telltale.dev/v1alpha1
kind: AlertRule
metadata: {name: node}
spec:
  groups:
    - name: node
      interval: 10s
      rules:
        - alert: Down
          expr: up == 0
          for: 1m
";

    #[test]
    fn loads_several_documents() {
        let text = format!(
            "{RULE}---\napiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: n}}\nspec:\n  static: [{{targets: ['127.0.0.1:9100']}}]\n---\n"
        );
        let docs = load(&text).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].index, 2);
        assert_eq!(docs[1].resource.kind(), "ScrapeTarget");
    }

    #[test]
    fn a_misindented_field_at_the_top_is_refused() {
        let text = "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {name: n}\nspec:\n  static: [{targets: ['127.0.0.1:9100']}]\nrelabelings: []\n";
        let err = load(text).unwrap_err().to_string();
        assert!(
            err.contains("document 1 (ScrapeTarget n): relabelings: unknown field"),
            "{err}"
        );
        // status, as `kubectl get -o yaml` prints it, is accepted.
        let with_status = text.replace("relabelings: []", "status: {}");
        assert_eq!(load(&with_status).unwrap().len(), 1);
    }

    #[test]
    fn bad_duration_names_file_document_and_field() {
        let text = format!("---\n{}", RULE.replace("for: 1m", "for: 1minute"));
        let err = load(&text).unwrap_err().to_string();
        assert!(
            err.starts_with(
                "rules.yaml: document 1 (AlertRule node): spec.groups[0].rules[0].for: "
            ),
            "{err}"
        );
        assert!(!err.contains('\n'));
    }

    #[test]
    fn unknown_field_is_named() {
        let err = load(&RULE.replace("for: 1m", "fro: 1m"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("spec.groups[0].rules[0]"), "{err}");
        assert!(err.contains("fro"), "{err}");
    }

    #[test]
    fn missing_field_is_named() {
        let err = load(&RULE.replace("          expr: up == 0\n", ""))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("spec.groups[0].rules[0].expr: missing"),
            "{err}"
        );
    }

    #[test]
    fn wrong_kind_and_version_are_named() {
        let err = load(&RULE.replace("kind: AlertRule", "kind: Alert")).unwrap_err();
        assert!(err.to_string().contains(": kind: "), "{err}");
        let err = load(&RULE.replace("telltale.dev/v1alpha1", "v1")).unwrap_err();
        assert!(err.to_string().contains(": apiVersion: "), "{err}");
    }

    #[test]
    fn semantic_errors_are_named() {
        let err = load(&RULE.replace("interval: 10s", "interval: 0")).unwrap_err();
        assert!(err.to_string().contains("spec.groups[0].interval"), "{err}");
    }

    #[test]
    fn syntax_error_names_document() {
        let err = load(&format!("{RULE}---\nkind: [\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("rules.yaml: document 2: not valid YAML"),
            "{err}"
        );
    }
}
