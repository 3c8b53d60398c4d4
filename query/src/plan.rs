//! Rollup-aware planning: which storage tier answers each selector of a query.
//!
//! ```text
//!  Info (retention, completeness per tier) --TierLayout--+
//!  query start/end/step (subquery steps inside)          +--choose()--> Tier per use
//!  how the selector is used (instant, rate(x[1h]), ...) -+
//! ```
//!
//! [`plan_tiers`] rewrites the parsed expression: a use answered from a rollup tier
//! becomes an extension node ([`RollupCall`] for `rate`/`increase`/`*_over_time` over a
//! whole number of buckets — `quantile_over_time` when its φ is a number literal — [`RollupSelector`] for an instant selector read from the
//! buckets' `last`, or a range read as downsampled samples). Uses left as ordinary
//! selectors read raw samples.
//!
//! Rules (issue 5): raw when the step is under a minute or the selected time range lies
//! within raw retention (0 = unlimited, always raw); else one-minute rollups when the step
//! is under an hour and the range lies within their retention; else one-hour rollups.
//! An instant query has no step: the tier is the finest whose retention holds the range.
//! A function that cannot be computed from rollup aggregates (`irate`, `deriv`, ...,
//! `quantile_over_time` with a φ that is not a number literal) or whose range is not a
//! whole number of buckets moves to a
//! finer rollup tier that can, else to the finest tier holding the data, read as
//! downsampled samples (each bucket's `last` at its timestamp).
//!
//! Semantics on rollups (documented differences from raw evaluation): windows are whole
//! buckets ending in `(t - range, t]`; `rate`/`increase` are the sum of the stored
//! counter-aware increases (`rate` divides by the range), without Prometheus'
//! extrapolation; an instant selector reads the newest bucket whose last sample is at or
//! before `t`, within the lookback plus one bucket width, and staleness markers are not
//! visible. `quantile_over_time` merges the buckets' quantile sketches
//! (`telltale_storage_api::sketch`): each rank's value is within α = 1% (relative) of the
//! true one, so the answer is within 1% of Prometheus's (of the magnitudes it interpolates
//! when they straddle zero); the smallest and largest values are exact. A window holding a
//! bucket without a sketch (rolled up before sketches existed) is answered from the
//! buckets read as downsampled samples, as before sketches.

use std::any::Any;
use std::sync::Arc;

use promql_parser::parser::ast::ExtensionExpr;
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{
    AggregateExpr, BinaryExpr, Expr, Extension, MatrixSelector, ParenExpr, SubqueryExpr, UnaryExpr,
    VectorSelector,
};
use telltale_storage_api::{InfoResponse, Resolution};

use crate::eval::DEFAULT_SUBQUERY_STEP_MS;
use crate::eval::selector::{modified_time, reference_time};

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;

/// A storage tier: raw samples or a rollup resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    Raw,
    OneMinute,
    OneHour,
}

impl Tier {
    /// `raw`, `1m` or `1h` (the `X-Telltale-Tier` header's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::OneMinute => "1m",
            Tier::OneHour => "1h",
        }
    }

    /// Bucket width in milliseconds (0 for raw).
    pub fn width_ms(self) -> i64 {
        match self {
            Tier::Raw => 0,
            Tier::OneMinute => MINUTE_MS,
            Tier::OneHour => HOUR_MS,
        }
    }

    /// The storage contract's resolution of this tier.
    pub fn resolution(self) -> Resolution {
        match self {
            Tier::Raw => Resolution::Raw,
            Tier::OneMinute => Resolution::OneMinute,
            Tier::OneHour => Resolution::OneHour,
        }
    }
}

/// What storage holds: retention per tier relative to the newest sample, and up to
/// where each rollup tier is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierLayout {
    /// Retention per tier (raw, 1m, 1h); 0 = unlimited.
    pub retention_ms: [i64; 3],
    /// Buckets starting before this are complete (raw: the newest sample).
    pub complete_until_ms: [i64; 3],
}

impl TierLayout {
    /// Every tier unlimited and complete: everything is answered from raw samples.
    pub fn unlimited() -> Self {
        TierLayout {
            retention_ms: [0; 3],
            complete_until_ms: [i64::MAX; 3],
        }
    }

