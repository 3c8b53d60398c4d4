//! [`TargetGroup`]: the `{targets: [...], labels: {...}}` groups that `file_sd_configs`
//! files and `http_sd_configs` endpoints list, parsed and checked as Prometheus does.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use telltale_model::is_valid_label_name;

/// One group of endpoints sharing labels.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// `host:port` of each endpoint.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Labels of every endpoint of the group (may include `__` labels for relabeling).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Parses a file's text; the extension picks JSON or YAML. The error says what is
/// wrong (the caller names the file).
pub fn parse_groups(path: &Path, text: &str) -> Result<Vec<TargetGroup>, String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let groups: Vec<TargetGroup> = match ext.as_str() {
        "json" => serde_json::from_str(text).map_err(|e| e.to_string())?,
        "yml" | "yaml" => {
            if text.trim().is_empty() {
                Vec::new()
            } else {
                serde_yaml::from_str(text).map_err(|e| e.to_string())?
            }
        }
        other => {
            return Err(format!(
                "unknown extension {other:?}: use .json, .yml or .yaml"
            ));
        }
    };
    check_groups(&groups)?;
    Ok(groups)
}

/// Checks what Prometheus checks of discovered groups: targets are `host:port` (no
/// `/`), label names are valid. The error names the group and target.
pub fn check_groups(groups: &[TargetGroup]) -> Result<(), String> {
    for (g, group) in groups.iter().enumerate() {
        for (t, target) in group.targets.iter().enumerate() {
            if target.is_empty() || target.contains('/') {
                return Err(format!("group {g}: target {t} {target:?} is not host:port"));
            }
        }
        for name in group.labels.keys() {
            if !is_valid_label_name(name) {
                return Err(format!("group {g}: {name:?} is not a valid label name"));
            }
        }
    }
    Ok(())
}
