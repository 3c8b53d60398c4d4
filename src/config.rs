//! Resources loaded from `-f FILE` arguments: the standalone stand-in for `kubectl apply`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use telltale_crds::{
    AlertRule, AlertingSpec, ConfigError, Document, FieldError, Resource, ScrapeTarget,
};

/// Everything the files describe, validated.
#[derive(Debug, Default)]
pub struct Config {
    pub scrape_targets: Vec<ScrapeTarget>,
    pub alert_rules: Vec<AlertRule>,
    /// From the MetricCluster document, if there is one.
    pub alerting: AlertingSpec,
}

impl Config {
    /// The configuration as loaded (defaults filled in), as YAML documents: what
    /// `/api/v1/status/config` shows.
    pub fn to_yaml(&self) -> String {
        let mut docs: Vec<String> = Vec::new();
        for t in &self.scrape_targets {
            docs.push(serde_yaml::to_string(t).unwrap_or_default());
        }
        for r in &self.alert_rules {
            docs.push(serde_yaml::to_string(r).unwrap_or_default());
        }
        docs.push(
            serde_yaml::to_string(&serde_json::json!({"alerting": self.alerting}))
                .unwrap_or_default(),
        );
        docs.join("---\n")
    }
}

/// `GET /api/v1/status/config`: `{"yaml": ...}` of `yaml`, as Prometheus answers with its
/// configuration file.
pub fn router(yaml: String) -> axum::Router {
    let body = serde_json::json!({"status": "success", "data": {"yaml": yaml}});
    axum::Router::new().route(
        "/api/v1/status/config",
        axum::routing::get(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        }),
    )
}

/// Loads and validates `files` in order. The first bad document is the error: one line
/// naming the file, the document and the field.
pub fn load(files: &[PathBuf]) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    // (kind, namespace/name) -> where it was first defined
    let mut seen: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    let mut cluster_seen = false;
    for file in files {
        if is_prometheus_rule_file(file) {
            let rule =
                telltale_alertmanager::alert_rule_from_file(file, crate::rule_querier::check_expr)
                    .map_err(|e| ConfigError::Invalid {
                        file: file.clone(),
                        document: 1,
                        what: " (Prometheus rule file)".into(),
                        error: FieldError::new("groups", e.to_string()),
                    })?;
            config.alert_rules.push(rule);
            continue;
        }
        for doc in telltale_crds::load_file(file)? {
            let key = (doc.resource.kind(), qualified_name(&doc));
            let here = format!("{} document {}", doc.file.display(), doc.index);
            if let Some(first) = seen.insert(key, here) {
                return Err(doc.error(FieldError::new(
                    "metadata.name",
                    format!("defined twice (first in {first})"),
                )));
            }
            match doc.resource {
                Resource::ScrapeTarget(ref t) => config.scrape_targets.push((**t).clone()),
                Resource::AlertRule(ref r) => {
                    telltale_alertmanager::validate_rules(&r.spec, crate::rule_querier::check_expr)
                        .map_err(|e| doc.error(e))?;
                    config.alert_rules.push((**r).clone());
                }
                Resource::MetricCluster(ref c) => {
                    if cluster_seen {
                        return Err(doc.error(FieldError::new(
                            "kind",
                            "only one MetricCluster may be given to one process",
                        )));
                    }
                    cluster_seen = true;
                    telltale_alertmanager::validate_alerting(&c.spec.alerting)
                        .map_err(|e| doc.error(e))?;
                    config.alerting = c.spec.alerting.clone();
                }
            }
        }
    }
    Ok(config)
}

/// A Prometheus rule file (`groups:` at the top, no `kind:`), accepted as it is.
fn is_prometheus_rule_file(file: &std::path::Path) -> bool {
    let Ok(text) = std::fs::read_to_string(file) else {
        return false;
    };
    let top = |key: &str| text.lines().any(|l| l.starts_with(key));
    top("groups:") && !top("kind:") && !top("apiVersion:")
}

fn qualified_name(doc: &Document) -> String {
    let meta = match &doc.resource {
        Resource::ScrapeTarget(r) => &r.metadata,
        Resource::AlertRule(r) => &r.metadata,
        Resource::MetricCluster(r) => &r.metadata,
    };
    format!(
        "{}/{}",
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f
    }

    const TARGET: &str = "apiVersion: telltale.dev/v1alpha1
kind: ScrapeTarget
metadata: {name: node}
spec:
  static: [{targets: ['127.0.0.1:9100']}]
";

    #[test]
    fn duplicate_names_are_rejected_with_both_places() {
        let a = file(TARGET);
        let b = file(TARGET);
        let err = load(&[a.path().into(), b.path().into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("metadata.name: defined twice"), "{err}");
        assert!(err.contains(&a.path().display().to_string()), "{err}");
    }

    #[test]
    fn bad_promql_names_the_expr_field() {
        let f = file(
            "apiVersion: telltale.dev/v1alpha1
kind: AlertRule
metadata: {name: r}
spec:
  groups:
    - name: g
      rules:
        - alert: A
          expr: sum(rate(x[5m])
",
        );
        let err = load(&[f.path().into()]).unwrap_err().to_string();
        assert!(
            err.contains("document 1 (AlertRule r): spec.groups[0].rules[0].expr"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn shipped_examples_load() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let config = load(&[dir.join("node-exporter.yaml"), dir.join("alerts.yaml")]).unwrap();
        assert_eq!(config.scrape_targets.len(), 1);
        assert_eq!(config.alert_rules[0].spec.groups[0].rules.len(), 2);
        assert_eq!(config.alerting.receivers.len(), 1);
    }

    #[test]
    fn metric_cluster_gives_the_receivers() {
        let f = file(
            "apiVersion: telltale.dev/v1alpha1
kind: MetricCluster
metadata: {name: local}
spec:
  alerting:
    route: {receiver: ops}
    receivers:
      - name: ops
        webhooks: [{url: 'http://127.0.0.1:5001/hook'}]
",
        );
        let config = load(&[f.path().into()]).unwrap();
        assert_eq!(config.alerting.receivers[0].name, "ops");
    }
}
