//! [`Route`] and [`InhibitRule`]: which receiver gets an alert, how alerts are grouped and
//! which alerts mute others, with Alertmanager's semantics and matcher syntax.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::error::FieldError;

/// A node of the routing tree. An alert enters at the root and descends into the first
/// child whose `matchers` all match (and further children too when that child has
/// `continue: true`); it is handled by the deepest routes it reaches. A child inherits
/// every setting it leaves unset from its parent.
///
/// Snake-case keys (`group_by`, `group_wait`, ...) are accepted as well, so Alertmanager
/// route snippets can be pasted as they are.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Route {
    /// Name of the receiver; required on the root, inherited by children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    /// Alertmanager matchers, each `name=value`, `name!=value`, `name=~regex` or
    /// `name!~regex` (values optionally double-quoted), e.g. `severity=~"critical|page"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matchers: Vec<String>,
    /// Labels alerts are grouped by; `...` groups by every label. Default (root): none,
    /// all alerts of the route in one group.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "group_by")]
    pub group_by: Option<Vec<String>>,
    /// How long a new group waits to collect alerts before its first notification
    /// (root default 0s: alerts of one evaluation still arrive together).
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "group_wait")]
    pub group_wait: Option<PromDuration>,
    /// How long to wait before notifying about changes of a group already notified
    /// (root default 5s).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "group_interval"
    )]
    pub group_interval: Option<PromDuration>,
    /// How long to wait before repeating a notification that did not change (root
    /// default 4h).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "repeat_interval"
    )]
    pub repeat_interval: Option<PromDuration>,
    /// Whether an alert matching this route goes on to match its later siblings.
    #[serde(default, rename = "continue", skip_serializing_if = "is_false")]
    pub continue_: bool,
    /// Child routes (the same shape as this one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "child_routes_schema")]
    pub routes: Vec<Route>,
}

/// Mutes alerts matching `targetMatchers` while an alert matching `sourceMatchers` fires
/// with the same values of the `equal` labels.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InhibitRule {
    #[serde(default, alias = "source_matchers")]
    pub source_matchers: Vec<String>,
    #[serde(default, alias = "target_matchers")]
    pub target_matchers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub equal: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Kubernetes schemas cannot refer to themselves: child routes are objects whose fields
/// the API server keeps as they are; the alertmanager checks them.
fn child_routes_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "description": "Child routes, each with the fields of a route.",
        "items": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true
        }
    })
}

impl Route {
    /// Checks the tree's shape: the root names a receiver, every named receiver is one of
    /// `receivers`, intervals are positive. Matcher syntax is checked by the alertmanager.
    pub fn validate(&self, at: &str, receivers: &[&str], root: bool) -> Result<(), FieldError> {
        match &self.receiver {
            None if root => {
                return Err(FieldError::new(
                    format!("{at}.receiver"),
                    "the root route must name a receiver",
                ));
            }
            Some(r) if !receivers.contains(&r.as_str()) => {
                return Err(FieldError::new(
                    format!("{at}.receiver"),
                    format!("no receiver named {r:?}"),
                ));
            }
            _ => {}
        }
        for (name, value) in [
            ("groupInterval", self.group_interval),
            ("repeatInterval", self.repeat_interval),
        ] {
            if value.is_some_and(|d| d.0.is_zero()) {
                return Err(FieldError::new(
                    format!("{at}.{name}"),
                    "must be greater than 0",
                ));
            }
        }
        if let Some(by) = &self.group_by
            && by.iter().any(|l| l == "...")
            && by.len() > 1
        {
            return Err(FieldError::new(
                format!("{at}.groupBy"),
                "\"...\" must be the only entry",
            ));
        }
        for (i, child) in self.routes.iter().enumerate() {
            child.validate(&format!("{at}.routes[{i}]"), receivers, false)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_alertmanager_style_routes() {
        let route: Route = serde_yaml::from_str(
            r#"
receiver: default
group_by: [alertname, cluster]
group_wait: 10s
routes:
  - matchers: ['severity=~"critical|page"']
    receiver: pager
    continue: true
    routes:
      - matchers: [team=db]
"#,
        )
        .unwrap();
        assert_eq!(route.group_by.as_deref().unwrap(), ["alertname", "cluster"]);
        assert_eq!(route.group_wait, Some(PromDuration::from_secs(10)));
        assert!(route.routes[0].continue_);
        assert_eq!(route.routes[0].routes[0].matchers, ["team=db"]);
        assert!(route.validate("r", &["default", "pager"], true).is_ok());
        let err = route.validate("r", &["default"], true).unwrap_err();
        assert_eq!(err.field, "r.routes[0].receiver");
    }

    #[test]
    fn root_needs_a_receiver() {
        let err = Route::default().validate("r", &[], true).unwrap_err();
        assert_eq!(err.field, "r.receiver");
    }
}