    /// The layout storage reports (tiers it does not list are taken as absent: their
    /// retention is zero-length in effect, so they are never chosen).
    pub fn from_info(info: &InfoResponse) -> Self {
        let mut layout = TierLayout {
            retention_ms: [0, 1, 1],
            complete_until_ms: [0; 3],
        };
        for t in &info.tiers {
            let i = match Resolution::try_from(t.resolution) {
                Ok(Resolution::Raw) => 0,
                Ok(Resolution::OneMinute) => 1,
                Ok(Resolution::OneHour) => 2,
                Err(_) => continue,
            };
            layout.retention_ms[i] = t.retention_ms;
            layout.complete_until_ms[i] = t.complete_until_ms;
        }
        layout
    }

    fn index(tier: Tier) -> usize {
        match tier {
            Tier::Raw => 0,
            Tier::OneMinute => 1,
            Tier::OneHour => 2,
        }
    }

    /// True when `tier` still holds data from `from_ms` on.
    pub fn covers(&self, tier: Tier, from_ms: i64) -> bool {
        let retention = self.retention_ms[Self::index(tier)];
        let newest = self.complete_until_ms[0];
        retention == 0 || from_ms >= newest.saturating_sub(retention)
    }

    /// Buckets of `tier` starting before this are complete in storage.
    pub fn complete_until(&self, tier: Tier) -> i64 {
        self.complete_until_ms[Self::index(tier)]
    }
}

/// How a selector is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Usage<'a> {
    /// An instant selector (`x`).
    Instant,
    /// A range of `range_ms` passed to function `func` (None: a bare range or a
    /// function without a rollup form).
    Window {
        func: Option<&'a str>,
        range_ms: i64,
    },
}

/// Functions of a range vector that rollup aggregates answer.
pub(crate) fn is_rollup_function(name: &str) -> bool {
    matches!(
        name,
        "rate"
            | "increase"
            | "avg_over_time"
            | "min_over_time"
            | "max_over_time"
            | "sum_over_time"
            | "count_over_time"
            | "last_over_time"
            | "present_over_time"
            | "quantile_over_time"
    )
}

/// What a use of a selector reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    /// Raw samples (the ordinary evaluation).
    Raw,
    /// Rollup aggregates computed into the function's value, or `last` for an instant
    /// selector.
    Aggregates(Tier),
    /// Rollup points read as samples `(last_timestamp_ms, last)`.
    Samples(Tier),
}

/// The tier for one use of a selector whose data starts at `from_ms`, in a query (or
/// subquery) with step `step_ms` (0 for an instant query).
pub(crate) fn choose(layout: &TierLayout, step_ms: i64, from_ms: i64, usage: Usage<'_>) -> Choice {
    let fine_step = step_ms > 0 && step_ms < MINUTE_MS;
    if fine_step || layout.covers(Tier::Raw, from_ms) {
        return Choice::Raw;
    }
    let preferred =
        if (step_ms == 0 || step_ms < HOUR_MS) && layout.covers(Tier::OneMinute, from_ms) {
            Tier::OneMinute
        } else {
            Tier::OneHour
        };
    match usage {
        Usage::Instant => return Choice::Aggregates(preferred),
        Usage::Window {
            func: Some(f),
            range_ms,
        } if is_rollup_function(f) => {
            for tier in [preferred, Tier::OneMinute] {
                let w = tier.width_ms();
                if tier <= preferred
                    && range_ms >= w
                    && range_ms % w == 0
                    && (tier == preferred || layout.covers(tier, from_ms))
                {
                    return Choice::Aggregates(tier);
                }
            }
        }
        Usage::Window { .. } => {}
    }
    // No rollup form: the finest tier still holding the data, as samples.
    if layout.covers(Tier::OneMinute, from_ms) {
        Choice::Samples(Tier::OneMinute)
    } else {
        Choice::Samples(Tier::OneHour)
    }
}

