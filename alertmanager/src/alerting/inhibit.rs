//! [`Inhibitor`]: Alertmanager's inhibition — an alert matching a rule's target matchers
//! is muted while an alert matching its source matchers fires with the same values of the
//! rule's `equal` labels.
//!
//! [`SourceIndex`] keeps, per rule, the alerts matching its source matchers by the values
//! of its `equal` labels (as Alertmanager's inhibitor caches its sources), so asking
//! whether an alert is inhibited costs a lookup per rule, not a scan of every alert:
//! a group flush costs in proportion to its own alerts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use telltale_crds::InhibitRule;

use crate::alerting::matcher::Matchers;
use crate::error::{Error, Result};
use crate::labels::{LabelSet, fingerprint};

/// One inhibition rule with its matchers parsed.
#[derive(Clone, Debug)]
struct Rule {
    source: Matchers,
    target: Matchers,
    equal: Vec<String>,
}

/// The inhibition rules of an `AlertingSpec`.
#[derive(Clone, Debug, Default)]
pub struct Inhibitor {
    rules: Vec<Rule>,
}

impl Inhibitor {
    pub fn new(rules: &[InhibitRule]) -> Result<Inhibitor> {
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let parse = |field: &str, m: &[String]| {
                    Matchers::parse_all(m).map_err(|e| Error::Config {
                        field: format!("spec.alerting.inhibitRules[{i}].{field}"),
                        message: e.to_string(),
                    })
                };
                Ok(Rule {
                    source: parse("sourceMatchers", &r.source_matchers)?,
                    target: parse("targetMatchers", &r.target_matchers)?,
                    equal: r.equal.clone(),
                })
            })
            .collect::<Result<_>>()?;
        Ok(Inhibitor { rules })
    }

    /// Fingerprints of the alerts among `firing` that inhibit an alert with `labels`
    /// (empty when it is not inhibited). An alert never inhibits itself, and when the
    /// target also matches a rule's source matchers, sources that match the target
    /// matchers too are ignored (Alertmanager's two-sided match exclusion).
    pub fn inhibited_by<'a, I>(&self, labels: &LabelSet, firing: I) -> Vec<u64>
    where
        I: IntoIterator<Item = &'a LabelSet>,
        I::IntoIter: Clone,
    {
        let firing = firing.into_iter();
        let own = fingerprint(labels);
        let mut by = Vec::new();
        for rule in &self.rules {
            if !rule.target.matches(labels) {
                continue;
            }
            let two_sided = rule.source.matches(labels);
            for source in firing.clone() {
                if !rule.source.matches(source) {
                    continue;
                }
                let fp = fingerprint(source);
                if fp == own || (two_sided && rule.target.matches(source)) {
                    continue;
                }
                if rule.equal.iter().all(|l| source.get(l) == labels.get(l)) && !by.contains(&fp) {
                    by.push(fp);
                }
            }
        }
        by
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// An empty index of sources for these rules.
    pub fn index(&self) -> SourceIndex {
        SourceIndex {
            per_rule: self.rules.iter().map(|_| HashMap::new()).collect(),
        }
    }

    /// Records `labels` (ending at `ends_at_ms`) as a source of every rule whose source
    /// matchers it matches (replacing what was recorded for the same alert).
    pub fn add_source(&self, index: &mut SourceIndex, labels: &LabelSet, ends_at_ms: Option<i64>) {
        let fp = fingerprint(labels);
        let shared = Arc::new(labels.clone());
        for (rule, sources) in self.rules.iter().zip(&mut index.per_rule) {
            if rule.source.matches(labels) {
                sources
                    .entry(equal_key(&rule.equal, labels))
                    .or_default()
                    .insert(fp, (shared.clone(), ends_at_ms));
            }
        }
    }

    /// Forgets the alert `labels` as a source.
    pub fn remove_source(&self, index: &mut SourceIndex, labels: &LabelSet) {
        let fp = fingerprint(labels);
        for (rule, sources) in self.rules.iter().zip(&mut index.per_rule) {
            let key = equal_key(&rule.equal, labels);
            if let Some(set) = sources.get_mut(&key) {
                set.remove(&fp);
                if set.is_empty() {
                    sources.remove(&key);
                }
            }
        }
    }

    /// [`Inhibitor::inhibited_by`] over the index: the sources firing at `now_ms`.
    pub fn inhibited_by_indexed(
        &self,
        index: &SourceIndex,
        labels: &LabelSet,
        now_ms: i64,
    ) -> Vec<u64> {
        let own = fingerprint(labels);
        let mut by = Vec::new();
        for (rule, sources) in self.rules.iter().zip(&index.per_rule) {
            if !rule.target.matches(labels) {
                continue;
            }
            let Some(candidates) = sources.get(&equal_key(&rule.equal, labels)) else {
                continue;
            };
            let two_sided = rule.source.matches(labels);
            for (fp, (source, ends)) in candidates {
                let firing = ends.is_none_or(|e| e > now_ms);
                if !firing || *fp == own || (two_sided && rule.target.matches(source)) {
                    continue;
                }
                if !by.contains(fp) {
                    by.push(*fp);
                }
            }
        }
        by
    }
}

