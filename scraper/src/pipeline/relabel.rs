//! [`Relabeler`]: Prometheus's relabeling, compiled once from `RelabelConfig` steps and
//! applied to target labels (`relabelings`) and to every scraped sample
//! (`metricRelabelings`). Pure.
//!
//! Each step sees the labels left by the previous one. A label set to the empty string is
//! removed. Regular expressions are anchored at both ends, as Prometheus anchors them.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use regex::Regex;
use telltale_crds::scrape_target::{RelabelAction, RelabelConfig};

use crate::error::{Error, Result};
use crate::pull::labels::LabelPairs;

/// A label set while it is relabeled: sorted by name, no empty values.
pub type LabelMap = BTreeMap<String, String>;

/// Compiled relabeling steps. Two relabelers are equal when their configurations are.
#[derive(Clone, Debug, Default)]
pub struct Relabeler {
    steps: Vec<Step>,
}

#[derive(Clone, Debug)]
struct Step {
    config: RelabelConfig,
    regex: Regex,
}

impl PartialEq for Relabeler {
    fn eq(&self, other: &Self) -> bool {
        self.steps.len() == other.steps.len()
            && self
                .steps
                .iter()
                .zip(&other.steps)
                .all(|(a, b)| a.config == b.config)
    }
}

impl Relabeler {
    /// Compiles `configs`; `field` names them in errors (`spec.relabelings`).
    pub fn new(configs: &[RelabelConfig], field: &str) -> Result<Self> {
        let steps = configs
            .iter()
            .enumerate()
            .map(|(i, config)| {
                let anchored = format!("^(?:{})$", config.regex());
                let regex = Regex::new(&anchored).map_err(|e| Error::Relabel {
                    field: format!("{field}[{i}].regex"),
                    message: format!("invalid regular expression {:?}: {e}", config.regex()),
                })?;
                Ok(Step {
                    config: config.clone(),
                    regex,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Relabeler { steps })
    }

    /// True when there is no step: every label set passes unchanged.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Applies every step to `labels`; `None` when a step drops the set.
    pub fn process(&self, mut labels: LabelMap) -> Option<LabelMap> {
        for step in &self.steps {
            if !step.apply(&mut labels) {
                return None;
            }
        }
        Some(labels)
    }

    /// [`Relabeler::process`] on sorted pairs (empty values are ignored).
    pub fn process_pairs(&self, labels: LabelPairs) -> Option<LabelPairs> {
        if self.is_empty() {
            return Some(labels.into_iter().filter(|(_, v)| !v.is_empty()).collect());
        }
        let map: LabelMap = labels.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        self.process(map).map(|m| m.into_iter().collect())
    }
}

impl Step {
    /// Applies one step; false when it drops the label set.
    fn apply(&self, labels: &mut LabelMap) -> bool {
        let c = &self.config;
        let value = || -> String {
            let mut out = String::new();
            for (i, name) in c.source_labels.iter().enumerate() {
                if i > 0 {
                    out.push_str(c.separator());
                }
                if let Some(v) = labels.get(name) {
                    out.push_str(v);
                }
            }
            out
        };
        let target = c.target_label.as_deref().unwrap_or("");
        match c.action {
            RelabelAction::Drop => !self.regex.is_match(&value()),
            RelabelAction::Keep => self.regex.is_match(&value()),
            RelabelAction::DropEqual => {
                labels.get(target).map(String::as_str).unwrap_or("") != value()
            }
            RelabelAction::KeepEqual => {
                labels.get(target).map(String::as_str).unwrap_or("") == value()
            }
            RelabelAction::Replace => {
                let v = value();
                let Some(caps) = self.regex.captures(&v) else {
                    return true;
                };
                let mut name = String::new();
                caps.expand(target, &mut name);
                if !telltale_model::is_valid_label_name(&name) {
                    return true;
                }
                let mut res = String::new();
                caps.expand(c.replacement(), &mut res);
                set(labels, name, res);
                true
            }
            RelabelAction::Lowercase => {
                set(labels, target.to_string(), value().to_lowercase());
                true
            }
            RelabelAction::Uppercase => {
                set(labels, target.to_string(), value().to_uppercase());
                true
            }
            RelabelAction::HashMod => {
                let modulus = c.modulus.unwrap_or(1).max(1);
                let m = hash_mod(&value(), modulus);
                set(labels, target.to_string(), m.to_string());
                true
            }
            RelabelAction::LabelMap => {
                let snapshot: Vec<(String, String)> =
                    labels.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
                for (name, v) in snapshot {
                    if self.regex.is_match(&name) {
                        let new = self.regex.replace_all(&name, c.replacement()).into_owned();
                        set(labels, new, v);
                    }
                }
                true
            }
            RelabelAction::LabelDrop => {
                labels.retain(|name, _| !self.regex.is_match(name));
                true
            }
            RelabelAction::LabelKeep => {
                labels.retain(|name, _| self.regex.is_match(name));
                true
            }
        }
    }
}

/// Sets `name` to `value`, or removes it when `value` is empty.
fn set(labels: &mut LabelMap, name: String, value: String) {
    if value.is_empty() {
        labels.remove(&name);
    } else {
        labels.insert(name, value);
    }
}

/// Prometheus's `hashmod`: the last 8 bytes of the MD5 of `value`, big-endian, modulo
/// `modulus` — the same shard numbers Prometheus computes.
pub fn hash_mod(value: &str, modulus: u64) -> u64 {
    let digest = Md5::digest(value.as_bytes());
    let mut tail = [0u8; 8];
    tail.copy_from_slice(&digest[8..16]);
    u64::from_be_bytes(tail) % modulus
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(yaml: &str) -> Relabeler {
        let configs: Vec<RelabelConfig> = serde_yaml::from_str(yaml).unwrap();
        Relabeler::new(&configs, "t").unwrap()
    }

    fn map(v: &[(&str, &str)]) -> LabelMap {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn replace_defaults_copy_the_joined_sources() {
        let r = rules("[{sourceLabels: [a, b], targetLabel: c}]");
        assert_eq!(
            r.process(map(&[("a", "x"), ("b", "y")])),
            Some(map(&[("a", "x"), ("b", "y"), ("c", "x;y")]))
        );
    }

    #[test]
    fn replace_uses_groups_templates_and_anchoring() {
        let r = rules(
            r#"[{sourceLabels: [__address__], regex: '(.+):(\d+)', targetLabel: 'host_${2}', replacement: '$1'}]"#,
        );
        assert_eq!(
            r.process(map(&[("__address__", "h:80")])),
            Some(map(&[("__address__", "h:80"), ("host_80", "h")]))
        );
        // Anchored: "h:80x" does not match, nothing changes.
        assert_eq!(
            r.process(map(&[("__address__", "h:80x")])),
            Some(map(&[("__address__", "h:80x")]))
        );
        // An empty replacement removes the target label.
        let r = rules("[{sourceLabels: [a], regex: 'x', targetLabel: b, replacement: ''}]");
        assert_eq!(
            r.process(map(&[("a", "x"), ("b", "1")])),
            Some(map(&[("a", "x")]))
        );
        // A target label that expands to an invalid name changes nothing.
        let r = rules("[{sourceLabels: [a], regex: '(.*)', targetLabel: '$1'}]");
        assert_eq!(r.process(map(&[("a", "1-x")])), Some(map(&[("a", "1-x")])));
    }

    #[test]
    fn keep_and_drop_filter_on_the_regex() {
        let keep = rules("[{action: keep, sourceLabels: [env], regex: prod|staging}]");
        assert!(keep.process(map(&[("env", "prod")])).is_some());
        assert!(keep.process(map(&[("env", "production")])).is_none());
        assert!(keep.process(map(&[])).is_none());
        let drop = rules("[{action: drop, sourceLabels: [__name__], regex: 'go_.*'}]");
        assert!(drop.process(map(&[("__name__", "go_gc")])).is_none());
        assert!(drop.process(map(&[("__name__", "up")])).is_some());
    }

    #[test]
    fn keepequal_and_dropequal_compare_with_the_target_label() {
        let keep = rules("[{action: keepequal, sourceLabels: [a], targetLabel: b}]");
        assert!(keep.process(map(&[("a", "1"), ("b", "1")])).is_some());
        assert!(keep.process(map(&[("a", "1"), ("b", "2")])).is_none());
        let drop = rules("[{action: dropequal, sourceLabels: [a], targetLabel: b}]");
        assert!(drop.process(map(&[("a", "1"), ("b", "1")])).is_none());
        assert!(drop.process(map(&[("a", "1")])).is_some());
        assert!(drop.process(map(&[])).is_none(), "both absent: equal");
    }

    #[test]
    fn hashmod_matches_prometheus() {
        // Values computed with Prometheus's relabel package (md5, last 8 bytes, BE).
        let digest = Md5::digest(b"foo");
        let expected = u64::from_be_bytes(digest[8..16].try_into().unwrap()) % 1000;
        assert_eq!(hash_mod("foo", 1000), expected);
        let r = rules("[{action: hashmod, sourceLabels: [a], modulus: 1000, targetLabel: s}]");
        let out = r.process(map(&[("a", "foo")])).unwrap();
        assert_eq!(out["s"], expected.to_string());
        for v in ["a", "b", "c", "node-1:9100"] {
            assert!(hash_mod(v, 7) < 7);
        }
    }

    #[test]
    fn labelmap_labeldrop_labelkeep() {
        let r = rules(
            r#"[{action: labelmap, regex: '__meta_pod_label_(.+)'}, {action: labeldrop, regex: 'tmp.*'}]"#,
        );
        assert_eq!(
            r.process(map(&[
                ("__meta_pod_label_app", "web"),
                ("tmp_x", "1"),
                ("keep", "2")
            ])),
            Some(map(&[
                ("__meta_pod_label_app", "web"),
                ("app", "web"),
                ("keep", "2")
            ]))
        );
        let r = rules("[{action: labelkeep, regex: '__name__|job'}]");
        assert_eq!(
            r.process(map(&[("__name__", "m"), ("job", "j"), ("x", "1")])),
            Some(map(&[("__name__", "m"), ("job", "j")]))
        );
    }

    #[test]
    fn lowercase_uppercase() {
        let r = rules(
            "[{action: lowercase, sourceLabels: [a], targetLabel: lo}, {action: uppercase, sourceLabels: [a], targetLabel: up}]",
        );
        let out = r.process(map(&[("a", "MiXeD")])).unwrap();
        assert_eq!(out["lo"], "mixed");
        assert_eq!(out["up"], "MIXED");
    }

    #[test]
    fn steps_see_previous_results_and_bad_regex_is_named() {
        let r = rules(
            "[{sourceLabels: [a], targetLabel: b}, {action: keep, sourceLabels: [b], regex: x}]",
        );
        assert!(r.process(map(&[("a", "x")])).is_some());
        assert!(r.process(map(&[("a", "y")])).is_none());
        let configs: Vec<RelabelConfig> =
            serde_yaml::from_str("[{action: keep, regex: '('}]").unwrap();
        let err = Relabeler::new(&configs, "spec.relabelings").unwrap_err();
        assert!(
            err.to_string().contains("spec.relabelings[0].regex"),
            "{err}"
        );
        assert_eq!(
            Relabeler::new(&configs[..0], "x").unwrap(),
            Relabeler::default()
        );
    }
}