/// `func(vs[range])` answered from the rollup aggregates of `tier`; `param` is
/// `quantile_over_time`'s φ (a number literal).
#[derive(Debug, Clone)]
pub(crate) struct RollupCall {
    pub func: &'static str,
    pub vs: VectorSelector,
    pub range_ms: i64,
    pub tier: Tier,
    pub param: Option<f64>,
}

/// A selector read from the rollup points of `tier`: an instant vector of the newest
/// `last` (no range), or a range of `(last_timestamp_ms, last)` samples.
#[derive(Debug, Clone)]
pub(crate) struct RollupSelector {
    pub vs: VectorSelector,
    pub range_ms: Option<i64>,
    pub tier: Tier,
}

impl ExtensionExpr for RollupCall {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        "rollup_call"
    }
    fn value_type(&self) -> ValueType {
        ValueType::Vector
    }
    fn children(&self) -> &[Expr] {
        &[]
    }
    fn with_new_children(&self, _children: Vec<Expr>) -> Arc<dyn ExtensionExpr> {
        Arc::new(self.clone())
    }
}

impl ExtensionExpr for RollupSelector {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn name(&self) -> &str {
        "rollup_selector"
    }
    fn value_type(&self) -> ValueType {
        if self.range_ms.is_some() {
            ValueType::Matrix
        } else {
            ValueType::Vector
        }
    }
    fn children(&self) -> &[Expr] {
        &[]
    }
    fn with_new_children(&self, _children: Vec<Expr>) -> Arc<dyn ExtensionExpr> {
        Arc::new(self.clone())
    }
}

fn extension(e: impl ExtensionExpr + 'static) -> Expr {
    Expr::Extension(Extension { expr: Arc::new(e) })
}

/// The query-wide inputs of planning.
pub(crate) struct Planner<'a> {
    pub layout: &'a TierLayout,
    pub start: i64,
    pub end: i64,
    pub lookback: i64,
}

