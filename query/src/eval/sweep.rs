//! Series-major evaluation of a range query, as Prometheus' `rangeEval` evaluates range
//! functions: one pass over each series' points for all steps at once.
//!
//! ```text
//!  Source (a range function of a matrix selector, or an instant selector)
//!    |  per series: output labels once, then one sweep over its points with two
//!    |  moving indices (the window's start and end), values at every step
//!    v
//!  Table (an aggregation over a Source: sum, avg, count, group, min, max, stddev,
//!         stdvar, quantile, topk, bottomk; parameters number literals), each series'
//!         group found once, accumulated per step in series order
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
//! Anything else (subqueries, `@`, parameters, rollup tiers, functions of expressions)
//! is evaluated step by step (`Evaluator::eval`), reading tables where they exist.

use std::cmp::Ordering;

use promql_parser::parser::{AggregateExpr, Expr, LabelModifier, MatrixSelector, VectorSelector};
use rustc_hash::{FxHashMap, FxHashSet};
use telltale_storage_api::METRIC_NAME;

use super::Evaluator;
use super::aggregate::{KahanSum, Mean, group_labels};
use super::quantile::quantile;
use super::rate::{count_changes, extrapolate, instant_delta, linear_regression, over_time};
use super::selector::{StoredSeries, reference_time};
use crate::error::Result;
use crate::labels::Labels;
use crate::value::{Sample, Series, is_stale_nan};

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
            filtered: Vec::new(),
            resets: Vec::new(),
            values: Vec::with_capacity(grid.len),
        })
    }

    /// Whether the output labels of the series are distinct (when they are not,
    /// step-major evaluation says at which step that fails).
    fn distinct(&self) -> bool {
        // Stored series are distinct, and so are they without a name they all share.
        let first = self.series.first().and_then(|s| s.labels.get(METRIC_NAME));
        if self.source.keeps_name()
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
        } else {
            self.series
                .iter()
                .map(|s| s.labels.without_name())
                .collect()
        })
    }

    /// Computes series `i`'s values at every step into `self.values`.
    pub(crate) fn run(&mut self, i: usize) {
        self.values.clear();
        let points = &self.series[i].points;
        match self.source {
            Source::Instant(_) => instant(points, &self.refs, self.lookback, &mut self.values),
            Source::Range { func, .. } => {
                let points = if points.iter().any(|p| is_stale_nan(p.1)) {
                    self.filtered.clear();
                    self.filtered
                        .extend(points.iter().copied().filter(|p| !is_stale_nan(p.1)));
                    &self.filtered
                } else {
                    points
                };
                range(
                    func,
                    points,
                    &self.refs,
                    self.range,
                    &mut self.resets,
                    &mut self.values,
                );
            }
        }
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
            self.run(i);
            if !self.values.is_empty() {
                let points = self
                    .values
                    .iter()
                    .map(|&(k, v)| (grid.time(k as usize), v))
                    .collect();
                out.push(Series { metric, points });
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

/// The aggregations evaluated series-major (parameters: number literals).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Sum,
    Avg,
    Count,
    Group,
    Min,
    Max,
    Stddev,
    Stdvar,
    Quantile(f64),
    /// `topk` (false) or `bottomk` (true) of at most this many per group.
    Pick(usize, bool),
}

/// The largest `k` kept series-major: each group keeps its picks in order, inserting
/// each new one, so a large `k` is left to step-major evaluation.
const MAX_PICK: f64 = 100.0;

impl Op {
    fn of(agg: &AggregateExpr) -> Option<Self> {
        let param = match &agg.param {
            None => None,
            Some(p) => Some(literal(p)?),
        };
        Some(match (agg.op.to_string().as_str(), param) {
            ("sum", None) => Op::Sum,
            ("avg", None) => Op::Avg,
            ("count", None) => Op::Count,
            ("group", None) => Op::Group,
            ("min", None) => Op::Min,
            ("max", None) => Op::Max,
            ("stddev", None) => Op::Stddev,
            ("stdvar", None) => Op::Stdvar,
            ("quantile", Some(q)) => Op::Quantile(q),
            // NaN and overflowing `k` fail at every step: step-major says so.
            (op @ ("topk" | "bottomk"), Some(k)) if (..=MAX_PICK).contains(&k) => {
                Op::Pick(if k < 1.0 { 0 } else { k as usize }, op == "bottomk")
            }
            _ => return None,
        })
    }
}

/// A number literal, in parentheses or not.
fn literal(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::NumberLiteral(n) => Some(n.val),
        Expr::Paren(p) => literal(&p.expr),
        _ => None,
    }
}

