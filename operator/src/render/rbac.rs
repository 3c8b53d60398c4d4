//! ServiceAccounts, Roles and RoleBindings: each component gets its own account and only
//! the API access it uses (storage and query none at all).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use serde_json::Value;
use telltale_crds::MetricClusterSpec;

use super::Meta;
use crate::naming::Component;

/// The ServiceAccount of `component`; its token is mounted only where the pod calls the API.
pub fn service_account(m: &Meta, component: Component) -> ServiceAccount {
    ServiceAccount {
        metadata: m.object(m.names.component(component), component, None),
        automount_service_account_token: Some(matches!(
            component,
            Component::Scraper | Component::Alertmanager
        )),
        ..ServiceAccount::default()
    }
}

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.into()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}

const READ: &[&str] = &["get", "list", "watch"];

/// What the scraper reads: pods, services and endpoints (service discovery), endpoint
/// slices (service discovery, and the live scraper set from its own headless Service),
/// the ScrapeTargets, and prometheus-operator's ServiceMonitors and PodMonitors with the
/// MetricCluster whose selectors pick them; with `get` only, the Secret and ConfigMap
/// keys targets take their CA, client certificate and credentials from (each read in the
/// namespace of the resource naming it, as prometheus-operator copies them).
pub fn scraper_rules() -> Vec<PolicyRule> {
    vec![
        rule("", &["pods", "services", "endpoints"], READ),
        rule("", &["secrets", "configmaps"], &["get"]),
        rule("discovery.k8s.io", &["endpointslices"], READ),
        rule("telltale.dev", &["scrapetargets", "metricclusters"], READ),
        rule(
            telltale_crds::prometheus_operator::GROUP,
            &["servicemonitors", "podmonitors", "scrapeconfigs"],
            READ,
        ),
        // Events saying what of a monitor is not honoured.
        rule("events.k8s.io", &["events"], &["create", "patch"]),
    ]
}

/// What the alertmanager reads: AlertRules, its MetricCluster (receivers, routes and
/// `ruleSelector`), prometheus-operator's PrometheusRules and only the Secrets the
/// receivers name.
pub fn alertmanager_rules(spec: &MetricClusterSpec) -> Vec<PolicyRule> {
    let mut rules = vec![
        rule("telltale.dev", &["alertrules", "metricclusters"], READ),
        rule(
            telltale_crds::prometheus_operator::GROUP,
            &["prometheusrules"],
            READ,
        ),
        // Events saying what of a PrometheusRule is not honoured.
        rule("events.k8s.io", &["events"], &["create", "patch"]),
    ];
    let secrets = referenced_secrets(spec);
    if !secrets.is_empty() {
        let mut r = rule("", &["secrets"], &["get"]);
        r.resource_names = Some(secrets.into_iter().collect());
        rules.push(r);
    }
    rules
}

/// The names of every Secret a receiver takes a credential from.
pub fn referenced_secrets(spec: &MetricClusterSpec) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                if let Some(name) = map
                    .get("secretKeyRef")
                    .and_then(|s| s.get("name"))
                    .and_then(Value::as_str)
                {
                    out.insert(name.to_string());
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    if let Ok(v) = serde_json::to_value(&spec.alerting) {
        walk(&v, &mut out);
    }
    out
}

/// A Role of `component` with `rules`.
pub fn role(m: &Meta, component: Component, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: m.object(m.names.component(component), component, None),
        rules: Some(rules),
    }
}

/// Binds `component`'s Role to its ServiceAccount.
pub fn role_binding(m: &Meta, component: Component) -> RoleBinding {
    let name = m.names.component(component);
    RoleBinding {
        metadata: m.object(name.clone(), component, None),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name,
            namespace: Some(m.names.namespace.clone()),
            ..Subject::default()
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_receivers_only() {
        let spec: MetricClusterSpec = serde_yaml::from_str(
            "alerting:
  receivers:
    - name: pd
      pagerdutyConfigs: [{routingKey: {secretKeyRef: {name: pagerduty, key: key}}}]
    - name: hook
      webhooks: [{url: 'http://x'}]
",
        )
        .unwrap();
        assert_eq!(
            referenced_secrets(&spec).into_iter().collect::<Vec<_>>(),
            ["pagerduty"]
        );
        let rules = alertmanager_rules(&spec);
        let secrets = |rules: &[PolicyRule]| {
            rules
                .iter()
                .filter(|r| r.resources.as_deref() == Some(&["secrets".to_string()][..]))
                .cloned()
                .collect::<Vec<_>>()
        };
        let [secret] = &secrets(&rules)[..] else {
            panic!("one rule for Secrets: {rules:?}")
        };
        assert_eq!(
            secret.resource_names.as_deref(),
            Some(&["pagerduty".to_string()][..])
        );
        assert_eq!(secret.verbs, ["get"]);
        assert!(secrets(&alertmanager_rules(&MetricClusterSpec::default())).is_empty());
    }
}
