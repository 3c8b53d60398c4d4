//! What standalone runs: Prometheus's configuration file (`--config.file`, its scrape
//! configs, rule files and external labels) and resources from `-f FILE` arguments (the
//! standalone stand-in for `kubectl apply`), loaded at start and on every reload.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use telltale_crds::prometheus::{PrometheusConfig, check_file_with};
use telltale_crds::{
    AlertRule, AlertRuleSpec, AlertingSpec, ConfigError, Document, FieldError, Resource,
    ScrapeTarget,
};

/// Everything the files describe, validated.
#[derive(Debug, Default)]
pub struct Config {
    pub scrape_targets: Vec<ScrapeTarget>,
    pub alert_rules: Vec<AlertRule>,
    /// From the MetricCluster document, if there is one.
    pub alerting: AlertingSpec,
    /// Prometheus's configuration file, when one was given.
    pub prometheus: Option<PrometheusConfig>,
}

/// Where the configuration comes from: what `load` reads again on a reload.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// `--config.file`.
    pub config_file: Option<PathBuf>,
    /// `-f` files, in order.
    pub files: Vec<PathBuf>,
    /// No Kubernetes API to read Secrets from (standalone, a scraper without
    /// `--kubernetes-discovery`): a ScrapeTarget naming a Secret or ConfigMap key is
    /// refused on load, with the file field to use instead.
    pub no_secret_api: bool,
}

impl Sources {
    /// Only `-f` files.
    pub fn files(files: &[PathBuf]) -> Self {
        Sources {
            config_file: None,
            files: files.to_vec(),
            no_secret_api: false,
        }
    }
}

impl Config {
    /// External labels: prometheus.yml's `global.external_labels`, then `extra` (the
    /// `--external-label` flags) over them.
    pub fn external_labels(&self, extra: &[(String, String)]) -> BTreeMap<String, String> {
        let mut labels = self
            .prometheus
            .as_ref()
            .map(|p| p.external_labels().clone())
            .unwrap_or_default();
        labels.extend(extra.iter().cloned());
        labels
    }

    /// The configuration as loaded (defaults filled in), as YAML documents: what
    /// `/api/v1/status/config` shows (prometheus.yml first, as Prometheus shows it).
    pub fn to_yaml(&self) -> String {
        let mut docs: Vec<String> = Vec::new();
        if let Some(p) = &self.prometheus {
            docs.push(p.masked_yaml());
        }
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

/// `GET /api/v1/status/config`: `{"yaml": ...}` of the configuration last loaded, as
/// Prometheus answers with its configuration file.
pub fn router(yaml: Arc<RwLock<String>>) -> axum::Router {
    axum::Router::new().route(
        "/api/v1/status/config",
        axum::routing::get(move || {
            let yaml = yaml.read().unwrap_or_else(|e| e.into_inner()).clone();
            async move {
                axum::Json(serde_json::json!({"status": "success", "data": {"yaml": yaml}}))
            }
        }),
    )
}

/// Checks rule groups as the rule evaluator will (PromQL and templates), reporting the
/// field under `groups`.
fn check_rule_groups(spec: &AlertRuleSpec) -> Result<(), FieldError> {
    telltale_alertmanager::validate_rules(spec, crate::rule_querier::check_expr)
        .map_err(|e| FieldError::new(e.field.trim_start_matches("spec.").to_string(), e.message))
}

/// Checks Prometheus's configuration file `path` as `promtool check config` does: the
/// file, then every rule file it names (PromQL and templates included).
pub fn check_prometheus_config(
    path: &Path,
) -> Result<telltale_crds::prometheus::Checked, ConfigError> {
    check_file_with(path, &check_rule_groups)
}

/// Loads and validates prometheus.yml (when given) and the `-f` files in order. The first
/// bad document is the error: one line naming the file, the document (or the field path)
/// and the reason.
pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
    let mut config = Config::default();
    // (kind, namespace/name) -> where it was first defined
    let mut seen: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    if let Some(path) = &sources.config_file {
        let checked = check_prometheus_config(path)?;
        for warning in &checked.warnings {
            tracing::warn!(file = %path.display(), "{warning}");
        }
        for setting in checked.config.not_translated() {
            tracing::warn!(file = %path.display(), setting, "setting not honoured by Telltale yet");
        }
        for target in checked.config.scrape_targets() {
            let name = format!(
                "default/{}",
                target.metadata.name.as_deref().unwrap_or_default()
            );
            seen.insert(
                ("ScrapeTarget", name),
                format!("{} (scrape_configs)", path.display()),
            );
            config.scrape_targets.push(target);
        }
        for (i, (file, spec)) in checked.rule_files.into_iter().enumerate() {
            // Named by the file (and its place, since two patterns may name equal stems).
            let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("rules");
            config
                .alert_rules
                .push(AlertRule::new(&format!("{stem}-{i}"), spec));
        }
        config.prometheus = Some(checked.config);
    }
    let mut cluster_seen = false;
    for file in &sources.files {
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
                Resource::ScrapeTarget(ref t) => {
                    if sources.no_secret_api
                        && let Some((field, instead)) = t.spec.client().object_references().first()
                    {
                        return Err(doc.error(FieldError::new(
                            format!("spec.{field}"),
                            format!(
                                "Secret and ConfigMap references need the Kubernetes API, which this process does not read; use spec.{instead}"
                            ),
                        )));
                    }
                    config.scrape_targets.push((**t).clone())
                }
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

    fn files(paths: &[&Path]) -> Sources {
        Sources {
            config_file: None,
            files: paths.iter().map(|p| p.to_path_buf()).collect(),
            no_secret_api: false,
        }
    }

    /// Without the Kubernetes API a Secret reference is refused on load, naming the
    /// file, the document, the field and the file field to use.
    #[test]
    fn secret_references_are_refused_without_the_api() {
        let f = file(
            "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {name: shop}\n\
             spec: {scheme: https, static: [{targets: ['a:1']}], tlsConfig: {caFile: /ca.pem},\
             authorization: {credentials: {name: shop, key: token}}}\n",
        );
        let sources = Sources {
            no_secret_api: true,
            ..files(&[f.path()])
        };
        let e = load(&sources).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "{}: document 1 (ScrapeTarget shop): spec.authorization.credentials: Secret and ConfigMap references need the Kubernetes API, which this process does not read; use spec.authorization.credentialsFile",
                f.path().display()
            )
        );
        // A scraper reading the API takes it.
        assert_eq!(load(&files(&[f.path()])).unwrap().scrape_targets.len(), 1);
    }

