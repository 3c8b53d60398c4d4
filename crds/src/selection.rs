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

fn validate_label_selector(field: &str, sel: &LabelSelector) -> Result<(), FieldError> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
