//! What a [`ScrapeTarget`](crate::ScrapeTarget) selects in a cluster: a pod selector or a
//! service selector (the Service's EndpointSlices), the namespaces they look in, and the
//! port by name or number. The label selectors are Kubernetes' own `LabelSelector`
//! (`matchLabels`, `matchExpressions`).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// The CEL rule (on the spec) allowing at most one of the two selectors.
pub const ONE_SELECTOR_RULE: &str = "!(has(self.podSelector) && has(self.serviceSelector))";
/// The CEL rule (on the spec) that `namespaceSelector` and `port` come with a selector.
pub const SELECTOR_NEEDED_RULE: &str = "has(self.podSelector) || has(self.serviceSelector) || (!has(self.namespaceSelector) && !has(self.port))";

/// Which namespaces a selector looks in; the resource's own namespace when unset.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NamespaceSelector {
    /// Every namespace (the scraper needs cluster-wide list/watch permissions).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any: bool,
    /// These namespaces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_names: Vec<String>,
}

impl NamespaceSelector {
    /// Whether `namespace` is searched by a resource living in `own`.
    pub fn includes(&self, own: &str, namespace: &str) -> bool {
        if self.any {
            true
        } else if !self.match_names.is_empty() {
            self.match_names.iter().any(|n| n == namespace)
        } else {
            own == namespace
        }
    }
}

/// Whether a port of this name and number is selected by `port` (every port when
/// `None`; a numeric string matches by number).
pub fn port_matches(port: Option<&IntOrString>, name: Option<&str>, number: i32) -> bool {
    match port {
        None => true,
        Some(IntOrString::Int(n)) => *n == number,
        Some(IntOrString::String(s)) => {
            name == Some(s.as_str()) || s.parse::<i32>().is_ok_and(|n| n == number)
        }
    }
}

/// Checks the selection fields of a spec: at most one selector, `namespaceSelector` and
/// `port` only with one, selector operators and values, port range or name.
pub fn validate(
    pod: Option<&LabelSelector>,
    service: Option<&LabelSelector>,
    namespaces: Option<&NamespaceSelector>,
    port: Option<&IntOrString>,
) -> Result<(), FieldError> {
    if pod.is_some() && service.is_some() {
        return Err(FieldError::new(
            "spec.serviceSelector",
            "set exactly one of podSelector and serviceSelector",
        ));
    }
    if pod.is_none() && service.is_none() {
        if namespaces.is_some() {
            return Err(FieldError::new(
                "spec.namespaceSelector",
                "needs a podSelector or serviceSelector",
            ));
        }
        if port.is_some() {
            return Err(FieldError::new(
                "spec.port",
                "needs a podSelector or serviceSelector",
            ));
        }
    }
    for (field, sel) in [("spec.podSelector", pod), ("spec.serviceSelector", service)] {
        if let Some(sel) = sel {
            validate_label_selector(field, sel)?;
        }
    }
    if let Some(ns) = namespaces
        && ns.any
        && !ns.match_names.is_empty()
    {
        return Err(FieldError::new(
            "spec.namespaceSelector",
            "set either any or matchNames, not both",
        ));
    }
    match port {
        Some(IntOrString::Int(n)) if !(1..=65535).contains(n) => Err(FieldError::new(
            "spec.port",
            format!("{n} is not a port number (1-65535)"),
        )),
        Some(IntOrString::String(s)) if s.is_empty() => {
            Err(FieldError::new("spec.port", "must not be empty"))
        }
        _ => Ok(()),
    }
}

/// Checks a label selector's operators and values; `field` names it in errors.
pub fn validate_label_selector(field: &str, sel: &LabelSelector) -> Result<(), FieldError> {
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        let at = format!("{field}.matchExpressions[{i}]");
        if req.key.is_empty() {
            return Err(FieldError::new(format!("{at}.key"), "must not be empty"));
        }
        let values = req.values.as_deref().unwrap_or(&[]);
        match req.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                return Err(FieldError::new(
                    format!("{at}.values"),
                    format!("operator {} needs values", req.operator),
                ));
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                return Err(FieldError::new(
                    format!("{at}.values"),
                    format!("operator {} takes no values", req.operator),
                ));
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => {
                return Err(FieldError::new(
                    format!("{at}.operator"),
                    format!("{other:?} is not one of In, NotIn, Exists, DoesNotExist"),
                ));
            }
        }
    }
    if let Some(key) = sel
        .match_labels
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| k.is_empty())
    {
        return Err(FieldError::new(
            format!("{field}.matchLabels"),
            format!("{key:?} is not a label key"),
        ));
    }
    Ok(())
}

