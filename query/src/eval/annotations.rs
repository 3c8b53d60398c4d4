//! Prometheus's annotations: the `PromQL warning: ...` and `PromQL info: ...` messages a
//! query returns beside its result (`warnings` and `infos` in the API response), each
//! ending with the `(line:column)` of the argument it is about, as Prometheus 3 words
//! them (`util/annotations`).

use promql_parser::parser::{AggregateExpr, BinaryExpr, Call, Expr};
use rustc_hash::FxHashSet;
use telltale_storage_api::METRIC_NAME;
use telltale_storage_api::histogram::HistogramError;

use super::selector::{Fetched, reference_time, selector_key};
use super::sweep::Grid;
// Go's `%g` for the values annotations quote.
use crate::plan::RollupCall;
use crate::position::{Sites, line_col};
use crate::value::is_stale_nan;
use telltale_storage_api::histogram::text::go_g;

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

    /// A classic-histogram bucket whose `le` is missing or not a number, read by
    /// argument `arg` of `call`.
    pub(crate) fn bad_bucket_at(&self, call: &Call, arg: usize, metric_name: &str, le: &str) {
        let name = if metric_name.is_empty() {
            String::new()
        } else {
            format!(" for metric name {metric_name:?}")
        };
        self.add(
            false,
            format!(
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of {le:?}{name}{}",
                self.at(call, arg, false)
            ),
        );
    }

    /// ` (line:col)` where `node` starts, or nothing when it was not found.
    fn at_start<T>(&self, node: &T) -> String {
        match self.sites.start(node as *const T as usize) {
            Some(pos) => format!(" ({})", line_col(&self.query, pos)),
            None => String::new(),
        }
    }

    /// A native-histogram note about a series read by argument `arg` of `call` (the
    /// range argument's position without its parentheses when `inner`).
    pub(crate) fn series_note(
        &self,
        call: &Call,
        arg: usize,
        inner: bool,
        note: SeriesNote,
        metric_name: &str,
    ) {
        let (info, text) = note.text(metric_name);
        self.add(info, format!("{text}{}", self.at(call, arg, inner)));
    }

    /// A note about a series an aggregation read (at its aggregated expression, as
    /// Prometheus's `e.Expr.PositionRange()`).
    pub(crate) fn aggregation_series_note(
        &self,
        agg: &AggregateExpr,
        note: SeriesNote,
        metric_name: &str,
    ) {
        let (info, text) = note.text(metric_name);
        let arg = usize::from(agg.param.is_some());
        self.add(info, format!("{text}{}", self.at(agg, arg, false)));
    }

    /// `PromQL info: ignored histogram in <op> aggregation`: at the aggregated
    /// expression, or for `topk` and `bottomk` at the aggregation itself.
    pub(crate) fn histogram_ignored(&self, agg: &AggregateExpr, op: &str) {
        let at = if matches!(op, "topk" | "bottomk") {
            self.at_start(agg)
        } else {
            self.at(agg, usize::from(agg.param.is_some()), false)
        };
        self.add(
            true,
            format!("PromQL info: ignored histogram in {op} aggregation{at}"),
        );
    }

    /// `sum` or `avg` of a group holding floats and histograms.
    pub(crate) fn mixed_aggregation(&self, agg: &AggregateExpr) {
        self.add(
            false,
            format!(
                "PromQL warning: encountered a mix of histograms and floats for aggregation{}",
                self.at(agg, usize::from(agg.param.is_some()), false)
            ),
        );
    }

    /// A binary operator between a histogram and an operand it does not apply to
    /// (an info), or between histograms of incompatible bucket layouts (a warning).
    pub(crate) fn binop_note(&self, b: &BinaryExpr, note: BinopNote) {
        let op = b.op.to_string();
        let (info, text) = match note {
            BinopNote::IncompatibleTypes { lhs, rhs } => (
                true,
                format!(
                    "PromQL info: incompatible sample types encountered for binary operator {op:?}: {lhs} {op} {rhs}"
                ),
            ),
            BinopNote::IncompatibleLayout => (
                false,
                format!(
                    "PromQL warning: incompatible bucket layout encountered for binary operator {op}"
                ),
            ),
        };
        self.add(info, format!("{text}{}", self.at_start(b)));
    }

    /// Classic buckets of `histogram_quantile` whose counts were not monotonic.
    pub(crate) fn forced_monotonicity(&self, call: &Call, metric_name: &str) {
        let name = if metric_name.is_empty() {
            String::new()
        } else {
            format!(" for metric name {metric_name:?}")
        };
        self.add(
            true,
            format!(
                "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile){name}{}",
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

/// The native-histogram annotations about one series (Prometheus's
/// `util/annotations`), each naming the series' metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SeriesNote {
    /// A range holding floats and histograms, for a function that takes one kind.
    MixedFloatsHistograms,
    /// A gauge histogram where a counter is expected (`rate`, `increase`, `irate`).
    NotCounter,
    /// A counter histogram where a gauge is expected (`delta`, `idelta`).
    NotGauge,
    /// Histograms of exponential and of custom buckets together.
    MixedExponentialCustom,
    /// Histograms of custom buckets with different bounds.
    IncompatibleCustomBuckets,
    /// Histograms ignored by a function of floats over a range holding both.
    IgnoredInMixedRange,
    /// Classic buckets and a native histogram of the same series.
    MixedClassicNative,
}

impl SeriesNote {
    /// Whether it is an info, and its text.
    fn text(self, name: &str) -> (bool, String) {
        let w = "PromQL warning:";
        match self {
            SeriesNote::MixedFloatsHistograms => (
                false,
                format!("{w} encountered a mix of histograms and floats for metric name {name:?}"),
            ),
            SeriesNote::NotCounter => (
                false,
                format!("{w} this native histogram metric is not a counter: {name:?}"),
            ),
            SeriesNote::NotGauge => (
                false,
                format!("{w} this native histogram metric is not a gauge: {name:?}"),
            ),
            SeriesNote::MixedExponentialCustom => (
                false,
                format!(
                    "{w} vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"
                ),
            ),
            SeriesNote::IncompatibleCustomBuckets => (
                false,
                format!(
                    "{w} vector contains histograms with incompatible custom buckets for metric name {name:?}"
                ),
            ),
            SeriesNote::IgnoredInMixedRange => (
                true,
                format!(
                    "PromQL info: ignored histograms in a range containing both floats and histograms for metric name {name:?}"
                ),
            ),
            SeriesNote::MixedClassicNative => {
                let named = if name.is_empty() {
                    String::new()
                } else {
                    format!(" for metric name {name:?}")
                };
                (
                    false,
                    format!("{w} vector contains a mix of classic and native histograms{named}"),
                )
            }
        }
    }

    /// The note for histograms that could not be combined.
    pub(crate) fn of_error(e: &HistogramError) -> Self {
        match e {
            HistogramError::IncompatibleBounds => SeriesNote::IncompatibleCustomBuckets,
            _ => SeriesNote::MixedExponentialCustom,
        }
    }
}

/// Why a binary operator gave no result for a pair of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinopNote {
    /// The operator does not apply to these sample types (`"float"`, `"histogram"`).
    IncompatibleTypes {
        lhs: &'static str,
        rhs: &'static str,
    },
    /// Two histograms whose bucket layouts cannot be combined.
    IncompatibleLayout,
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