    #[test]
    fn prometheus_yml_gives_jobs_rules_and_external_labels() {
        let rules = file(
            "groups:\n  - name: g\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n",
        );
        let yml = file(&format!(
            "global:\n  scrape_interval: 5s\n  external_labels: {{cluster: eu1}}\n\
             rule_files: [{:?}]\n\
             scrape_configs:\n  - job_name: node\n    static_configs: [{{targets: ['127.0.0.1:9100']}}]\n",
            rules.path()
        ));
        let config = load(&Sources {
            config_file: Some(yml.path().into()),
            files: vec![],
            no_secret_api: true,
        })
        .unwrap();
        assert_eq!(config.scrape_targets.len(), 1);
        assert_eq!(config.scrape_targets[0].spec.interval.0.as_secs(), 5);
        assert_eq!(config.alert_rules[0].spec.groups[0].rules.len(), 1);
        assert_eq!(
            config.external_labels(&[("replica".into(), "a".into())]),
            BTreeMap::from([
                ("cluster".into(), "eu1".into()),
                ("replica".into(), "a".into())
            ])
        );
        assert!(config.to_yaml().contains("job_name: node"));
    }

    #[test]
    fn prometheus_yml_errors_name_the_file_and_field() {
        let yml = file(
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n    static_configs: [{targets: ['x:1']}]\n  - job_name: b\n    relabel_configs: [{action: explode}]\n",
        );
        let err = load(&Sources {
            config_file: Some(yml.path().into()),
            files: vec![],
            no_secret_api: false,
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(&yml.path().display().to_string()), "{err}");
        assert!(
            err.contains("scrape_configs[1].relabel_configs[0].action"),
            "{err}"
        );
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
        let err = load(&files(&[a.path(), b.path()])).unwrap_err().to_string();
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
        let err = load(&files(&[f.path()])).unwrap_err().to_string();
        assert!(
            err.contains("document 1 (AlertRule r): spec.groups[0].rules[0].expr"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn shipped_examples_load() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let config = load(&files(&[
            &dir.join("node-exporter.yaml"),
            &dir.join("alerts.yaml"),
        ]))
        .unwrap();
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
        let config = load(&files(&[f.path()])).unwrap();
        assert_eq!(config.alerting.receivers[0].name, "ops");
    }
}