/// The values of a rule's `equal` labels (a missing label is its own value).
fn equal_key(equal: &[String], labels: &LabelSet) -> Vec<Option<String>> {
    equal.iter().map(|l| labels.get(l).cloned()).collect()
}

/// Per inhibition rule, its source alerts by the values of its `equal` labels.
#[derive(Clone, Debug, Default)]
pub struct SourceIndex {
    #[allow(clippy::type_complexity)]
    per_rule: Vec<HashMap<Vec<Option<String>>, BTreeMap<u64, (Arc<LabelSet>, Option<i64>)>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> LabelSet {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn inhibitor() -> Inhibitor {
        Inhibitor::new(&[InhibitRule {
            source_matchers: vec!["severity=critical".into()],
            target_matchers: vec!["severity=warning".into()],
            equal: vec!["cluster".into()],
        }])
        .unwrap()
    }

    #[test]
    fn critical_mutes_warning_of_the_same_cluster_only() {
        let critical = labels(&[("severity", "critical"), ("cluster", "a")]);
        let warning_a = labels(&[("severity", "warning"), ("cluster", "a")]);
        let warning_b = labels(&[("severity", "warning"), ("cluster", "b")]);
        let inh = inhibitor();
        assert_eq!(
            inh.inhibited_by(&warning_a, [&critical]),
            vec![fingerprint(&critical)]
        );
        assert!(inh.inhibited_by(&warning_b, [&critical]).is_empty());
        assert!(inh.inhibited_by(&critical, [&critical]).is_empty());
        assert!(inh.inhibited_by(&warning_a, []).is_empty());
    }

    #[test]
    fn missing_equal_labels_are_equal() {
        let critical = labels(&[("severity", "critical")]);
        let warning = labels(&[("severity", "warning")]);
        assert_eq!(inhibitor().inhibited_by(&warning, [&critical]).len(), 1);
    }

    #[test]
    fn alerts_matching_both_sides_do_not_inhibit_each_other() {
        let inh = Inhibitor::new(&[InhibitRule {
            source_matchers: vec!["alertname=Down".into()],
            target_matchers: vec!["alertname=Down".into()],
            equal: vec![],
        }])
        .unwrap();
        let a = labels(&[("alertname", "Down"), ("i", "a")]);
        let b = labels(&[("alertname", "Down"), ("i", "b")]);
        assert!(inh.inhibited_by(&a, [&b]).is_empty());
    }

    #[test]
    fn the_index_answers_as_the_scan() {
        let inh = inhibitor();
        let mut index = inh.index();
        let critical = labels(&[("severity", "critical"), ("cluster", "a")]);
        let warning_a = labels(&[("severity", "warning"), ("cluster", "a")]);
        let warning_b = labels(&[("severity", "warning"), ("cluster", "b")]);
        inh.add_source(&mut index, &critical, Some(2_000));
        inh.add_source(&mut index, &warning_a, None);
        assert_eq!(
            inh.inhibited_by_indexed(&index, &warning_a, 1_000),
            vec![fingerprint(&critical)]
        );
        assert!(
            inh.inhibited_by_indexed(&index, &warning_b, 1_000)
                .is_empty()
        );
        assert!(
            inh.inhibited_by_indexed(&index, &warning_a, 2_000)
                .is_empty(),
            "resolved by then"
        );
        inh.remove_source(&mut index, &critical);
        assert!(
            inh.inhibited_by_indexed(&index, &warning_a, 1_000)
                .is_empty()
        );
    }

    #[test]
    fn bad_matchers_name_the_rule() {
        let err = Inhibitor::new(&[InhibitRule {
            source_matchers: vec![],
            target_matchers: vec!["a=~\"(\"".into()],
            equal: vec![],
        }])
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("spec.alerting.inhibitRules[0].targetMatchers"),
            "{err}"
        );
    }
}
