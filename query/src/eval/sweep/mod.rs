//! Series-major evaluation of a range query, as Prometheus' `rangeEval` evaluates range
//! functions: one pass over each series' points for all steps at once.
//!
//! ```text
//!  Source (a range function of a matrix selector, or an instant selector; no `@`)
//!    |  per series: output labels once, then one sweep over its points with two
//!    |  moving indices (the window's start and end), values at every step
//!    v
//!  Table (table.rs: an aggregation over a Source: sum, avg, count, group, min, max,
//!         stddev, stdvar, quantile, topk, bottomk; parameters number literals), each
//!         series' group found once, accumulated per step in series order
//!  Columns (table.rs: a range function anywhere else), each step's values
//!    |
//!    |-- at the top of the query: the result matrix, no per-step vectors
//!    `-- elsewhere: the vector at a step, when step-major evaluation reaches the node
//! ```
//!
//! Results are bit for bit those of step-major evaluation: every window is the same
//! slice, every accumulation adds the same values in the same order, and the samples of
//! a step's vector come in the order step-major evaluation gives them. Counter resets are
//! found once per series; a window's correction adds only the resets inside it, in order,
//! as `extrapolated_rate` adds them while it scans the window.
//!
//! Anything else (subqueries and what they contain, `@`, parameters other than number
//! literals, nodes planned onto rollup tiers, functions of expressions, binary operators,
//! and sources reading series that hold native histograms) is evaluated step by step
//! (`Evaluator::eval`), reading tables and columns where they exist. So are sources whose output labels collide (two series differing only in the
//! name a function drops), where step-major evaluation reports the error at its step,
//! and tables or columns over the query's sample budget.

mod table;
#[cfg(test)]
mod tests;

use promql_parser::parser::{AggregateExpr, Call, Expr, MatrixSelector, VectorSelector};
use rustc_hash::FxHashSet;
use telltale_storage_api::METRIC_NAME;

use super::Evaluator;
use super::rate::{count_changes, extrapolate, instant_delta, linear_regression, over_time};
use super::selector::{StoredSeries, reference_time};
use crate::error::Result;
use crate::labels::Labels;
use crate::value::{Sample, Series, is_stale_nan};
pub(crate) use table::{Columns, Table};

/// How many series are swept between two deadline / cancellation checks.
const CHECK_EVERY: usize = 256;

/// The steps of a range query: `from`, `from + step`, ..., `len` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grid {
    pub from: i64,
    pub step: i64,
    pub len: usize,
}

impl Grid {
    /// The steps `from..=to` (`step` > 0).
    pub(crate) fn new(from: i64, to: i64, step: i64) -> Self {
        let len = if to < from {
            0
        } else {
            ((to - from) / step + 1) as usize
        };
        Grid { from, step, len }
    }

    /// The time of step `k`.
    pub(crate) fn time(&self, k: usize) -> i64 {
        self.from + k as i64 * self.step
    }

    /// Which step `t` is, if it is one.
    pub(crate) fn index(&self, t: i64) -> Option<usize> {
        if t < self.from || (t - self.from) % self.step != 0 {
            return None;
        }
        let k = ((t - self.from) / self.step) as usize;
        (k < self.len).then_some(k)
    }
}

/// The range functions evaluated series-major (one argument, a matrix selector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    Changes,
    Resets,
    Deriv,
    /// An `*_over_time` function (not `quantile_over_time`, which has a parameter).
    OverTime(&'static str),
}

impl Func {
    fn of(name: &'static str) -> Option<Self> {
        Some(match name {
            "rate" => Func::Rate,
            "increase" => Func::Increase,
            "delta" => Func::Delta,
            "irate" => Func::Irate,
            "idelta" => Func::Idelta,
            "changes" => Func::Changes,
            "resets" => Func::Resets,
            "deriv" => Func::Deriv,
            "avg_over_time" | "min_over_time" | "max_over_time" | "sum_over_time"
            | "count_over_time" | "last_over_time" | "present_over_time" | "stddev_over_time"
            | "stdvar_over_time" => Func::OverTime(name),
            _ => return None,
        })
    }

    fn is_counter(self) -> bool {
        matches!(self, Func::Rate | Func::Increase)
    }
}

