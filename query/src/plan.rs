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
//! whole number of buckets — `quantile_over_time` when its φ is a number literal —,
//! [`RollupSelector`] for an instant selector read from the buckets' `last`, or a range
//! read as downsampled samples). Uses left as ordinary
//! selectors read raw samples.
//!
//! Which rollup tiers exist (1m, 5m, 1h, 1d) is storage's configuration; `Info` lists
//! them. Rules: raw when the step is under a minute or the selected time range lies
//! within raw retention (0 = unlimited, always raw); else the coarsest rollup tier whose
//! buckets are no wider than the step and whose retention holds the range; else the
//! finest tier holding the range; else the coarsest tier. An instant query has no step:
//! the tier is the finest whose retention holds the range.
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

/// A storage tier: raw samples or a rollup resolution. Ordered by width: raw first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    Raw,
    OneMinute,
    FiveMinutes,
    OneHour,
    OneDay,
}

impl Tier {
    /// Every tier, finest first.
    pub const ALL: [Tier; 5] = [
        Tier::Raw,
        Tier::OneMinute,
        Tier::FiveMinutes,
        Tier::OneHour,
        Tier::OneDay,
    ];

    /// `raw`, `1m`, `5m`, `1h` or `1d` (the `X-Telltale-Tier` header's spelling).
    pub fn as_str(self) -> &'static str {
        self.resolution().short_name()
    }

    /// Bucket width in milliseconds (0 for raw).
    pub fn width_ms(self) -> i64 {
        self.resolution().width_ms()
    }

    /// The storage contract's resolution of this tier.
    pub fn resolution(self) -> Resolution {
        match self {
            Tier::Raw => Resolution::Raw,
            Tier::OneMinute => Resolution::OneMinute,
            Tier::FiveMinutes => Resolution::FiveMinutes,
            Tier::OneHour => Resolution::OneHour,
            Tier::OneDay => Resolution::OneDay,
        }
    }

    pub fn from_resolution(r: Resolution) -> Tier {
        match r {
            Resolution::Raw => Tier::Raw,
            Resolution::OneMinute => Tier::OneMinute,
            Resolution::FiveMinutes => Tier::FiveMinutes,
            Resolution::OneHour => Tier::OneHour,
            Resolution::OneDay => Tier::OneDay,
        }
    }
}

/// What storage reports of one tier it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierState {
    /// Retention relative to the newest sample; 0 = unlimited.
    pub retention_ms: i64,
    /// Buckets starting before this are complete (raw: the newest sample).
    pub complete_until_ms: i64,
}

/// What storage holds: the tiers it keeps (which rollup tiers exist is storage's
/// configuration), each with its retention and up to where it is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierLayout {
    /// Per tier, indexed by `Tier as usize`; None: not kept.
    tiers: [Option<TierState>; 5],
}

impl TierLayout {
    /// Raw unlimited and complete, no rollups: everything is answered from raw samples.
    pub fn unlimited() -> Self {
        Self::new(
            TierState {
                retention_ms: 0,
                complete_until_ms: i64::MAX,
            },
            &[],
        )
    }

    /// Raw and the rollup tiers kept.
    pub fn new(raw: TierState, rollups: &[(Tier, TierState)]) -> Self {
        let mut tiers = [None; 5];
        tiers[Tier::Raw as usize] = Some(raw);
        for (tier, state) in rollups {
            tiers[*tier as usize] = Some(*state);
        }
        TierLayout { tiers }
    }

    /// The layout storage reports; tiers it does not list are not kept (never chosen).
    pub fn from_info(info: &InfoResponse) -> Self {
        let mut tiers = [None; 5];
        for t in &info.tiers {
            if let Ok(r) = Resolution::try_from(t.resolution) {
                tiers[Tier::from_resolution(r) as usize] = Some(TierState {
                    retention_ms: t.retention_ms,
                    complete_until_ms: t.complete_until_ms,
                });
            }
        }
        if tiers[Tier::Raw as usize].is_none() {
            tiers[Tier::Raw as usize] = Some(TierState {
                retention_ms: 0,
                complete_until_ms: 0,
            });
        }
        TierLayout { tiers }
    }

