//! Prometheus rule files (`groups: [{name, interval, rules: [...]}]`) read as they are,
//! and `telltale check rules FILE`, which validates them as `promtool check rules` does.

use std::path::Path;

use telltale_crds::{AlertRule, AlertRuleSpec, FieldError};

use crate::error::{Error, Result};
use crate::rules::validate::{ExprCheck, rule_errors, validate_rules};

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
    let spec = parse_yaml(path, text)?;
    validate_rules(&spec, check).map_err(|e| file_error(path, field_message(&e)))?;
    Ok(spec)
}

fn parse_yaml(path: &Path, text: &str) -> Result<AlertRuleSpec> {
    // serde_yaml names the field in "groups[0].rules[1]: unknown field ..." form.
    serde_yaml::from_str(text).map_err(|e| file_error(path, e.to_string()))
}

/// `groups[0].rules[1].expr: message` (the file's fields, not the resource's).
fn field_message(e: &FieldError) -> String {
    let field = e.field.strip_prefix("spec.").unwrap_or(&e.field);
    format!("{field}: {}", e.message)
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
/// `promtool check rules` prints it; like promtool, it lists every bad expression and
/// template, one a line.
pub fn check_rules_file(path: &Path, check: ExprCheck) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e.to_string()))?;
    let spec = parse_yaml(path, &text)?;
    let errors = rule_errors(&spec, check);
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(field_message).collect();
        return Err(file_error(
            path,
            lines.join(&format!("\n{}: ", path.display())),
        ));
    }
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

    #[test]
    fn check_lists_every_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.yml");
        let bad = FILE
            .replace("up == 0", "up ==")
            .replace("$value | humanize }}", "$value | nosuch }}");
        std::fs::write(&path, bad).unwrap();
        let text = check_rules_file(&path, promql_only)
            .unwrap_err()
            .to_string();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        let file = path.display();
        assert!(
            lines[0].starts_with(&format!("{file}: groups[0].rules[1].annotations.summary: ")),
            "{text}"
        );
        assert!(
            lines[1].starts_with(&format!("{file}: groups[1].rules[0].expr: ")),
            "{text}"
        );
    }
}
