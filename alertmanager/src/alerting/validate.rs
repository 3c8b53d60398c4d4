//! [`validate_alerting`]: checks an alerting section (matchers and receiver templates
//! included) before it is used.

use telltale_crds::{AlertingSpec, FieldError};

use crate::alerting::inhibit::Inhibitor;
use crate::alerting::notify::template::NotifyTemplates;
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
    let templates = NotifyTemplates::load(&spec.templates).map_err(as_field)?;
    for (i, r) in spec.receivers.iter().enumerate() {
        let at = format!("spec.alerting.receivers[{i}]");
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut add = |path: String, v: &Option<String>| {
            if let Some(v) = v {
                fields.push((path, v.clone()))
            }
        };
        for (j, c) in r.slack_configs.iter().enumerate() {
            let here = format!("{at}.slackConfigs[{j}]");
            for (name, v) in [
                ("username", &c.username),
                ("title", &c.title),
                ("titleLink", &c.title_link),
                ("pretext", &c.pretext),
                ("text", &c.text),
                ("fallback", &c.fallback),
                ("color", &c.color),
                ("footer", &c.footer),
                ("iconEmoji", &c.icon_emoji),
                ("iconUrl", &c.icon_url),
            ] {
                add(format!("{here}.{name}"), v);
            }
            for (k, f) in c.fields.iter().enumerate() {
                add(format!("{here}.fields[{k}].title"), &Some(f.title.clone()));
                add(format!("{here}.fields[{k}].value"), &Some(f.value.clone()));
            }
        }
        for (j, c) in r.pagerduty_configs.iter().enumerate() {
            let here = format!("{at}.pagerdutyConfigs[{j}]");
            for (name, v) in [
                ("description", &c.description),
                ("client", &c.client),
                ("clientUrl", &c.client_url),
                ("source", &c.source),
            ] {
                add(format!("{here}.{name}"), v);
            }
            for (k, v) in &c.details {
                add(format!("{here}.details.{k}"), &Some(v.clone()));
            }
        }
        for (j, c) in r.email_configs.iter().enumerate() {
            let here = format!("{at}.emailConfigs[{j}]");
            for (name, v) in [
                ("subject", &c.subject),
                ("html", &c.html),
                ("text", &c.text),
            ] {
                add(format!("{here}.{name}"), v);
            }
        }
        for (field, text) in fields {
            templates
                .check(&text)
                .map_err(|e| FieldError::new(field, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_crds::{InhibitRule, Receiver, Route};

    #[test]
    fn alerting_matchers_are_checked() {
        let mut spec = AlertingSpec {
            global: None,
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
            templates: vec![],
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
        spec.inhibit_rules.clear();
        spec.receivers[0].slack_configs.push(
            serde_yaml::from_str(
                "{apiUrl: {file: /x}, title: '{{ template \"__subject\" . }} {{ nosuch }}'}",
            )
            .unwrap(),
        );
        let err = validate_alerting(&spec).unwrap_err();
        assert_eq!(
            err.field,
            "spec.alerting.receivers[0].slackConfigs[0].title"
        );
        assert!(
            err.message.contains("function \"nosuch\" not defined"),
            "{}",
            err.message
        );
    }
}