    /// The rollup tiers kept, finest first.
    pub fn rollups(&self) -> impl DoubleEndedIterator<Item = Tier> + '_ {
        Tier::ALL[1..]
            .iter()
            .copied()
            .filter(|t| self.tiers[*t as usize].is_some())
    }

    /// True when `tier` is kept and still holds data from `from_ms` on.
    pub fn covers(&self, tier: Tier, from_ms: i64) -> bool {
        let Some(state) = self.tiers[tier as usize] else {
            return false;
        };
        let newest = self.complete_until(Tier::Raw);
        state.retention_ms == 0 || from_ms >= newest.saturating_sub(state.retention_ms)
    }

    /// Buckets of `tier` starting before this are complete in storage (0: none).
    pub fn complete_until(&self, tier: Tier) -> i64 {
        self.tiers[tier as usize].map_or(0, |s| s.complete_until_ms)
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
    let Some(coarsest) = layout.rollups().next_back() else {
        return Choice::Raw;
    };
    if fine_step || layout.covers(Tier::Raw, from_ms) {
        return Choice::Raw;
    }
    let finest_covering = layout.rollups().find(|t| layout.covers(*t, from_ms));
    let preferred = if step_ms == 0 {
        finest_covering
    } else {
        layout
            .rollups()
            .rev()
            .find(|t| t.width_ms() <= step_ms && layout.covers(*t, from_ms))
            .or(finest_covering)
    }
    .unwrap_or(coarsest);
    match usage {
        Usage::Instant => return Choice::Aggregates(preferred),
        Usage::Window {
            func: Some(f),
            range_ms,
        } if is_rollup_function(f) => {
            // The preferred tier, else a finer one holding the data whose buckets add
            // up to the range.
            for tier in layout.rollups().rev().filter(|t| *t <= preferred) {
                let w = tier.width_ms();
                if range_ms >= w
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
    Choice::Samples(finest_covering.unwrap_or(coarsest))
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

    const HOUR_MS: i64 = 3_600_000;
    const DAY: i64 = 86_400_000;
    const NOW: i64 = 100 * DAY;

    fn state(retention_ms: i64) -> TierState {
        TierState {
            retention_ms,
            complete_until_ms: NOW,
        }
    }

    fn layout() -> TierLayout {
        TierLayout::new(
            state(7 * DAY),
            &[
                (Tier::OneMinute, state(30 * DAY)),
                (Tier::OneHour, state(365 * DAY)),
            ],
        )
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
    fn any_configured_tiers_are_chosen_among() {
        // raw 7d, 5m 90d, 1d 3y: no 1m or 1h tier.
        let l = TierLayout::new(
            state(7 * DAY),
            &[
                (Tier::FiveMinutes, state(90 * DAY)),
                (Tier::OneDay, state(1095 * DAY)),
            ],
        );
        let from = NOW - 30 * DAY;
        assert_eq!(
            choose(&l, MINUTE_MS, from, Usage::Instant),
            Choice::Aggregates(Tier::FiveMinutes)
        );
        assert_eq!(
            choose(&l, HOUR_MS, from, window("rate", HOUR_MS)),
            Choice::Aggregates(Tier::FiveMinutes)
        );
        assert_eq!(
            choose(&l, DAY, from, window("increase", 7 * DAY)),
            Choice::Aggregates(Tier::OneDay)
        );
        // A day step over a 6h window: days cannot add up to it, five minutes can.
        assert_eq!(
            choose(&l, DAY, from, window("rate", 6 * HOUR_MS)),
            Choice::Aggregates(Tier::FiveMinutes)
        );
        // Past 5m retention only days are left.
        assert_eq!(
            choose(&l, HOUR_MS, NOW - 200 * DAY, window("rate", HOUR_MS)),
            Choice::Samples(Tier::OneDay)
        );
        assert_eq!(
            choose(&l, 0, NOW - 200 * DAY, Usage::Instant),
            Choice::Aggregates(Tier::OneDay)
        );
        // No rollup tier at all: raw, whatever the range.
        let raw_only = TierLayout::new(state(7 * DAY), &[]);
        assert_eq!(
            choose(&raw_only, DAY, NOW - 200 * DAY, Usage::Instant),
            Choice::Raw
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
