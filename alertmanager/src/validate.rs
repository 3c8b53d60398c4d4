//! [`validate_rules`]: checks an `AlertRule` before its rules are evaluated.

use telltale_crds::{AlertRuleSpec, FieldError};

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