/// Whether `labels` satisfy `selector` (`matchLabels` and every `matchExpressions`
/// requirement: `In`, `NotIn`, `Exists`, `DoesNotExist`). An empty selector matches
/// everything; an unknown operator matches nothing.
pub fn label_selector_matches(
    selector: &LabelSelector,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    if let Some(want) = &selector.match_labels
        && !want.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    selector.match_expressions.iter().flatten().all(|req| {
        let value = labels.get(&req.key);
        let values = req.values.as_deref().unwrap_or(&[]);
        match req.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    })
}

/// Parses a label selector in Kubernetes' string syntax (as `kubectl -l` and
/// Prometheus's `kubernetes_sd_configs` selectors take it): comma-separated
/// `key=value`, `key==value`, `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key`,
/// `!key`. An empty string selects everything.
pub fn parse_label_selector(s: &str) -> Result<LabelSelector, String> {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    let mut selector = LabelSelector::default();
    let mut requirements = Vec::new();
    let mut labels = std::collections::BTreeMap::new();
    for part in split_top_level(s) {
        let part = part.trim();
        if part.is_empty() {
            if s.trim().is_empty() {
                continue;
            }
            return Err(format!("{s:?}: empty requirement"));
        }
        let req = |key: &str, op: &str, values: Option<Vec<String>>| {
            let key = key.trim();
            if !is_selector_key(key) {
                return Err(format!("{s:?}: {key:?} is not a valid label key"));
            }
            Ok(LabelSelectorRequirement {
                key: key.to_string(),
                operator: op.to_string(),
                values,
            })
        };
        let set = |rest: &str| -> Result<Vec<String>, String> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("{s:?}: expected a (value, ...) set"))?;
            Ok(inner
                .split(',')
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
                .collect())
        };
        if let Some(key) = part.strip_prefix('!') {
            requirements.push(req(key, "DoesNotExist", None)?);
        } else if let Some((key, value)) = part.split_once("!=") {
            requirements.push(req(key, "NotIn", Some(vec![value.trim().to_string()]))?);
        } else if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
            let key = key.trim();
            if !is_selector_key(key) {
                return Err(format!("{s:?}: {key:?} is not a valid label key"));
            }
            labels.insert(key.to_string(), value.trim().to_string());
        } else if let Some((key, rest)) = part.split_once(" notin ") {
            requirements.push(req(key, "NotIn", Some(set(rest)?))?);
        } else if let Some((key, rest)) = part.split_once(" in ") {
            requirements.push(req(key, "In", Some(set(rest)?))?);
        } else {
            requirements.push(req(part, "Exists", None)?);
        }
    }
    if !labels.is_empty() {
        selector.match_labels = Some(labels);
    }
    if !requirements.is_empty() {
        selector.match_expressions = Some(requirements);
    }
    Ok(selector)
}

/// Splits at commas outside parentheses.
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A label key: an optional DNS prefix and `/`, then `[A-Za-z0-9._-]` starting and
/// ending alphanumeric.
fn is_selector_key(key: &str) -> bool {
    let name = key.rsplit_once('/').map_or(key, |(_, n)| n);
    !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_selector_strings_parse() {
        let s =
            parse_label_selector("app=web, tier!=db,env in (prod, staging),!legacy,team").unwrap();
        assert_eq!(s.match_labels.unwrap()["app"], "web");
        let ops: Vec<_> = s
            .match_expressions
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.operator, r.values.unwrap_or_default()))
            .collect();
        assert_eq!(
            ops,
            [
                ("tier".into(), "NotIn".into(), vec!["db".to_string()]),
                (
                    "env".into(),
                    "In".into(),
                    vec!["prod".into(), "staging".into()]
                ),
                ("legacy".into(), "DoesNotExist".into(), vec![]),
                ("team".into(), "Exists".into(), vec![]),
            ]
        );
        assert_eq!(parse_label_selector("").unwrap(), LabelSelector::default());
        assert!(parse_label_selector("app.kubernetes.io/part-of==shop").is_ok());
        for bad in ["a b", "=x", "env in prod", "a,,b", "-a=b"] {
            assert!(parse_label_selector(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn namespaces_and_ports_match() {
        let own = NamespaceSelector::default();
        assert!(own.includes("a", "a") && !own.includes("a", "b"));
        let any = NamespaceSelector {
            any: true,
            ..Default::default()
        };
        assert!(any.includes("a", "z"));
        let names = NamespaceSelector {
            match_names: vec!["b".into()],
            ..Default::default()
        };
        assert!(names.includes("a", "b") && !names.includes("a", "a"));
        let by_name = IntOrString::String("metrics".into());
        assert!(port_matches(Some(&by_name), Some("metrics"), 1));
        assert!(!port_matches(Some(&by_name), Some("http"), 1));
        assert!(port_matches(
            Some(&IntOrString::String("9000".into())),
            None,
            9000
        ));
        assert!(port_matches(Some(&IntOrString::Int(9000)), None, 9000));
        assert!(!port_matches(Some(&IntOrString::Int(9000)), None, 9001));
        assert!(port_matches(None, None, 5));
    }
}
