//! The PromQL evaluator: one expression at one evaluation time, over prefetched series.
//!
//! ```text
//!  Expr --Evaluator::eval(t)--> StepValue
//!          |-- selector   (instant / range reads of prefetched points)
//!          |-- rollup     (nodes planned onto 1m / 1h rollup points, see `crate::plan`)
//!          |-- functions  (rate, increase, *_over_time, math, date, trigonometry, ...)
//!          |-- aggregate  (sum, avg, min, max, count, ... by/without)
//!          `-- binary     (arithmetic, comparisons, and/or/unless, vector matching)
//! ```
//!
//! A range query first evaluates what it can series-major over all its steps (`sweep`:
//! range functions of selectors, aggregations of them); step-major evaluation then reads
//! those results where it reaches them.

pub(crate) mod aggregate;
pub(crate) mod annotations;
pub(crate) mod binary;
pub(crate) mod date;
pub(crate) mod delayed_names;
pub(crate) mod functions;
pub(crate) mod histogram_fns;
pub(crate) mod native_range;
pub(crate) mod quantile;
pub(crate) mod rate;
pub(crate) mod rollup;
pub(crate) mod selector;
pub(crate) mod sort;
pub(crate) mod sweep;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use promql_parser::parser::{Expr, MatrixSelector, SubqueryExpr, VectorSelector};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{Error, Result};
use crate::features::Features;
use crate::labels::Labels;
use crate::plan::{RollupCall, RollupSelector, Tier};
use crate::value::{FloatHistogram, Sample, Series};
use rollup::RollupSeries;
use selector::{
    Cursors, Fetched, RangeView, StoredSeries, instant_at, modified_time, range_at, range_views,
    reference_time, selector_key,
};
use sweep::{Columns, Grid, Table};

/// Step of a subquery written without one (`x[1h:]`): Prometheus' default evaluation
/// interval.
pub(crate) const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// The value of an expression at one evaluation time.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StepValue {
    Scalar(f64),
    String(String),
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
}

impl StepValue {
    fn type_name(&self) -> &'static str {
        match self {
            StepValue::Scalar(_) => "scalar",
            StepValue::String(_) => "string",
            StepValue::Vector(_) => "instant vector",
            StepValue::Matrix(_) => "range vector",
        }
    }
}

/// Evaluates expressions of one query against its prefetched series.
pub(crate) struct Evaluator<'a> {
    pub fetched: &'a Fetched,
    /// Query start and end (for `@ start()` / `@ end()`).
    pub start: i64,
    pub end: i64,
    pub lookback: i64,
    /// Label sets derived from series (group and match labels), kept for the query.
    pub memo: LabelMemo,
    /// Every selector node's series and read positions, by the node's address.
    pub selectors: RefCell<FxHashMap<usize, SelectorState<'a>>>,
    /// A range query's steps (None for an instant query).
    pub grid: Option<Grid>,
    /// Aggregations evaluated series-major at every step of `grid`, by node address.
    pub tables: FxHashMap<usize, Table>,
    /// Range functions evaluated series-major at every step of `grid`, by node address.
    pub columns: FxHashMap<usize, Columns>,
    /// The warnings and infos raised while evaluating.
    pub notes: annotations::Annotator,
    /// `promql-delayed-name-removal`: functions and operators mark `__name__` for
    /// removal instead of removing it; [`delayed_names::finish`] removes it from the
    /// result.
    pub delayed_name_removal: bool,
    /// Aggregation parameters (k, q, ratio) by node address, evaluated once at the
    /// query's first step ([`Evaluator::param`]).
    pub params: RefCell<FxHashMap<usize, StepValue>>,
}

/// A selector node's place in the fetched series: where they are (resolved once, not by
/// building the selector's key at every step) and where the last read ended in each.
pub(crate) struct SelectorState<'a> {
    series: &'a [StoredSeries],
    cursors: Cursors,
}

/// Label sets derived from a series' labels at one place in the expression, computed once
/// per query: a range query derives the same group (`by`/`without`) or match
/// (`on`/`ignoring`) labels from the same series at every step.
#[derive(Default)]
pub(crate) struct LabelMemo {
    derived: RefCell<FxHashMap<(usize, Labels), Labels>>,
}

impl LabelMemo {
    /// `derive()`'s result for `metric` at `site` (a node of the query's expression, which
    /// lives as long as the memo), computed on first use.
    pub(crate) fn derive<T>(
        &self,
        site: &T,
        metric: &Labels,
        derive: impl FnOnce() -> Labels,
    ) -> Labels {
        let key = (site as *const T as usize, metric.clone());
        if let Some(found) = self.derived.borrow().get(&key) {
            return found.clone();
        }
        let value = derive();
        self.derived.borrow_mut().insert(key, value.clone());
        value
    }
}