impl Planner<'_> {
    /// Rewrites `expr` evaluated at times `[lo, hi]` with step `step` (0: instant).
    pub(crate) fn rewrite(&self, expr: Expr, lo: i64, hi: i64, step: i64) -> Expr {
        match expr {
            Expr::VectorSelector(vs) => {
                let from = reference_time(&vs, lo, self.start, self.end)
                    .min(reference_time(&vs, hi, self.start, self.end))
                    - self.lookback;
                match choose(self.layout, step, from, Usage::Instant) {
                    Choice::Raw => Expr::VectorSelector(vs),
                    Choice::Aggregates(tier) | Choice::Samples(tier) => extension(RollupSelector {
                        vs,
                        range_ms: None,
                        tier,
                    }),
                }
            }
            Expr::MatrixSelector(ms) => match self.window(ms, None, None, lo, hi, step) {
                WindowPlan::Raw(ms) => Expr::MatrixSelector(ms),
                WindowPlan::Call(e) | WindowPlan::Arg(e) => e,
            },
            Expr::Call(mut call) => {
                let name = call.func.name;
                // quantile_over_time(φ, v[range]) when φ is a number literal.
                let (param, args) = match call.args.args.as_slice() {
                    [p, rest @ ..] if name == "quantile_over_time" => match p.as_ref() {
                        Expr::NumberLiteral(n) => (Some(n.val), rest),
                        _ => (None, &[][..]),
                    },
                    args => (None, args),
                };
                if is_rollup_function(name)
                    && let [arg] = args
                    && let Expr::MatrixSelector(ms) = arg.as_ref()
                {
                    let arg = match self.window(ms.clone(), Some(name), param, lo, hi, step) {
                        WindowPlan::Call(e) => return e,
                        WindowPlan::Raw(ms) => Expr::MatrixSelector(ms),
                        WindowPlan::Arg(e) => e,
                    };
                    if let Some(last) = call.args.args.last_mut() {
                        **last = arg;
                    }
                    return Expr::Call(call);
                }
                call.args.args = call
                    .args
                    .args
                    .into_iter()
                    .map(|a| Box::new(self.rewrite(*a, lo, hi, step)))
                    .collect();
                Expr::Call(call)
            }
            Expr::Aggregate(a) => Expr::Aggregate(AggregateExpr {
                expr: Box::new(self.rewrite(*a.expr, lo, hi, step)),
                param: a.param.map(|p| Box::new(self.rewrite(*p, lo, hi, step))),
                ..a
            }),
            Expr::Unary(u) => Expr::Unary(UnaryExpr {
                expr: Box::new(self.rewrite(*u.expr, lo, hi, step)),
            }),
            Expr::Binary(b) => Expr::Binary(BinaryExpr {
                lhs: Box::new(self.rewrite(*b.lhs, lo, hi, step)),
                rhs: Box::new(self.rewrite(*b.rhs, lo, hi, step)),
                ..b
            }),
            Expr::Paren(p) => Expr::Paren(ParenExpr {
                expr: Box::new(self.rewrite(*p.expr, lo, hi, step)),
            }),
            Expr::Subquery(sq) => {
                let a = modified_time(&sq.at, &sq.offset, lo, self.start, self.end);
                let b = modified_time(&sq.at, &sq.offset, hi, self.start, self.end);
                let range = sq.range.as_millis() as i64;
                let inner_step = sq
                    .step
                    .map_or(DEFAULT_SUBQUERY_STEP_MS, |d| d.as_millis() as i64);
                let inner = self.rewrite(*sq.expr, a.min(b) - range, a.max(b), inner_step);
                Expr::Subquery(SubqueryExpr {
                    expr: Box::new(inner),
                    ..sq
                })
            }
            other @ (Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_)) => other,
        }
    }

    /// A range selector, bare (`func` None) or the argument of `func` (with `param`).
    fn window(
        &self,
        ms: MatrixSelector,
        func: Option<&'static str>,
        param: Option<f64>,
        lo: i64,
        hi: i64,
        step: i64,
    ) -> WindowPlan {
        let range_ms = ms.range.as_millis() as i64;
        let from = reference_time(&ms.vs, lo, self.start, self.end)
            .min(reference_time(&ms.vs, hi, self.start, self.end))
            - range_ms;
        match choose(self.layout, step, from, Usage::Window { func, range_ms }) {
            Choice::Raw => WindowPlan::Raw(ms),
            Choice::Aggregates(tier) => match func {
                Some(func) => WindowPlan::Call(extension(RollupCall {
                    func,
                    vs: ms.vs,
                    range_ms,
                    tier,
                    param,
                })),
                None => WindowPlan::Arg(extension(RollupSelector {
                    vs: ms.vs,
                    range_ms: Some(range_ms),
                    tier,
                })),
            },
            Choice::Samples(tier) => WindowPlan::Arg(extension(RollupSelector {
                vs: ms.vs,
                range_ms: Some(range_ms),
                tier,
            })),
        }
    }
}

/// What a range selector becomes.
enum WindowPlan {
    /// Unchanged: raw samples.
    Raw(MatrixSelector),
    /// The whole call is answered from aggregates.
    Call(Expr),
    /// The selector is replaced (downsampled samples); a call around it still runs.
    Arg(Expr),
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;
    const NOW: i64 = 100 * DAY;

    fn layout() -> TierLayout {
        TierLayout {
            retention_ms: [7 * DAY, 30 * DAY, 365 * DAY],
            complete_until_ms: [NOW, NOW, NOW],
        }
    }

