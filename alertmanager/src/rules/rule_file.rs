//! Prometheus rule files (`groups: [{name, interval, rules: [...]}]`) read as they are,
//! and `telltale check rules FILE`, which validates them as `promtool check rules` does.

use std::path::Path;

use telltale_crds::{AlertRule, AlertRuleSpec};

use crate::error::{Error, Result};
use crate::rules::validate::{ExprCheck, validate_rules};

fn file_error(path: &Path, message: impl Into<String>) -> Error {
    Error::RuleFile {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Reads a Prometheus rule file into the `AlertRule` spec it is the shape of, checking
/// every rule (names, labels, PromQL). The error names the file and the field.
pub fn load_prometheus_rule_file(path: &Path, check: ExprCheck) -> Result<AlertRuleSpec> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e.to_string()))?;
    parse_prometheus_rules(path, &text, check)
}

/// [`load_prometheus_rule_file`] of text already read.
pub fn parse_prometheus_rules(path: &Path, text: &str, check: ExprCheck) -> Result<AlertRuleSpec> {
    let spec: AlertRuleSpec = serde_yaml::from_str(text).map_err(|e| {
        let message = e.to_string();
        // serde_yaml names the field in "groups[0].rules[1]: unknown field ..." form.
        file_error(path, message)
    })?;
    validate_rules(&spec, check).map_err(|e| {
        let field = e
            .field
            .strip_prefix("spec.")
            .unwrap_or(&e.field)
            .to_string();
        file_error(path, format!("{field}: {}", e.message))
    })?;
    Ok(spec)
}

/// The file as an `AlertRule` resource named after the file's stem, for standalone.
pub fn alert_rule_from_file(path: &Path, check: ExprCheck) -> Result<AlertRule> {
    let spec = load_prometheus_rule_file(path, check)?;
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("rules")
        .to_string();
    Ok(AlertRule::new(&name, spec))
}

/// Validates the file; on success the summary line `SUCCESS: N rules found`, as
/// `promtool check rules` prints it.
pub fn check_rules_file(path: &Path, check: ExprCheck) -> Result<String> {
    let spec = load_prometheus_rule_file(path, check)?;
    let rules: usize = spec.groups.iter().map(|g| g.rules.len()).sum();
    Ok(format!("SUCCESS: {rules} rules found"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::validate::promql_only;

    const FILE: &str = r#"groups:
  - name: node
    interval: 30s
    rules:
      - record: instance:node_load1:ratio
        expr: node_load1 / on(instance) count by (instance) (node_cpu_seconds_total{mode="idle"})
        labels:
          tier: "1"
      - alert: HighLoad
        expr: instance:node_load1:ratio > 2
        for: 5m
        keep_firing_for: 1m
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} load is {{ $value | humanize }}"
  - name: up
    rules:
      - alert: Down
        expr: up == 0
"#;

    #[test]
    fn reads_prometheus_rule_files_as_they_are() {
        let spec = parse_prometheus_rules(Path::new("node.rules.yml"), FILE, promql_only).unwrap();
        assert_eq!(spec.groups.len(), 2);
        assert!(spec.groups[0].rules[0].is_recording());
        assert_eq!(spec.groups[0].rules[1].keep_firing_for.0.as_secs(), 60);
        assert_eq!(spec.groups[1].interval.0.as_secs(), 60, "default interval");
    }

    #[test]
    fn check_summarizes_like_promtool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.rules.yml");
        std::fs::write(&path, FILE).unwrap();
        assert_eq!(
            check_rules_file(&path, promql_only).unwrap(),
            "SUCCESS: 3 rules found"
        );
        let rule = alert_rule_from_file(&path, promql_only).unwrap();
        assert_eq!(rule.metadata.name.as_deref(), Some("node.rules"));
    }

    #[test]
    fn errors_name_the_file_and_field() {
        let bad_expr = FILE.replace("up == 0", "up ==");
        let err = parse_prometheus_rules(Path::new("r.yml"), &bad_expr, promql_only).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("r.yml: groups[1].rules[0].expr: "),
            "{err}"
        );
        let unknown = FILE.replace("keep_firing_for", "keep_firing");
        let err = parse_prometheus_rules(Path::new("r.yml"), &unknown, promql_only).unwrap_err();
        assert!(err.to_string().contains("keep_firing"), "{err}");
        assert!(check_rules_file(Path::new("/nonexistent/r.yml"), promql_only).is_err());
    }
}