/// An expression whose value at every step is computed one series at a time.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Source<'e> {
    /// A range function of a matrix selector (`rate(x[5m])`, `max_over_time(x[1h])`).
    Range { func: Func, ms: &'e MatrixSelector },
    /// An instant vector selector.
    Instant(&'e VectorSelector),
}

impl<'e> Source<'e> {
    /// `expr` as a source, if it is one (without `@`, which pins every step to one time).
    pub(crate) fn of(expr: &'e Expr) -> Option<Self> {
        match expr {
            Expr::Paren(p) => Self::of(&p.expr),
            Expr::VectorSelector(vs) if vs.at.is_none() => Some(Source::Instant(vs)),
            Expr::Call(c) if c.args.args.len() == 1 => {
                let func = Func::of(c.func.name)?;
                match c.args.args[0].as_ref() {
                    Expr::MatrixSelector(ms) if ms.vs.at.is_none() => {
                        Some(Source::Range { func, ms })
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn selector(&self) -> &'e VectorSelector {
        match self {
            Source::Range { ms, .. } => &ms.vs,
            Source::Instant(vs) => vs,
        }
    }

    /// Whether the output keeps the metric name (selectors and `last_over_time`).
    fn keeps_name(&self) -> bool {
        matches!(
            self,
            Source::Instant(_)
                | Source::Range {
                    func: Func::OverTime("last_over_time"),
                    ..
                }
        )
    }
}

/// One source over the grid: its series, and buffers reused from series to series.
pub(crate) struct Sweep<'a, 'e> {
    source: Source<'e>,
    pub series: &'a [StoredSeries],
    /// Each step's reference time (its time moved by the selector's offset).
    refs: Vec<i64>,
    range: i64,
    lookback: i64,
    /// Names are marked for removal rather than removed (delayed name removal).
    delayed_name_removal: bool,
    /// The current series' points, decoded from its chunks (one series at a time).
    decoded: Vec<(i64, f64)>,
    /// The current series' points without staleness markers, when it has any.
    filtered: Vec<(i64, f64)>,
    /// Where the current series' counter resets are (indices into its points).
    resets: Vec<usize>,
    /// The current series' values: `(step, value)` for the steps that have one.
    pub values: Vec<(u32, f64)>,
}

impl<'a, 'e> Sweep<'a, 'e> {
    pub(crate) fn new(ev: &Evaluator<'a>, source: Source<'e>, grid: Grid) -> Result<Self> {
        let vs = source.selector();
        let series = ev.with_selector(vs, |series, _| series)?;
        let refs = (0..grid.len)
            .map(|k| reference_time(vs, grid.time(k), ev.start, ev.end))
            .collect();
        let range = match source {
            Source::Range { ms, .. } => ms.range.as_millis() as i64,
            Source::Instant(_) => 0,
        };
        Ok(Sweep {
            source,
            series,
            refs,
            range,
            lookback: ev.lookback,
            delayed_name_removal: ev.delayed_name_removal,
            decoded: Vec::new(),
            filtered: Vec::new(),
            resets: Vec::new(),
            values: Vec::with_capacity(grid.len),
        })
    }

    /// Whether the source can be swept: its series hold no native histograms (left to
    /// step-major evaluation) and their output labels are distinct (when they are not,
    /// step-major evaluation says at which step that fails).
    fn distinct(&self) -> bool {
        if self.series.iter().any(StoredSeries::has_histograms) {
            return false;
        }
        // Stored series are distinct, and so are they without a name they all share.
        let first = self.series.first().and_then(|s| s.labels.get(METRIC_NAME));
        // A name only marked for removal still tells them apart.
        if self.source.keeps_name()
            || self.delayed_name_removal
            || self
                .series
                .iter()
                .all(|s| s.labels.get(METRIC_NAME) == first)
        {
            return true;
        }
        let mut seen = FxHashSet::with_capacity_and_hasher(self.series.len(), Default::default());
        self.series
            .iter()
            .all(|s| seen.insert(s.labels.without_name()))
    }

    /// The output labels of every series, or None when two are equal.
    fn labels(&self) -> Option<Vec<Labels>> {
        if !self.distinct() {
            return None;
        }
        Some(if self.source.keeps_name() {
            self.series.iter().map(|s| s.labels.clone()).collect()
        } else if self.delayed_name_removal {
            self.series
                .iter()
                .map(|s| s.labels.name_to_drop())
                .collect()
        } else {
            self.series
                .iter()
                .map(|s| s.labels.without_name())
                .collect()
        })
    }

    /// Computes series `i`'s values at every step into `self.values`, its chunks decoded
    /// into a buffer reused from series to series.
    pub(crate) fn run(&mut self, i: usize) -> Result<()> {
        let Sweep {
            source,
            series,
            refs,
            range: width,
            lookback,
            decoded,
            filtered,
            resets,
            values,
            ..
        } = self;
        values.clear();
        let points = series[i].decode_into(decoded)?;
        match *source {
            Source::Instant(_) => instant(points, refs, *lookback, values),
            Source::Range { func, .. } => {
                let points = if points.iter().any(|p| is_stale_nan(p.1)) {
                    filtered.clear();
                    filtered.extend(points.iter().copied().filter(|p| !is_stale_nan(p.1)));
                    filtered
                } else {
                    points
                };
                range(func, points, refs, *width, resets, values);
            }
        }
        Ok(())
    }

    /// Every series with a value at some step, as the matrix a range query returns
    /// (sorted by labels); None when two series have the same output labels.
    pub(crate) fn matrix(
        mut self,
        grid: Grid,
        check: &dyn Fn() -> Result<()>,
    ) -> Result<Option<Vec<Series>>> {
        let Some(labels) = self.labels() else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for (i, metric) in labels.into_iter().enumerate() {
            if i % CHECK_EVERY == 0 {
                check()?;
            }
            self.run(i)?;
            if !self.values.is_empty() {
                let points = self
                    .values
                    .iter()
                    .map(|&(k, v)| (grid.time(k as usize), v))
                    .collect();
                out.push(Series::floats(metric, points));
            }
        }
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(Some(out))
    }
}

/// An instant selector at every reference time: the latest point within the lookback,
/// unless it is a staleness marker (as `selector::instant_at`).
fn instant(points: &[(i64, f64)], refs: &[i64], lookback: i64, out: &mut Vec<(u32, f64)>) {
    let mut i = 0;
    for (k, &ref_t) in refs.iter().enumerate() {
        while i < points.len() && points[i].0 <= ref_t {
            i += 1;
        }
        if i == 0 {
            continue;
        }
        let (t, v) = points[i - 1];
        if t > ref_t - lookback && !is_stale_nan(v) {
            out.push((k as u32, v));
        }
    }
}

/// Range function `func` over the window `(ref - range, ref]` at every reference time,
/// `points` free of staleness markers. The window's ends only move forward.
fn range(
    func: Func,
    points: &[(i64, f64)],
    refs: &[i64],
    range: i64,
    resets: &mut Vec<usize>,
    out: &mut Vec<(u32, f64)>,
) {
    let counter = func.is_counter();
    if counter {
        resets.clear();
        resets.extend((1..points.len()).filter(|&i| points[i].1 < points[i - 1].1));
    }
    let (mut lo, mut hi, mut next_reset) = (0, 0, 0);
    for (k, &ref_t) in refs.iter().enumerate() {
        let start = ref_t - range;
        while lo < points.len() && points[lo].0 <= start {
            lo += 1;
        }
        hi = hi.max(lo);
        while hi < points.len() && points[hi].0 <= ref_t {
            hi += 1;
        }
        if hi == lo {
            continue;
        }
        let w = &points[lo..hi];
        let value = match func {
            Func::Rate | Func::Increase | Func::Delta if w.len() < 2 => None,
            Func::Rate | Func::Increase | Func::Delta => {
                let mut result = w[w.len() - 1].1 - w[0].1;
                if counter {
                    // `extrapolated_rate`'s scan, in the same order: the first point
                    // against zero, then each reset inside the window.
                    if w[0].1 < 0.0 {
                        result += 0.0;
                    }
                    while next_reset < resets.len() && resets[next_reset] <= lo {
                        next_reset += 1;
                    }
                    for &i in resets[next_reset..].iter().take_while(|&&i| i < hi) {
                        result += points[i - 1].1;
                    }
                }
                Some(extrapolate(
                    w,
                    result,
                    start,
                    ref_t,
                    counter,
                    func == Func::Rate,
                ))
            }
            Func::Irate => instant_delta(w, true),
            Func::Idelta => instant_delta(w, false),
            Func::Changes => Some(count_changes(w, false)),
            Func::Resets => Some(count_changes(w, true)),
            Func::Deriv => (w.len() >= 2).then(|| linear_regression(w, w[0].0).0),
            Func::OverTime(name) => Some(over_time(name, w)),
        };
        if let Some(v) = value {
            out.push((k as u32, v));
        }
    }
}

/// A node's key in the evaluator's tables: its address (the query's expression outlives
/// the evaluator).
fn node_key<T>(node: &T) -> usize {
    node as *const T as usize
}

impl Evaluator<'_> {
    /// A range query over `grid`, series-major where it can be: the whole result when
    /// `expr` is a [`Source`] or an aggregation [`table::aggregate`] takes; otherwise
    /// None, after computing the tables and columns that step-major evaluation of `expr`
    /// then reads (not inside subqueries, which step at their own times). A table or a
    /// column holds at most `budget` values; `check` fails when the query ran out of time or was
    /// abandoned.
    pub(crate) fn sweep(
        &mut self,
        expr: &Expr,
        grid: Grid,
        budget: usize,
        check: &dyn Fn() -> Result<()>,
    ) -> Result<Option<Vec<Series>>> {
        self.grid = Some(grid);
        if let Some(source) = Source::of(expr)
            && let Some(m) = Sweep::new(self, source, grid)?.matrix(grid, check)?
        {
            return Ok(Some(m));
        }
        self.prepare(expr, grid, budget, check)?;
        let mut top = expr;
        while let Expr::Paren(p) = top {
            top = &p.expr;
        }
        Ok(match top {
            Expr::Aggregate(a) => self.tables.get(&node_key(a)).map(Table::matrix),
            _ => None,
        })
    }

    fn prepare(
        &mut self,
        expr: &Expr,
        grid: Grid,
        budget: usize,
        check: &dyn Fn() -> Result<()>,
    ) -> Result<()> {
        match expr {
            Expr::Aggregate(a) => match table::aggregate(self, a, grid, budget, check)? {
                Some(table) => {
                    self.tables.insert(node_key(a), table);
                }
                None => {
                    if let Some(p) = &a.param {
                        self.prepare(p, grid, budget, check)?;
                    }
                    self.prepare(&a.expr, grid, budget, check)?;
                }
            },
            Expr::Call(c) => match Source::of(expr) {
                Some(source @ Source::Range { .. }) => {
                    if let Some(columns) = table::columns(self, source, grid, budget, check)? {
                        self.columns.insert(node_key(c), columns);
                    }
                }
                _ => {
                    for a in &c.args.args {
                        self.prepare(a, grid, budget, check)?;
                    }
                }
            },
            Expr::Paren(p) => self.prepare(&p.expr, grid, budget, check)?,
            Expr::Unary(u) => self.prepare(&u.expr, grid, budget, check)?,
            Expr::Binary(b) => {
                self.prepare(&b.lhs, grid, budget, check)?;
                self.prepare(&b.rhs, grid, budget, check)?;
            }
            Expr::Subquery(_)
            | Expr::NumberLiteral(_)
            | Expr::StringLiteral(_)
            | Expr::VectorSelector(_)
            | Expr::MatrixSelector(_)
            | Expr::Extension(_) => {}
        }
        Ok(())
    }

    /// Aggregation `a`'s vector at `t`, if it has a table and `t` is a step.
    pub(crate) fn aggregate_at(&self, a: &AggregateExpr, t: i64) -> Option<Vec<Sample>> {
        let table = self.tables.get(&node_key(a))?;
        Some(table.vector(self.grid?.index(t)?, t))
    }

    /// Call `c`'s vector at `t`, if it has columns and `t` is a step.
    pub(crate) fn call_at(&self, c: &Call, t: i64) -> Option<Vec<Sample>> {
        let columns = self.columns.get(&node_key(c))?;
        Some(columns.vector(self.grid?.index(t)?, t))
    }
}