    fn window(func: &str, range_ms: i64) -> Usage<'_> {
        Usage::Window {
            func: Some(func),
            range_ms,
        }
    }

    #[test]
    fn raw_for_fine_steps_and_recent_data() {
        let l = layout();
        assert_eq!(
            choose(&l, 15_000, NOW - 60 * DAY, Usage::Instant),
            Choice::Raw
        );
        assert_eq!(choose(&l, HOUR_MS, NOW - DAY, Usage::Instant), Choice::Raw);
        assert_eq!(
            choose(&TierLayout::unlimited(), HOUR_MS, 0, Usage::Instant),
            Choice::Raw
        );
    }

    #[test]
    fn rollups_by_step_and_retention() {
        let l = layout();
        let from = NOW - 10 * DAY;
        assert_eq!(
            choose(&l, 5 * MINUTE_MS, from, Usage::Instant),
            Choice::Aggregates(Tier::OneMinute)
        );
        assert_eq!(
            choose(&l, HOUR_MS, from, Usage::Instant),
            Choice::Aggregates(Tier::OneHour)
        );
        // Beyond 1m retention even a fine step gets hours.
        assert_eq!(
            choose(&l, 5 * MINUTE_MS, NOW - 40 * DAY, window("rate", HOUR_MS)),
            Choice::Aggregates(Tier::OneHour)
        );
        // Instant queries: the finest tier holding the range.
        assert_eq!(
            choose(&l, 0, from, window("max_over_time", DAY)),
            Choice::Aggregates(Tier::OneMinute)
        );
    }

    #[test]
    fn incompatible_windows_move_to_a_finer_tier_or_samples() {
        let l = layout();
        let from = NOW - 10 * DAY;
        // 5m is not whole hours: the minute tier answers.
        assert_eq!(
            choose(&l, HOUR_MS, from, window("rate", 5 * MINUTE_MS)),
            Choice::Aggregates(Tier::OneMinute)
        );
        // 90s is not whole minutes either: downsampled samples.
        assert_eq!(
            choose(&l, HOUR_MS, from, window("rate", 90_000)),
            Choice::Samples(Tier::OneMinute)
        );
        assert_eq!(
            choose(&l, HOUR_MS, from, window("irate", HOUR_MS)),
            Choice::Samples(Tier::OneMinute)
        );
        assert_eq!(
            choose(&l, HOUR_MS, NOW - 60 * DAY, window("deriv", HOUR_MS)),
            Choice::Samples(Tier::OneHour)
        );
        // Beyond 1m retention, a 5m window cannot use minutes: samples from hours.
        assert_eq!(
            choose(&l, HOUR_MS, NOW - 60 * DAY, window("rate", 5 * MINUTE_MS)),
            Choice::Samples(Tier::OneHour)
        );
    }

    #[test]
    fn layout_from_info() {
        use telltale_storage_api::TierInfo;
        let info = InfoResponse {
            tiers: vec![TierInfo {
                resolution: Resolution::Raw as i32,
                retention_ms: 7 * DAY,
                complete_until_ms: NOW,
                disk_bytes: 0,
            }],
            late_writes: None,
        };
        let l = TierLayout::from_info(&info);
        assert!(l.covers(Tier::Raw, NOW - DAY));
        assert!(!l.covers(Tier::Raw, NOW - 8 * DAY));
        // Tiers storage does not report hold nothing.
        assert!(!l.covers(Tier::OneHour, NOW - 8 * DAY));
    }

    #[test]
    fn rewrite_marks_rollup_uses() {
        let l = layout();
        let p = Planner {
            layout: &l,
            start: NOW - 20 * DAY,
            end: NOW,
            lookback: 300_000,
        };
        let e =
            promql_parser::parser::parse("sum(rate(x[1h])) / on() count(irate(x[5m]))").unwrap();
        let e = p.rewrite(e, NOW - 20 * DAY, NOW, HOUR_MS);
        let text = format!("{e:?}");
        assert!(text.contains("RollupCall"), "{text}");
        assert!(text.contains("tier: OneHour"), "{text}");
        // irate keeps its call, over downsampled minute samples.
        assert!(text.contains("RollupSelector"), "{text}");
        assert!(text.contains("tier: OneMinute"), "{text}");
        // quantile_over_time with a literal φ is answered from sketches; with another
        // expression, over downsampled samples.
        let e = promql_parser::parser::parse("quantile_over_time(0.99, x[1h])").unwrap();
        let text = format!("{:?}", p.rewrite(e, NOW - 20 * DAY, NOW, HOUR_MS));
        assert!(
            text.contains("RollupCall") && text.contains("param: Some(0.99)"),
            "{text}"
        );
        let e = promql_parser::parser::parse("quantile_over_time(scalar(y), x[1h])").unwrap();
        let text = format!("{:?}", p.rewrite(e, NOW - 20 * DAY, NOW, HOUR_MS));
        assert!(
            !text.contains("RollupCall") && text.contains("RollupSelector"),
            "{text}"
        );
    }
}
