//! [`validate_rules`] and [`validate_alerting`]: check `AlertRule` specs (PromQL
//! included) and alerting sections (matchers included) before they are used.

use telltale_crds::{AlertRuleSpec, AlertingSpec, FieldError};

use crate::error::Error;
use crate::inhibit::Inhibitor;
use crate::route::{DEFAULT_REPEAT_INTERVAL, RouteTree};

/// Checks the resource's own constraints (names, intervals, labels) and that every `expr`
/// parses as PromQL; the error names the field, e.g. `spec.groups[0].rules[2].expr`.
pub fn validate_rules(spec: &AlertRuleSpec) -> Result<(), FieldError> {
    spec.validate()?;
    for (g, group) in spec.groups.iter().enumerate() {
        for (r, rule) in group.rules.iter().enumerate() {
            telltale_query::check_expr(&rule.expr).map_err(|e| {
                FieldError::new(format!("spec.groups[{g}].rules[{r}].expr"), e.to_string())
            })?;
        }
    }
    Ok(())
}

/// Checks an alerting section: its own constraints, then every route and inhibition
/// matcher; the error names the field, e.g. `spec.alerting.route.routes[1].matchers`.
pub fn validate_alerting(spec: &AlertingSpec) -> Result<(), FieldError> {
    spec.validate()?;
    let as_field = |e: Error| match e {
        Error::Config { field, message } => FieldError::new(field, message),
        other => FieldError::new("spec.alerting", other.to_string()),
    };
    RouteTree::new(spec, DEFAULT_REPEAT_INTERVAL).map_err(as_field)?;
    Inhibitor::new(&spec.inhibit_rules).map_err(as_field)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_crds::{InhibitRule, Receiver, Route};

    #[test]
    fn alerting_matchers_are_checked() {
        let mut spec = AlertingSpec {
            route: Some(Route {
                receiver: Some("ops".into()),
                routes: vec![Route {
                    matchers: vec!["severity=~\"(\"".into()],
                    ..Route::default()
                }],
                ..Route::default()
            }),
            receivers: vec![Receiver {
                name: "ops".into(),
                ..Default::default()
            }],
            inhibit_rules: vec![],
        };
        let err = validate_alerting(&spec).unwrap_err();
        assert_eq!(err.field, "spec.alerting.route.routes[0].matchers");
        spec.route.as_mut().unwrap().routes[0].matchers = vec!["severity=page".into()];
        assert!(validate_alerting(&spec).is_ok());
        spec.inhibit_rules.push(InhibitRule {
            source_matchers: vec!["a=~\"[\"".into()],
            target_matchers: vec!["b=1".into()],
            equal: vec![],
        });
        assert_eq!(
            validate_alerting(&spec).unwrap_err().field,
            "spec.alerting.inhibitRules[0].sourceMatchers"
        );
    }
}
