//! Results of series-major evaluation at every step: [`Table`] (an aggregation over a
//! source) and [`Columns`] (a range function that step-major evaluation reads).

use std::cmp::Ordering;

use promql_parser::parser::{AggregateExpr, Expr, LabelModifier};
use rustc_hash::FxHashMap;
use telltale_storage_api::METRIC_NAME;

use super::{CHECK_EVERY, Grid, Source, Sweep};
use crate::error::Result;
use crate::eval::Evaluator;
use crate::eval::aggregate::{KahanSum, Mean, group_labels};
use crate::eval::quantile::quantile;
use crate::labels::Labels;
use crate::value::{Sample, Series};

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
            out.push(Sample::float(metric.clone(), t, value))
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
                    out.push(Series::floats(metric.clone(), Vec::new()));
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
/// whose output labels are distinct and it has at most `budget` values at all steps
/// together; None otherwise.
pub(crate) fn aggregate(
    ev: &Evaluator<'_>,
    agg: &AggregateExpr,
    grid: Grid,
    budget: usize,
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
        sweep.run(i)?;
        if sweep.values.is_empty() {
            continue;
        }
        let labels = output.get(i).unwrap_or(&sweep.series[i].labels);
        // The members share one source, so all or none have their name marked for
        // removal (delayed name removal); a group by `__name__` inherits that.
        let key = group_labels(labels, &agg.modifier);
        let key = if labels.drops_name() {
            key.name_to_drop()
        } else {
            key
        };
        let g = *index.entry(key).or_insert_with_key(|key| {
            table.groups.push(key.clone());
            table
                .cells
                .extend(std::iter::repeat_n(Acc::Empty, grid.len));
            (table.groups.len() - 1) as u32
        });
        if table.cells.len() > budget {
            return Ok(None);
        }
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

/// A source's vector at every step of the grid, for step-major evaluation to read: per
/// step, `(series, value)` in series order.
pub(crate) struct Columns {
    labels: Vec<Labels>,
    steps: Vec<Vec<(u32, f64)>>,
}

impl Columns {
    /// The source's vector at step `k` (time `t`).
    pub(crate) fn vector(&self, k: usize, t: i64) -> Vec<Sample> {
        self.steps[k]
            .iter()
            .map(|&(i, value)| Sample::float(self.labels[i as usize].clone(), t, value))
            .collect()
    }
}

/// `source` at every step of `grid`, when its output labels are distinct and it holds
/// at most `budget` values at all steps together; None otherwise.
pub(crate) fn columns(
    ev: &Evaluator<'_>,
    source: Source<'_>,
    grid: Grid,
    budget: usize,
    check: &dyn Fn() -> Result<()>,
) -> Result<Option<Columns>> {
    let mut sweep = Sweep::new(ev, source, grid)?;
    if sweep.series.len().saturating_mul(grid.len) > budget {
        return Ok(None);
    }
    let Some(labels) = sweep.labels() else {
        return Ok(None);
    };
    let mut steps = vec![Vec::new(); grid.len];
    for i in 0..sweep.series.len() {
        if i % CHECK_EVERY == 0 {
            check()?;
        }
        sweep.run(i)?;
        for &(k, v) in &sweep.values {
            steps[k as usize].push((i as u32, v));
        }
    }
    Ok(Some(Columns { labels, steps }))
}
