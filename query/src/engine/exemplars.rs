//! [`Engine::exemplars`]: Prometheus's `query_exemplars` — the exemplars of the series
//! every vector selector of an expression selects (`parser.ExtractSelectors`), within a
//! time range, asked of storage in one request.

use promql_parser::parser::Expr;
use telltale_storage_api::{ExemplarsRequest, MatcherSet};

use super::{Engine, parse};
use crate::error::Result;
use crate::eval::selector::{matcher_sets, to_storage_matcher};
use crate::labels::Labels;

/// One series' exemplars: labels, value and time (ms), oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesExemplars {
    pub series: Labels,
    pub exemplars: Vec<(Labels, f64, i64)>,
}

impl Engine {
    /// The exemplars of the series the selectors of `expr` select, with timestamps in
    /// `[start_ms, end_ms]`, per series in label order. `None` when the expression has
    /// no selector (Prometheus answers no content then). A bad expression is
    /// [`crate::error::Error::InvalidQuery`].
    pub async fn exemplars(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Option<Vec<SeriesExemplars>>> {
        let parsed = parse(expr, &self.inner.opts.features, None)?;
        let mut match_sets = Vec::new();
        selectors(&parsed, &mut match_sets);
        if match_sets.is_empty() {
            return Ok(None);
        }
        let found = self
            .inner
            .reader
            .exemplars(ExemplarsRequest {
                match_sets,
                start_ms,
                end_ms,
            })
            .await?;
        Ok(Some(
            found
                .into_iter()
                .map(|s| SeriesExemplars {
                    series: Labels::from(s.series_labels.as_slice()),
                    exemplars: s
                        .exemplars
                        .into_iter()
                        .map(|e| (Labels::from(e.labels.as_slice()), e.value, e.timestamp_ms))
                        .collect(),
                })
                .collect(),
        ))
    }
}

/// The matcher sets of every vector selector in `expr` (matrix selectors' and those in
/// subqueries included), in expression order.
fn selectors(expr: &Expr, out: &mut Vec<MatcherSet>) {
    let mut add = |vs: &promql_parser::parser::VectorSelector| {
        for set in matcher_sets(vs) {
            out.push(MatcherSet {
                matchers: set.iter().map(to_storage_matcher).collect(),
            });
        }
    };
    match expr {
        Expr::VectorSelector(vs) => add(vs),
        Expr::MatrixSelector(ms) => add(&ms.vs),
        Expr::Aggregate(a) => {
            if let Some(p) = &a.param {
                selectors(p, out);
            }
            selectors(&a.expr, out);
        }
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Paren(p) => selectors(&p.expr, out),
        Expr::Subquery(sq) => selectors(&sq.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(q: &str) -> Vec<String> {
        let e = parse(q, &Default::default(), None).unwrap();
        let mut out = Vec::new();
        selectors(&e, &mut out);
        out.iter()
            .map(|s| {
                s.matchers
                    .iter()
                    .map(|m| format!("{}{}{}", m.name, m.op, m.value))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect()
    }

    #[test]
    fn every_selector_of_the_expression() {
        assert_eq!(
            sets(r#"sum(rate(a_total{job="x"}[5m])) / on() b + max_over_time(c[1h:1m]) > 1"#),
            vec!["__name__0a_total,job0x", "__name__0b", "__name__0c"]
        );
        assert!(sets("1 + 2").is_empty());
    }
}
