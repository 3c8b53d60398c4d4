//! [`validate_alerting`]: checks an alerting section (matchers and receiver templates
//! included) before it is used.

use telltale_crds::{AlertingSpec, FieldError};

use crate::alerting::inhibit::Inhibitor;
use crate::alerting::route::{DEFAULT_REPEAT_INTERVAL, RouteTree};
use crate::error::Error;

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