/// One group's aggregate at one step, as `aggregate::eval` accumulates it.
#[derive(Debug, Clone)]
enum Acc {
    Empty,
    Sum(KahanSum),
    Mean(Mean),
    /// Count (also of `group`, whose value is 1).
    Count(f64),
    /// Min or max so far (NaN until a number arrives).
    Extreme(f64),
    /// Welford's running variance.
    Var {
        n: f64,
        mean: f64,
        m2: f64,
    },
    /// The values, in series order (`quantile`).
    Values(Vec<f64>),
    /// The picks so far, `(value, series)` in output order (`topk`, `bottomk`).
    Picks(Vec<(f64, u32)>),
}

impl Acc {
    fn add(&mut self, op: Op, v: f64, series: u32) {
        if let Acc::Empty = self {
            *self = match op {
                Op::Sum => Acc::Sum(KahanSum::default()),
                Op::Avg => Acc::Mean(Mean::default()),
                Op::Count | Op::Group => Acc::Count(0.0),
                Op::Min | Op::Max => Acc::Extreme(f64::NAN),
                Op::Stddev | Op::Stdvar => Acc::Var {
                    n: 0.0,
                    mean: 0.0,
                    m2: 0.0,
                },
                Op::Quantile(_) => Acc::Values(Vec::new()),
                Op::Pick(..) => Acc::Picks(Vec::new()),
            };
        }
        match self {
            Acc::Sum(k) => k.add(v),
            Acc::Mean(m) => m.add(v),
            Acc::Count(n) => *n += 1.0,
            Acc::Extreme(m) => {
                let better = if op == Op::Min { v < *m } else { v > *m };
                if better || m.is_nan() {
                    *m = v;
                }
            }
            Acc::Var { n, mean, m2 } => {
                *n += 1.0;
                let d = v - *mean;
                *mean += d / *n;
                *m2 += d * (v - *mean);
            }
            Acc::Values(values) => values.push(v),
            Acc::Picks(picks) => {
                let Op::Pick(k, bottom) = op else { return };
                // `aggregate::top_k`'s stable sort: after every pick it does not
                // order before (equal ones came from earlier series).
                let at = picks.partition_point(|p| pick_order(p.0, v, bottom).is_le());
                if at < k {
                    picks.insert(at, (v, series));
                    picks.truncate(k);
                }
            }
            Acc::Empty => {}
        }
    }

    fn value(&self, op: Op) -> f64 {
        match self {
            Acc::Sum(k) => k.value(),
            Acc::Mean(m) => m.value(),
            Acc::Count(_) if op == Op::Group => 1.0,
            Acc::Count(n) => *n,
            Acc::Extreme(m) => *m,
            Acc::Var { n, m2, .. } if op == Op::Stddev => (m2 / n).sqrt(),
            Acc::Var { n, m2, .. } => m2 / n,
            Acc::Values(values) => match op {
                Op::Quantile(q) => quantile(q, values.clone()),
                _ => f64::NAN,
            },
            Acc::Empty | Acc::Picks(_) => f64::NAN,
        }
    }
}

/// The order of `topk` (or `bottomk`) picks: largest (smallest) first, NaN last.
fn pick_order(a: f64, b: f64, bottom: bool) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ if bottom => a.total_cmp(&b),
        _ => b.total_cmp(&a),
    }
}

/// An aggregation's value at every step of the grid.
pub(crate) struct Table {
    op: Op,
    grid: Grid,
    groups: Vec<Labels>,
    /// The output labels of each series (`topk` and `bottomk` return series).
    members: Vec<Labels>,
    /// Per step, the groups with a value in order of first appearance (the order of a
    /// step-major aggregation's output).
    order: Vec<Vec<u32>>,
    /// `grid.len` accumulators per group.
    cells: Vec<Acc>,
}