impl<'a> Evaluator<'a> {
    /// `metric` as a function or operator that drops `__name__` returns it: without the
    /// name, or with delayed name removal marked to lose it when the result is finished.
    pub(crate) fn drop_name(&self, metric: &Labels) -> Labels {
        drop_name(metric, self.delayed_name_removal)
    }

    /// An aggregation's parameter: its value at the query's first step, used at every
    /// step as Prometheus 3.5 does (its `fParam`), computed once.
    pub(crate) fn param(&self, p: &Expr) -> Result<StepValue> {
        let key = p as *const Expr as usize;
        if let Some(v) = self.params.borrow().get(&key) {
            return Ok(v.clone());
        }
        let v = self.eval(p, self.start)?;
        self.params.borrow_mut().insert(key, v.clone());
        Ok(v)
    }

    /// The value of `expr` at time `t` (milliseconds).
    pub fn eval(&self, expr: &Expr, t: i64) -> Result<StepValue> {
        match expr {
            Expr::NumberLiteral(n) => Ok(StepValue::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(StepValue::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, t),
            Expr::Unary(u) => match self.eval(&u.expr, t)? {
                StepValue::Scalar(v) => Ok(StepValue::Scalar(-v)),
                StepValue::Vector(v) => {
                    let out: Vec<Sample> = v
                        .into_iter()
                        .map(|s| {
                            let metric = self.drop_name(&s.metric);
                            match s.histogram {
                                // Prometheus negates a histogram as `Mul(-1)`.
                                Some(h) => {
                                    let mut h = FloatHistogram::clone(&h);
                                    h.mul(-1.0);
                                    Sample::histogram(metric, t, Arc::new(h))
                                }
                                None => Sample::float(metric, t, -s.value),
                            }
                        })
                        .collect();
                    check_unique(&out)?;
                    Ok(StepValue::Vector(out))
                }
                other => Err(Error::execution(format!(
                    "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => {
                let ref_t = reference_time(vs, t, self.start, self.end);
                self.with_selector(vs, |series, cursors| {
                    instant_at(series, ref_t, self.lookback, cursors)
                })?
                .map(StepValue::Vector)
            }
            Expr::MatrixSelector(ms) => {
                let ref_t = reference_time(&ms.vs, t, self.start, self.end);
                let range = ms.range.as_millis() as i64;
                self.with_selector(&ms.vs, |series, cursors| {
                    range_at(series, ref_t, range, cursors)
                })?
                .map(StepValue::Matrix)
            }
            Expr::Aggregate(a) => match self.aggregate_at(a, t) {
                Some(v) => Ok(StepValue::Vector(v)),
                None => aggregate::eval(self, a, t),
            },
            Expr::Binary(b) => binary::eval(self, b, t),
            Expr::Call(c) => match self.call_at(c, t) {
                Some(v) => Ok(StepValue::Vector(v)),
                None => functions::eval(self, c, t),
            },
            Expr::Subquery(sq) => self.subquery(sq, t).map(StepValue::Matrix),
            Expr::Extension(ext) => self.eval_rollup(ext.expr.as_any(), t),
        }
    }

    /// A subquery at `t`: the inner expression at every multiple of the step in
    /// `(ref - range, ref]`, where `ref` is `t` moved by `@` and offset.
    fn subquery(&self, sq: &SubqueryExpr, t: i64) -> Result<Vec<Series>> {
        let step = sq
            .step
            .map_or(DEFAULT_SUBQUERY_STEP_MS, |d| d.as_millis() as i64);
        if step <= 0 {
            return Err(Error::bad_data("subquery step must be positive"));
        }
        let ref_t = modified_time(&sq.at, &sq.offset, t, self.start, self.end);
        let first = ref_t - sq.range.as_millis() as i64;
        // The first multiple of the step after `first`, as Prometheus aligns it.
        let mut ts = step * (first / step);
        if ts <= first {
            ts += step;
        }
        let mut series: HashMap<Labels, Series> = HashMap::new();
        while ts <= ref_t {
            for s in self.eval_vector(&sq.expr, ts)? {
                let entry = series.entry(s.metric).or_default();
                match s.histogram {
                    Some(h) => entry.histograms.push((ts, h)),
                    None => entry.points.push((ts, s.value)),
                }
            }
            ts += step;
        }
        let mut out: Vec<Series> = series
            .into_iter()
            .map(|(metric, s)| Series { metric, ..s })
            .collect();
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(out)
    }

    /// The range vector of matrix selector `ms` at `t`, its points borrowed.
    pub(crate) fn range_views(&self, ms: &MatrixSelector, t: i64) -> Result<Vec<RangeView<'a>>> {
        let ref_t = reference_time(&ms.vs, t, self.start, self.end);
        let range = ms.range.as_millis() as i64;
        self.with_selector(&ms.vs, |series, cursors| {
            range_views(series, ref_t, range, cursors)
        })?
    }

    /// Evaluates `expr` and requires an instant vector.
    pub(crate) fn eval_vector(&self, expr: &Expr, t: i64) -> Result<Vec<Sample>> {
        match self.eval(expr, t)? {
            StepValue::Vector(v) => Ok(v),
            other => Err(Error::execution(format!(
                "expected instant vector, got {}",
                other.type_name()
            ))),
        }
    }

    /// Evaluates `expr` and requires a scalar.
    pub(crate) fn eval_scalar(&self, expr: &Expr, t: i64) -> Result<f64> {
        match self.eval(expr, t)? {
            StepValue::Scalar(v) => Ok(v),
            other => Err(Error::execution(format!(
                "expected scalar, got {}",
                other.type_name()
            ))),
        }
    }

    /// A node planned onto a rollup tier (`crate::plan`).
    fn eval_rollup(&self, node: &dyn std::any::Any, t: i64) -> Result<StepValue> {
        if let Some(c) = node.downcast_ref::<RollupCall>() {
            let ref_t = reference_time(&c.vs, t, self.start, self.end);
            let width = c.tier.width_ms();
            let keep_name = c.func == "last_over_time";
            let out = self
                .rollup_series(c.tier, &selector_key(&c.vs))?
                .iter()
                .filter_map(|s| {
                    let buckets = rollup::window(&s.points, ref_t, c.range_ms, width);
                    let labels = if keep_name {
                        s.labels.clone()
                    } else {
                        self.drop_name(&s.labels)
                    };
                    if rollup::has_histograms(buckets) {
                        if c.param.is_some() {
                            return None;
                        }
                        return Some(
                            match rollup::call_histograms(c.func, buckets, c.range_ms)? {
                                rollup::HistogramValue::Float(v) => Sample::float(labels, t, v),
                                rollup::HistogramValue::Histogram(h) => {
                                    Sample::histogram(labels, t, std::sync::Arc::new(h))
                                }
                            },
                        );
                    }
                    let value = match c.param {
                        Some(q) => rollup::quantile(q, buckets, || {
                            rollup::samples(&s.points, ref_t, c.range_ms)
                        })?,
                        None => rollup::call(c.func, buckets, c.range_ms)?,
                    };
                    Some(Sample::float(labels, t, value))
                })
                .collect::<Vec<_>>();
            check_unique(&out)?;
            if let Some(q) = c.param
                && !out.is_empty()
            {
                self.notes.rollup_quantile(c, q);
            }
            return Ok(StepValue::Vector(out));
        }
        if let Some(r) = node.downcast_ref::<RollupSelector>() {
            let ref_t = reference_time(&r.vs, t, self.start, self.end);
            let series = self.rollup_series(r.tier, &selector_key(&r.vs))?;
            return Ok(match r.range_ms {
                None => StepValue::Vector(
                    series
                        .iter()
                        .filter_map(|s| {
                            let width = r.tier.width_ms();
                            if rollup::has_histograms(&s.points) {
                                let (t_ms, h) = rollup::instant_histogram(
                                    &s.points,
                                    ref_t,
                                    self.lookback,
                                    width,
                                )?;
                                return Some(Sample::histogram(s.labels.clone(), t_ms, h));
                            }
                            let (t_ms, value) =
                                rollup::instant(&s.points, ref_t, self.lookback, width)?;
                            Some(Sample::float(s.labels.clone(), t_ms, value))
                        })
                        .collect(),
                ),
                Some(range) => StepValue::Matrix(
                    series
                        .iter()
                        .filter_map(|s| {
                            if rollup::has_histograms(&s.points) {
                                let histograms = rollup::histogram_samples(&s.points, ref_t, range);
                                return (!histograms.is_empty()).then(|| Series {
                                    metric: s.labels.clone(),
                                    points: Vec::new(),
                                    histograms,
                                });
                            }
                            let points = rollup::samples(&s.points, ref_t, range);
                            (!points.is_empty()).then(|| Series::floats(s.labels.clone(), points))
                        })
                        .collect(),
                ),
            });
        }
        Err(Error::internal("unknown extension expression"))
    }

    fn rollup_series(&self, tier: Tier, key: &str) -> Result<&[RollupSeries]> {
        self.fetched
            .rollup
            .get(&(tier, key.to_string()))
            .map(Vec::as_slice)
            .ok_or_else(|| {
                Error::internal(format!(
                    "selector {key} was not prefetched from {}",
                    tier.as_str()
                ))
            })
    }

    /// Runs `read` on the fetched series of selector node `vs` and its read positions.
    fn with_selector<R>(
        &self,
        vs: &VectorSelector,
        read: impl FnOnce(&'a [StoredSeries], &mut Cursors) -> R,
    ) -> Result<R> {
        let mut selectors = self.selectors.borrow_mut();
        let state = match selectors.entry(vs as *const VectorSelector as usize) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(SelectorState {
                series: self.series(&selector_key(vs))?,
                cursors: Cursors::default(),
            }),
        };
        Ok(read(state.series, &mut state.cursors))
    }

    fn series(&self, key: &str) -> Result<&'a [StoredSeries]> {
        self.fetched
            .raw
            .get(key)
            .map(Vec::as_slice)
            .ok_or_else(|| Error::internal(format!("selector {key} was not prefetched")))
    }
}

/// Functions the evaluator implements (every documented Prometheus 3 function for float
/// samples, the native-histogram ones answering nothing for floats).
const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "double_exponential_smoothing",
    "exp",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "hour",
    "idelta",
    "increase",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
    "vector",
    "year",
];

/// The names of the functions the evaluator implements.
#[cfg(test)]
pub(crate) fn function_names() -> &'static [&'static str] {
    FUNCTIONS
}

