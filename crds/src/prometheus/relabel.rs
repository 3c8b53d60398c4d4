//! `relabel_config` as prometheus.yml writes it (snake_case), turned into the
//! [`RelabelConfig`](crate::scrape_target::RelabelConfig) Telltale's resources use.

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::FieldError;
use crate::scrape_target::{RelabelAction, RelabelConfig as SpecRelabel};

/// One relabeling step. Unset fields take Prometheus's defaults (separator `;`, regex
/// `(.*)`, replacement `$1`, action `replace`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    #[serde(default, deserialize_with = "super::de::nullable")]
    pub source_labels: Vec<String>,
    #[serde(
        default,
        deserialize_with = "super::de::scalar",
        skip_serializing_if = "Option::is_none"
    )]
    pub separator: Option<String>,
    #[serde(
        default,
        deserialize_with = "super::de::scalar",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_label: Option<String>,
    #[serde(
        default,
        deserialize_with = "super::de::scalar",
        skip_serializing_if = "Option::is_none"
    )]
    pub regex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulus: Option<u64>,
    #[serde(
        default,
        deserialize_with = "super::de::scalar",
        skip_serializing_if = "Option::is_none"
    )]
    pub replacement: Option<String>,
    /// Case-insensitive, as Prometheus reads it.
    #[serde(default, deserialize_with = "action")]
    pub action: RelabelAction,
}

fn action<'de, D: Deserializer<'de>>(d: D) -> Result<RelabelAction, D::Error> {
    let s = String::deserialize(d)?;
    if s.is_empty() {
        return Err(serde::de::Error::custom("relabel action cannot be empty"));
    }
    let lower = s.to_ascii_lowercase();
    serde_yaml::from_str::<RelabelAction>(&lower)
        .map_err(|_| serde::de::Error::custom(format!("unknown relabel action {s:?}")))
}

impl RelabelConfig {
    /// The step as a resource's `relabelings` entry; fields written with their default
    /// value count as unset (Prometheus compares them with the defaults).
    pub fn to_spec(&self) -> SpecRelabel {
        let unless = |v: &Option<String>, default: &str| v.clone().filter(|v| v != default);
        SpecRelabel {
            source_labels: self.source_labels.clone(),
            separator: unless(&self.separator, ";"),
            target_label: self.target_label.clone().filter(|t| !t.is_empty()),
            regex: unless(&self.regex, "(.*)"),
            modulus: self.modulus.filter(|m| *m != 0),
            replacement: unless(&self.replacement, "$1"),
            action: self.action,
        }
    }

    /// Prometheus's checks of a step (fields each action needs or forbids, label names,
    /// the regex compiles anchored as `^(?:regex)$`). `at` is the step's path.
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        self.to_spec().validate(at).map_err(|e| FieldError {
            field: e
                .field
                .replace("sourceLabels", "source_labels")
                .replace("targetLabel", "target_label"),
            message: e.message,
        })?;
        let regex = self.regex.as_deref().unwrap_or("(.*)");
        regex::Regex::new(&format!("^(?:{regex})$")).map_err(|e| {
            FieldError::new(
                format!("{at}.regex"),
                format!(
                    "invalid regular expression {regex:?}: {}",
                    one_line(&e.to_string())
                ),
            )
        })?;
        Ok(())
    }
}

/// The regex crate's multi-line error (pattern, caret, reason) as one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Checks every step of `steps`, named `at[i]`.
pub fn validate_all(steps: &[RelabelConfig], at: &str) -> Result<(), FieldError> {
    for (i, s) in steps.iter().enumerate() {
        s.validate(&format!("{at}[{i}]"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(yaml: &str) -> RelabelConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn actions_are_case_insensitive_and_defaults_count_as_unset() {
        let s = step("{action: LabelDrop, regex: tmp_.*, separator: ';'}");
        assert_eq!(s.action, RelabelAction::LabelDrop);
        s.validate("r").unwrap();
        assert_eq!(s.to_spec().separator, None);
        let e = serde_yaml::from_str::<RelabelConfig>("{action: nope}").unwrap_err();
        assert!(
            e.to_string().contains("unknown relabel action \"nope\""),
            "{e}"
        );
    }

    #[test]
    fn errors_name_snake_case_fields() {
        let e = step("{source_labels: ['a-b'], action: keep}")
            .validate("r[0]")
            .unwrap_err();
        assert_eq!(e.field, "r[0].source_labels[0]");
        let e = step("{action: hashmod, source_labels: [a]}")
            .validate("r[0]")
            .unwrap_err();
        assert_eq!(e.field, "r[0].target_label");
        let e = step("{action: keep, source_labels: [a], regex: '('}")
            .validate("r[0]")
            .unwrap_err();
        assert_eq!(e.field, "r[0].regex");
    }
}
