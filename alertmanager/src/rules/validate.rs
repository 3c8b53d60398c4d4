//! [`validate_rules`]: checks `AlertRule` specs before they are used — the resource's own
//! constraints, every expression as PromQL (the parser promtool's checks use), the
//! evaluator's own limits through an [`ExprCheck`], and every label and annotation
//! template of alerting rules (parsed and type-checked, see
//! [`crate::template::prometheus::AlertTemplate::check`]).

use telltale_crds::{AlertRuleSpec, FieldError};

use crate::template::prometheus::AlertTemplate;

/// What the query engine says about an expression it would have to evaluate (the
/// binary passes the engine's check; [`promql_only`] checks the syntax alone).
pub type ExprCheck = fn(&str) -> Result<(), String>;

/// Only PromQL syntax.
pub fn promql_only(expr: &str) -> Result<(), String> {
    promql_parser::parser::parse(expr).map(|_| ())
}

/// Checks the resource's own constraints (names, intervals, labels), that every `expr`
/// parses as PromQL and passes `check`, and that every template of an alerting rule
/// parses and type-checks; the error names the field, e.g.
/// `spec.groups[0].rules[2].annotations.summary`, and the rule.
pub fn validate_rules(spec: &AlertRuleSpec, check: ExprCheck) -> Result<(), FieldError> {
    match rule_errors(spec, check).into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Every error [`validate_rules`] would find, in file order, as promtool lists them: the
/// resource's own constraints first (the first of them only), then each expression and
/// template.
pub fn rule_errors(spec: &AlertRuleSpec, check: ExprCheck) -> Vec<FieldError> {
    if let Err(e) = spec.validate() {
        return vec![e];
    }
    let mut errors = Vec::new();
    for (g, group) in spec.groups.iter().enumerate() {
        for (r, rule) in group.rules.iter().enumerate() {
            let at = format!("spec.groups[{g}].rules[{r}]");
            if let Err(e) = promql_only(&rule.expr).and_then(|()| check(&rule.expr)) {
                errors.push(FieldError::new(format!("{at}.expr"), e));
            }
            if rule.is_recording() {
                continue;
            }
            for (kind, templates) in [("labels", &rule.labels), ("annotations", &rule.annotations)]
            {
                for (name, text) in templates {
                    if let Err(e) = AlertTemplate::new(&rule.alert, text).check() {
                        errors.push(FieldError::new(
                            format!("{at}.{kind}.{name}"),
                            format!("alert {:?}: {e}", rule.alert),
                        ));
                    }
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_crds::{PromDuration, Rule, RuleGroup};

    fn spec(annotation: &str) -> AlertRuleSpec {
        let mut rule = Rule::alert("Disk", "up == 0");
        rule.annotations.insert("summary".into(), annotation.into());
        AlertRuleSpec {
            groups: vec![RuleGroup {
                name: "g".into(),
                interval: PromDuration::from_secs(60),
                rules: vec![Rule::record("x:up", "up"), rule],
            }],
        }
    }

    #[test]
    fn templates_are_parsed_and_type_checked() {
        assert!(
            validate_rules(
                &spec("{{ with $labels.cluster -}} on {{ . }} {{- end }}"),
                promql_only
            )
            .is_ok()
        );
        let e = validate_rules(&spec("a\n{{ nosuch $value }}"), promql_only).unwrap_err();
        assert_eq!(e.field, "spec.groups[0].rules[1].annotations.summary");
        assert_eq!(
            e.message,
            "alert \"Disk\": template: __alert_Disk:2: function \"nosuch\" not defined"
        );
        let e = validate_rules(&spec("{{ humanize $value 2 }}"), promql_only).unwrap_err();
        assert_eq!(
            e.message,
            "alert \"Disk\": template: __alert_Disk:1:115: executing \"__alert_Disk\" at <humanize>: wrong number of args for humanize: want 1 got 2"
        );
        let e = validate_rules(&spec("{{ toUpper 3 }}"), promql_only).unwrap_err();
        assert!(
            e.message.ends_with("expected string; found 3"),
            "{}",
            e.message
        );
        let e = validate_rules(&spec("{{ $value | humanize 1 }}"), promql_only).unwrap_err();
        assert!(
            e.message
                .ends_with("wrong number of args for humanize: want 1 got 2"),
            "{}",
            e.message
        );
        assert!(
            validate_rules(&spec("{{ $value | humanize | printf }}"), promql_only).is_ok(),
            "the piped value is printf's format"
        );
        assert!(validate_rules(&spec("{{ $value | printf \"%.2f\" }}"), promql_only).is_ok());
    }

    #[test]
    fn expressions_pass_the_given_check() {
        assert_eq!(
            validate_rules(&spec(""), |_| Err("no".into()))
                .unwrap_err()
                .field,
            "spec.groups[0].rules[0].expr"
        );
        let mut s = spec("");
        s.groups[0].rules[0].expr = "sum(".into();
        assert!(validate_rules(&s, promql_only).is_err());
    }

    #[test]
    fn every_error_is_listed_in_order() {
        let mut s = spec("{{ nosuch }}");
        s.groups[0].rules[0].expr = "sum(".into();
        s.groups[0].rules[1]
            .labels
            .insert("severity".into(), "{{ if }}".into());
        let fields: Vec<_> = rule_errors(&s, promql_only)
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            [
                "spec.groups[0].rules[0].expr",
                "spec.groups[0].rules[1].labels.severity",
                "spec.groups[0].rules[1].annotations.summary",
            ]
        );
        s.groups[0].name.clear();
        assert_eq!(
            rule_errors(&s, promql_only).len(),
            1,
            "the spec's own first"
        );
    }
}
