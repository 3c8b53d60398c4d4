//! Prometheus's annotations: the `PromQL warning: ...` and `PromQL info: ...` messages a
//! query returns beside its result (`warnings` and `infos` in the API response), each
//! ending with the `(line:column)` of the argument it is about, as Prometheus 3 words
//! them (`util/annotations`).

use promql_parser::parser::{AggregateExpr, Call, Expr};
use rustc_hash::FxHashSet;
use telltale_storage_api::METRIC_NAME;

use super::selector::{Fetched, reference_time, selector_key};
use super::sweep::Grid;
use crate::api::response::format_value;
use crate::plan::RollupCall;
use crate::position::{Sites, line_col};
use crate::value::is_stale_nan;

/// The annotations of one query, each message once, in the order first raised.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    seen: FxHashSet<String>,
}

impl Annotations {
    fn add(&mut self, info: bool, message: String) {
        if self.seen.insert(message.clone()) {
            if info {
                self.infos.push(message);
            } else {
                self.warnings.push(message);
            }
        }
    }
}

/// Go's `%g` for the values annotations quote.
fn go_g(v: f64) -> String {
    format_value(v)
}

/// Raises annotations about nodes of one query's expression, placed by [`Sites`].
#[derive(Debug, Default)]
pub(crate) struct Annotator {
    pub query: String,
    pub sites: Sites,
    pub notes: std::cell::RefCell<Annotations>,
}

impl Annotator {
    pub(crate) fn new(query: &str, expr: &Expr) -> Self {
        Annotator {
            query: query.to_string(),
            sites: Sites::of(query, expr),
            notes: Default::default(),
        }
    }

    /// ` (line:col)` of argument `arg` of `node`, or nothing when it was not found.
    fn at<T>(&self, node: &T, arg: usize, inner: bool) -> String {
        match self.sites.arg(node as *const T as usize, arg) {
            Some(a) => format!(
                " ({})",
                line_col(&self.query, if inner { a.inner } else { a.start })
            ),
            None => String::new(),
        }
    }

    fn add(&self, info: bool, message: String) {
        self.notes.borrow_mut().add(info, message);
    }