/// The functions Prometheus enables only with `promql-experimental-functions`.
const EXPERIMENTAL_FUNCTIONS: &[&str] = &[
    "double_exponential_smoothing",
    "mad_over_time",
    "sort_by_label",
    "sort_by_label_desc",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
];

/// Why `expr` cannot be evaluated, if it uses a function or aggregation outside what
/// the evaluator implements, or an experimental one `features` does not enable (in
/// Prometheus's words).
pub(crate) fn unsupported(expr: &Expr, features: &Features) -> Option<String> {
    let walk = |e: &Expr| unsupported(e, features);
    match expr {
        Expr::Call(c) => {
            let name = c.func.name;
            if !FUNCTIONS.contains(&name)
                || (EXPERIMENTAL_FUNCTIONS.contains(&name) && !features.experimental_functions)
            {
                return Some(format!("function {name:?} is not enabled"));
            }
            c.args.args.iter().find_map(|a| walk(a))
        }
        Expr::Aggregate(a) => {
            let op = a.op.to_string();
            if (op == "limitk" || op == "limit_ratio") && !features.experimental_functions {
                return Some(
                    "limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions"
                        .to_string(),
                );
            }
            a.param.as_deref().and_then(walk).or_else(|| walk(&a.expr))
        }
        Expr::Unary(u) => walk(&u.expr),
        Expr::Binary(b) => walk(&b.lhs).or_else(|| walk(&b.rhs)),
        Expr::Paren(p) => walk(&p.expr),
        Expr::Subquery(s) => walk(&s.expr),
        _ => None,
    }
}

