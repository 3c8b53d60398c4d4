//! Reading PromQL as Prometheus reads it.
//!
//! ```text
//!  text --lex--> tokens --syntax--> Node tree --check--> types
//!    |                                 |
//!    |        duration expressions evaluated for the query's step,
//!    |        written back into the text as milliseconds
//!    v
//!  promql-parser --> Expr (the engine's tree)
//! ```
//!
//! The lexer, grammar and type checks here exist to refuse bad queries exactly as
//! Prometheus does: its message and its `line:col` position (`1:16: parse error:
//! unclosed left parenthesis`). They also read Prometheus 3.5's duration expressions
//! (`promql-duration-expr`), which `promql-parser` cannot: those are evaluated here and
//! handed on as plain durations. An accepted query is then built into the engine's tree
//! by `promql-parser`.

pub(crate) mod check;
pub(crate) mod duration;
#[cfg(test)]
mod error_cases;
pub(crate) mod functions;
pub(crate) mod lex;
pub(crate) mod literals;
pub(crate) mod syntax;

use promql_parser::parser::Expr;

use crate::error::{Error, Result};
use crate::features::Features;
use crate::position::line_col;
use syntax::{DurationSite, DurationUse};

/// Parses `query` with `features`. `step_ms` is the query's step for `step()` in
/// duration expressions (0 for an instant query); None only validates (nothing is
/// evaluated). Errors are Prometheus's, `line:col: parse error: ...`.
pub fn parse(query: &str, features: &Features, step_ms: Option<i64>) -> Result<Expr> {
    let text = check(query, features, step_ms)?;
    promql_parser::parser::parse(&text).map_err(Error::bad_data)
}

/// The text `promql-parser` is given for `query`: the same, with each computed duration
/// replaced by its value.
fn check(query: &str, features: &Features, step_ms: Option<i64>) -> Result<String> {
    let located = |(pos, message): (usize, String)| {
        Error::bad_data(format!("{}: parse error: {message}", line_col(query, pos)))
    };
    let parsed = syntax::parse(lex::lex(query), features).map_err(located)?;
    check::check(&parsed.root).map_err(located)?;
    let mut text = query.to_string();
    let mut sites: Vec<&DurationSite> = parsed.durations.iter().filter(|d| d.computed).collect();
    sites.sort_by_key(|d| std::cmp::Reverse(d.start));
    for site in sites {
        let ms = match step_ms {
            Some(step) => evaluate(site, step)?,
            None => 1,
        };
        let literal = if ms < 0 {
            format!("-{}ms", -ms)
        } else {
            format!("{ms}ms")
        };
        text.replace_range(site.start..site.end, &literal);
    }
    Ok(text)
}

/// A duration expression's value in milliseconds, refused as Prometheus refuses it
/// (`start:end: duration must be greater than 0`, byte offsets).
fn evaluate(site: &DurationSite, step_ms: i64) -> Result<i64> {
    let at = |message: &str| Error::bad_data(format!("{}:{}: {message}", site.start, site.end));
    let seconds = site
        .expr
        .seconds(step_ms as f64 / 1000.0)
        .map_err(|e| at(&e))?;
    let ms = (seconds * 1000.0).round();
    if !ms.is_finite() || ms.abs() >= i64::MAX as f64 / 1e6 {
        return Err(at("duration is out of range"));
    }
    if ms <= 0.0 && site.used != DurationUse::Offset {
        return Err(at("duration must be greater than 0"));
    }
    Ok(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(q: &str) -> String {
        parse(q, &Features::default(), Some(0))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn prometheus_errors_with_positions() {
        assert_eq!(
            err("sum(rate(x[5m])"),
            "1:16: parse error: unclosed left parenthesis"
        );
        assert_eq!(err("x y"), "1:3: parse error: unexpected identifier \"y\"");
        assert_eq!(err("1 +"), "1:4: parse error: unexpected end of input");
        assert_eq!(
            err("sum by (a x)"),
            "1:11: parse error: unexpected identifier \"x\" in grouping opts, expected \",\" or \")\""
        );
        assert_eq!(
            err("rate(x)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"
        );
        assert_eq!(
            err("x and 1"),
            "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"
        );
        assert_eq!(
            err("foo{gibberish}"),
            "1:14: parse error: unexpected \"}\" in label matching, expected label matching operator"
        );
        assert_eq!(
            err("a - on(b) ignoring(c) d"),
            "1:11: parse error: unexpected <ignoring>"
        );
        assert_eq!(
            err("1 == 1"),
            "1:3: parse error: comparisons between scalars must use BOOL modifier"
        );
        assert_eq!(
            err("foo + bool bar"),
            "1:5: parse error: bool modifier can only be used on comparison operators"
        );
        assert_eq!(err("*1"), "1:1: parse error: unexpected <op:*>");
        assert_eq!(
            err("foo[0m]"),
            "1:5: parse error: duration must be greater than 0"
        );
        assert_eq!(
            err("some_metric OFFSET 1m[5m]"),
            "1:22: parse error: no offset modifiers allowed before range"
        );
        assert_eq!(
            err("foo{__name__=\"bar\"}"),
            "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""
        );
        assert_eq!(
            err("sum(\n  rate(x))"),
            "2:8: parse error: expected type range vector in call to function \"rate\", got instant vector"
        );
        assert_eq!(
            err(""),
            "unknown position: parse error: no expression found in input"
        );
    }

    #[test]
    fn valid_queries_reach_promql_parser() {
        for q in [
            "sum by (job) (rate(x{a=\"b\"}[5m])) / on(job) group_left count(y)",
            "-x offset 5m * 2",
            "x[5m:] @ end()",
            "topk(3, x) or vector(1)",
            "histogram_quantile(0.9, sum without (le) (rate(x_bucket[1m])))",
            "{__name__=~\"a|b\"} unless on() absent(z)",
            "x offset -1h",
            "rate(x[5])",
            "1 < bool 2",
            "label_join(x, \"a\", \",\", \"b\", \"c\")",
        ] {
            parse(q, &Features::default(), Some(0)).unwrap_or_else(|e| panic!("{q}: {e}"));
        }
    }

    #[test]
    fn duration_expressions_only_with_the_feature() {
        assert_eq!(
            err("rate(x[5m * 2])"),
            "1:8: parse error: experimental duration expression is not enabled"
        );
        assert_eq!(
            err("x[1m:step()]"),
            "1:6: parse error: experimental duration expression is not enabled"
        );
        let on = Features {
            duration_expr: true,
            ..Features::default()
        };
        let text = |q: &str, step| check(q, &on, Some(step)).unwrap();
        assert_eq!(text("rate(x[5m * 2])", 0), "rate(x[600000ms])");
        assert_eq!(text("x offset (1h + 5m)", 0), "x offset 3900000ms");
        assert_eq!(text("x offset -(1h)", 0), "x offset -3600000ms");
        assert_eq!(text("x offset 5m + 1", 0), "x offset 5m + 1");
        assert_eq!(
            text("max_over_time(x[step() * 4:step()])", 15_000),
            "max_over_time(x[60000ms:15000ms])"
        );
        assert_eq!(text("x[max(1m, step())]", 120_000), "x[120000ms]");
        assert_eq!(text("x[2 ^ 3 * 1m]", 0), "x[480000ms]");
        assert_eq!(
            parse("x[step()]", &on, Some(0)).unwrap_err().to_string(),
            "2:8: duration must be greater than 0"
        );
        assert!(parse("rate(x[5m * 2])", &on, Some(0)).is_ok());
        assert!(parse("x offset (1h + 5m)", &on, None).is_ok());
    }
}