impl Table {
    fn cell(&self, g: u32, k: usize) -> &Acc {
        &self.cells[g as usize * self.grid.len + k]
    }

    /// Calls `f(labels, value)` for each sample of step `k`, in step-major order.
    fn each<'s>(&'s self, k: usize, mut f: impl FnMut(&'s Labels, f64)) {
        for &g in &self.order[k] {
            match self.cell(g, k) {
                Acc::Picks(picks) => {
                    for &(v, i) in picks {
                        f(&self.members[i as usize], v);
                    }
                }
                cell => f(&self.groups[g as usize], cell.value(self.op)),
            }
        }
    }

    /// The aggregation's vector at step `k` (time `t`).
    pub(crate) fn vector(&self, k: usize, t: i64) -> Vec<Sample> {
        let mut out = Vec::with_capacity(self.order[k].len());
        self.each(k, |metric, value| {
            out.push(Sample {
                metric: metric.clone(),
                t_ms: t,
                value,
            })
        });
        out
    }

    /// Every output series with a value at some step, as the matrix a range query
    /// returns (sorted by labels).
    pub(crate) fn matrix(&self) -> Vec<Series> {
        let mut index: FxHashMap<&Labels, usize> = FxHashMap::default();
        let mut out: Vec<Series> = Vec::new();
        for k in 0..self.grid.len {
            let t = self.grid.time(k);
            self.each(k, |metric, value| {
                let i = *index.entry(metric).or_insert_with(|| {
                    out.push(Series {
                        metric: metric.clone(),
                        points: Vec::new(),
                    });
                    out.len() - 1
                });
                out[i].points.push((t, value));
            });
        }
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        out
    }
}

/// Aggregation `agg` at every step of `grid`, when it is one [`Op`] over a source
/// whose output labels are distinct; None otherwise.
pub(crate) fn aggregate(
    ev: &Evaluator<'_>,
    agg: &AggregateExpr,
    grid: Grid,
    check: &dyn Fn() -> Result<()>,
) -> Result<Option<Table>> {
    let Some(op) = Op::of(agg) else {
        return Ok(None);
    };
    let Some(source) = Source::of(&agg.expr) else {
        return Ok(None);
    };
    let mut sweep = Sweep::new(ev, source, grid)?;
    // The group of a series depends only on its labels: with `by` not naming the metric
    // name, on the stored labels (no output label set to build first).
    let by_stored = match &agg.modifier {
        Some(LabelModifier::Include(ls)) => !ls.labels.iter().any(|l| l == METRIC_NAME),
        _ => true,
    };
    let output = if by_stored && !matches!(op, Op::Pick(..)) {
        if !sweep.distinct() {
            return Ok(None);
        }
        Vec::new()
    } else {
        match sweep.labels() {
            Some(l) => l,
            None => return Ok(None),
        }
    };
    let mut table = Table {
        op,
        grid,
        groups: Vec::new(),
        members: Vec::new(),
        order: vec![Vec::new(); grid.len],
        cells: Vec::new(),
    };
    let mut index: FxHashMap<Labels, u32> = FxHashMap::default();
    for i in 0..sweep.series.len() {
        if i % CHECK_EVERY == 0 {
            check()?;
        }
        sweep.run(i);
        if sweep.values.is_empty() {
            continue;
        }
        let labels = output.get(i).unwrap_or(&sweep.series[i].labels);
        let key = group_labels(labels, &agg.modifier);
        let g = *index.entry(key).or_insert_with_key(|key| {
            table.groups.push(key.clone());
            table
                .cells
                .extend(std::iter::repeat_n(Acc::Empty, grid.len));
            (table.groups.len() - 1) as u32
        });
        let cells = &mut table.cells[g as usize * grid.len..][..grid.len];
        for &(k, v) in &sweep.values {
            let cell = &mut cells[k as usize];
            if let Acc::Empty = cell {
                table.order[k as usize].push(g);
            }
            cell.add(op, v, i as u32);
        }
    }
    if matches!(op, Op::Pick(..)) {
        table.members = output;
    }
    Ok(Some(table))
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