/// `expr` with the parentheses around range vectors dropped: `rate((x[5m]))` is
/// `rate(x[5m])`, as Prometheus evaluates a parenthesised expression as what it wraps
/// (parentheses elsewhere only group, and the tree already says how).
pub(crate) fn unwrap_range_parens(expr: Expr) -> Expr {
    use promql_parser::parser::ParenExpr;
    let walk = |e: Box<Expr>| Box::new(unwrap_range_parens(*e));
    match expr {
        Expr::Paren(p) => match unwrap_range_parens(*p.expr) {
            inner @ (Expr::MatrixSelector(_) | Expr::Subquery(_)) => inner,
            inner => Expr::Paren(ParenExpr {
                expr: Box::new(inner),
            }),
        },
        Expr::Call(mut c) => {
            c.args.args = c.args.args.into_iter().map(walk).collect();
            Expr::Call(c)
        }
        Expr::Aggregate(mut a) => {
            a.expr = walk(a.expr);
            a.param = a.param.map(walk);
            Expr::Aggregate(a)
        }
        Expr::Unary(mut u) => {
            u.expr = walk(u.expr);
            Expr::Unary(u)
        }
        Expr::Binary(mut b) => {
            b.lhs = walk(b.lhs);
            b.rhs = walk(b.rhs);
            Expr::Binary(b)
        }
        Expr::Subquery(mut s) => {
            s.expr = walk(s.expr);
            Expr::Subquery(s)
        }
        other => other,
    }
}

/// `metric` without `__name__`, or only marked to lose it with `delayed` name removal.
pub(crate) fn drop_name(metric: &Labels, delayed: bool) -> Labels {
    if delayed {
        metric.name_to_drop()
    } else {
        metric.without_name()
    }
}

/// Fails when two samples of `v` have the same label set.
pub(crate) fn check_unique(v: &[Sample]) -> Result<()> {
    let mut seen = FxHashSet::with_capacity_and_hasher(v.len(), Default::default());
    for s in v {
        // A name marked for removal is still the series' name here.
        if !seen.insert(s.metric.name_kept_ref()) {
            return Err(Error::execution(
                "vector cannot contain metrics with the same labelset",
            ));
        }
    }
    Ok(())
}
