//! [`check_file`]: what `promtool check config` checks — the file, then every rule file
//! it names (which must exist when named without `*`, and must parse), and the
//! `file_sd_configs` files that exist (which must hold valid target groups).

use std::path::{Path, PathBuf};

use super::PrometheusConfig;
use crate::alert_rule::AlertRuleSpec;
use crate::duration::PromDuration;
use crate::error::{ConfigError, FieldError};

/// A file that passed the check, its rule files as read, and promtool's warnings (a
/// `file_sd_configs` pattern that names no existing file).
#[derive(Clone, Debug)]
pub struct Checked {
    pub config: PrometheusConfig,
    /// Every rule file the patterns named, in pattern order, with its groups.
    pub rule_files: Vec<(PathBuf, AlertRuleSpec)>,
    pub warnings: Vec<String>,
}

/// A further check of a rule file's groups (the binary passes the PromQL and template
/// checks, which live with the rule evaluator); its error is reported against the rule
/// file, with the field as `groups[0].rules[1].expr`.
pub type RuleCheck<'a> = &'a dyn Fn(&AlertRuleSpec) -> Result<(), FieldError>;

/// [`check_file_with`] without further rule checks: rule files must exist, be YAML of
/// Prometheus's rule file shape, and pass the resource's own checks (names, intervals,
/// labels).
pub fn check_file(path: &Path) -> Result<Checked, ConfigError> {
    check_file_with(path, &|_| Ok(()))
}

/// Loads `path` as prometheus.yml and reads every rule file it names, checking each with
/// `rules` too.
pub fn check_file_with(path: &Path, rules: RuleCheck<'_>) -> Result<Checked, ConfigError> {
    let config = PrometheusConfig::load_file(path)?;
    let mut rule_files = Vec::new();
    for (i, pattern) in config.rule_files.iter().enumerate() {
        let files = crate::glob::expand(pattern);
        if !pattern.contains('*') && !files.first().is_some_and(|f| f.is_file()) {
            return Err(ConfigError::Field {
                file: path.to_path_buf(),
                error: FieldError::new(
                    format!("rule_files[{i}]"),
                    format!("{pattern:?} does not point to an existing file"),
                ),
            });
        }
        for file in files {
            let spec = read_rule_file(&file, config.evaluation_interval(), rules)?;
            rule_files.push((file, spec));
        }
    }
    let mut warnings = Vec::new();
    for (i, sc) in config.scrape_configs.iter().enumerate() {
        for (j, f) in sc.file_sd_configs.iter().enumerate() {
            for (k, pattern) in f.files.iter().enumerate() {
                let files: Vec<PathBuf> = crate::glob::expand(pattern)
                    .into_iter()
                    .filter(|p| p.is_file())
                    .collect();
                if files.is_empty() {
                    warnings.push(format!(
                        "file {pattern:?} for file_sd in scrape job {:?} does not exist",
                        sc.job_name
                    ));
                }
                // As promtool: the files that exist must hold valid target groups.
                for file in files {
                    let checked = std::fs::read_to_string(&file)
                        .map_err(|e| e.to_string())
                        .and_then(|text| crate::target_group::parse_groups(&file, &text));
                    if let Err(m) = checked {
                        return Err(ConfigError::Field {
                            file: path.to_path_buf(),
                            error: FieldError::new(
                                format!("scrape_configs[{i}].file_sd_configs[{j}].files[{k}]"),
                                format!("{}: {m}", file.display()),
                            ),
                        });
                    }
                }
            }
        }
    }
    Ok(Checked {
        config,
        rule_files,
        warnings,
    })
}

/// Reads one Prometheus rule file: an empty file or `groups: []` has no groups; a group
/// without `interval` is evaluated every `evaluation_interval` (the file's global one).
pub fn read_rule_file(
    file: &Path,
    evaluation_interval: PromDuration,
    rules: RuleCheck<'_>,
) -> Result<AlertRuleSpec, ConfigError> {
    let invalid = |error: FieldError| ConfigError::Field {
        file: file.to_path_buf(),
        error,
    };
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
        file: file.to_path_buf(),
        source,
    })?;
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|e| ConfigError::Syntax {
            file: file.to_path_buf(),
            document: 1,
            message: e.to_string(),
        })?;
    if value.is_null() {
        return Ok(AlertRuleSpec { groups: Vec::new() });
    }
    let mut spec: AlertRuleSpec = crate::load::typed(value.clone()).map_err(invalid)?;
    for (i, group) in spec.groups.iter_mut().enumerate() {
        if value["groups"][i].get("interval").is_none() {
            group.interval = evaluation_interval;
        }
    }
    if !spec.groups.is_empty() {
        // The resource's checks name `spec.` fields; a rule file has no `spec`.
        spec.validate().map_err(|e| {
            invalid(FieldError::new(
                e.field.strip_prefix("spec.").unwrap_or(&e.field),
                e.message,
            ))
        })?;
        rules(&spec).map_err(invalid)?;
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_files_must_exist_and_parse() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "rule_files: [rules/a.yml, 'more/*.yml']\n").unwrap();
        let e = check_file(&config).unwrap_err().to_string();
        assert!(e.contains("rule_files[0]: "), "{e}");
        assert!(e.contains("does not point to an existing file"), "{e}");

        std::fs::create_dir(dir.path().join("rules")).unwrap();
        let rule = dir.path().join("rules/a.yml");
        std::fs::write(&rule, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        fro: 1m\n").unwrap();
        let e = check_file(&config).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: groups[0].rules[0]", rule.display())),
            "{e}"
        );

        std::fs::write(
            &rule,
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n",
        )
        .unwrap();
        let checked = check_file(&config).unwrap();
        assert_eq!(checked.rule_files.len(), 1, "a glob naming nothing is fine");
        let e = check_file_with(&config, &|_| {
            Err(FieldError::new("groups[0].rules[0].expr", "bad"))
        })
        .unwrap_err()
        .to_string();
        assert!(e.ends_with("groups[0].rules[0].expr: bad"), "{e}");

        std::fs::write(&rule, "").unwrap();
        assert!(
            check_file(&config).unwrap().rule_files[0]
                .1
                .groups
                .is_empty()
        );
    }
}