    /// `quantile value should be between 0 and 1` for `q`, about argument `arg`.
    fn quantile<T>(&self, node: &T, arg: usize, q: f64) {
        if q.is_nan() || !(0.0..=1.0).contains(&q) {
            self.add(
                false,
                format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}{}",
                    go_g(q),
                    self.at(node, arg, false)
                ),
            );
        }
    }

    /// The parameter of `quantile_over_time` or `histogram_quantile`.
    pub(crate) fn call_quantile(&self, call: &Call, q: f64) {
        self.quantile(call, 0, q);
    }

    /// The φ of `quantile_over_time` answered from rollups.
    pub(crate) fn rollup_quantile(&self, call: &RollupCall, q: f64) {
        self.quantile(call, 0, q);
    }

    /// The parameter of the `quantile` aggregation.
    pub(crate) fn aggregate_quantile(&self, agg: &AggregateExpr, q: f64) {
        self.quantile(agg, 0, q);
    }

    /// limit_ratio's parameter out of [-1, 1], capped to `to`.
    pub(crate) fn ratio(&self, agg: &AggregateExpr, r: f64, to: f64) {
        self.add(
            false,
            format!(
                "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {}{}",
                go_g(r),
                go_g(to),
                self.at(agg, 0, false)
            ),
        );
    }

    /// A classic-histogram bucket whose `le` is missing or not a number.
    pub(crate) fn bad_bucket(&self, call: &Call, metric_name: &str, le: &str) {
        let name = if metric_name.is_empty() {
            String::new()
        } else {
            format!(" for metric name {metric_name:?}")
        };
        self.add(
            false,
            format!(
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of {le:?}{name}{}",
                self.at(call, 1, false)
            ),
        );
    }

    /// `rate` / `increase` of a range whose metric name does not say it is a counter.
    fn possible_non_counter(&self, call: &Call, metric_name: &str) {
        self.add(
            true,
            format!(
                "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric_name:?}{}",
                self.at(call, 0, true)
            ),
        );
    }

    /// The annotations that depend only on the expression and the series read, whichever
    /// way it was evaluated (step by step or series-major): rate() and increase() of
    /// series not named as counters that give a value at some step, and quantile
    /// aggregations with a constant parameter out of range.
    pub(crate) fn static_notes(&self, expr: &Expr, fetched: &Fetched, bounds: Bounds) {
        match expr {
            Expr::Call(c) => {
                if matches!(c.func.name, "rate" | "increase")
                    && let Some(Expr::MatrixSelector(ms)) = c.args.args.first().map(|a| a.as_ref())
                    && let Some(series) = fetched.raw.get(&selector_key(&ms.vs))
                {
                    let range = ms.range.as_millis() as i64;
                    for s in series {
                        let name = s.labels.get(METRIC_NAME).unwrap_or("");
                        if name.is_empty()
                            || ["_total", "_sum", "_count", "_bucket"]
                                .iter()
                                .any(|x| name.ends_with(x))
                        {
                            continue;
                        }
                        let refs = bounds
                            .times()
                            .map(|t| reference_time(&ms.vs, t, bounds.start, bounds.end));
                        if let Ok(points) = s.points()
                            && gives_rate(points, refs, range)
                        {
                            self.possible_non_counter(c, name);
                        }
                    }
                }
                c.args
                    .args
                    .iter()
                    .for_each(|a| self.static_notes(a, fetched, bounds));
            }
            Expr::Aggregate(a) => {
                if a.op.to_string() == "quantile"
                    && let Some(q) = a.param.as_deref().and_then(constant)
                {
                    self.aggregate_quantile(a, q);
                }
                if let Some(p) = &a.param {
                    self.static_notes(p, fetched, bounds);
                }
                self.static_notes(&a.expr, fetched, bounds);
            }
            Expr::Paren(p) => self.static_notes(&p.expr, fetched, bounds),
            Expr::Unary(u) => self.static_notes(&u.expr, fetched, bounds),
            Expr::Binary(b) => {
                self.static_notes(&b.lhs, fetched, bounds);
                self.static_notes(&b.rhs, fetched, bounds);
            }
            Expr::Subquery(s) => self.static_notes(&s.expr, fetched, bounds),
            _ => {}
        }
    }

    /// Everything raised so far.
    pub(crate) fn take(&self) -> Annotations {
        std::mem::take(&mut self.notes.borrow_mut())
    }
}

/// The evaluation times of a query and its bounds (for `@ start()` / `@ end()`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub start: i64,
    pub end: i64,
    /// The steps evaluated (one step at `start` for an instant query).
    pub grid: Grid,
}

impl Bounds {
    fn times(self) -> impl Iterator<Item = i64> {
        (0..self.grid.len).map(move |k| self.grid.time(k))
    }
}

/// Whether some window `(ref - range, ref]` holds two samples (rate gives a value).
fn gives_rate(points: &[(i64, f64)], refs: impl Iterator<Item = i64>, range: i64) -> bool {
    let points: Vec<i64> = points
        .iter()
        .filter(|p| !is_stale_nan(p.1))
        .map(|p| p.0)
        .collect();
    refs.into_iter().any(|r| {
        let lo = points.partition_point(|t| *t <= r - range);
        let hi = points.partition_point(|t| *t <= r);
        hi >= lo + 2
    })
}

/// The value of a constant number expression (`2`, `-1`, `(0.5)`).
fn constant(e: &Expr) -> Option<f64> {
    match e {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Paren(p) => constant(&p.expr),
        Expr::Unary(u) => constant(&u.expr).map(|v| -v),
        _ => None,
    }
}
