//! [`Engine`]: parses a query, fetches every selector once, evaluates the steps.
//!
//! ```text
//!  expr --parse--> AST --Planner (tier per use)--plan_selections--> one select per
//!                   |        distinct selector and tier (time range covering every step)
//!                   `--Evaluator at start, start+step, ..., end (in memory)--> Value
//!
//!  Range queries with the result cache on: see [`crate::cache`] (settled intervals are
//!  reused, only the rest is fetched and evaluated).
//!
//!  Admission: a semaphore of `max_concurrent_queries` slots, a queue of at most
//!  `max_queued_queries` waiting queries (then 503), the timeout covering queueing,
//!  fetching and evaluation.
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use promql_parser::parser::Expr;
use promql_parser::parser::value::ValueType;
use telltale_storage_api::{
    LabelNamesRequest, LabelValuesRequest, MatcherSet, SampleReader, SeriesRequest,
};
use tokio::sync::{Semaphore, SemaphorePermit};

mod cached;
mod exemplars;

pub use exemplars::SeriesExemplars;

use crate::cache::{CacheOptions, ResultCache};
use crate::error::{Error, Result};
use crate::eval::selector::plan_selections_between;
use crate::features::Features;
use crate::fetch::fetch_all;
use crate::job::Job;
use crate::labels::Labels;
use crate::metrics::QueryMetrics;
use crate::plan::{Planner, Tier, TierLayout};
use crate::value::Value;

/// Limits and behaviour of the engine (and of the HTTP API over it).
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for the latest sample.
    pub lookback_ms: i64,
    /// Longest a query may run.
    pub timeout: Duration,
    /// Most samples a query may hold in memory (fetched plus produced).
    pub max_samples: usize,
    /// Most series one storage select may return (0: unlimited).
    pub max_series_per_select: usize,
    /// Queries evaluated at once.
    pub max_concurrent_queries: usize,
    /// Queries waiting for a slot before new ones are refused with 503.
    pub max_queued_queries: usize,
    /// Most points per series a range query may return (Prometheus: 11,000).
    pub max_points_per_series: i64,
    /// Largest request body the HTTP API accepts (POST forms).
    pub max_request_body_bytes: usize,
    /// Answer long-range queries from rollup tiers (see [`crate::plan`]); when false
    /// every selector reads raw samples.
    pub use_rollups: bool,
    /// The range-query result cache (off by default: `max_bytes` 0).
    pub cache: CacheOptions,
    /// PromQL features behind `--enable-feature` (all off by default, as Prometheus).
    pub features: Features,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 5 * 60 * 1000,
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_series_per_select: 1_000_000,
            max_concurrent_queries: 20,
            max_queued_queries: 200,
            max_points_per_series: crate::api::MAX_POINTS_PER_SERIES,
            max_request_body_bytes: 8 * 1024 * 1024,
            use_rollups: true,
            cache: CacheOptions::default(),
            features: Features::default(),
        }
    }
}

/// One query: an expression at one time (`step_ms == 0`) or over `[start_ms, end_ms]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryRequest {
    pub expr: String,
    pub start_ms: i64,
    pub end_ms: i64,
    /// 0 for an instant query at `start_ms`.
    pub step_ms: i64,
    /// Shortens the engine's timeout for this query.
    pub timeout: Option<Duration>,
    /// Replaces the engine's lookback delta for this query (the API's `lookback_delta`).
    pub lookback_ms: Option<i64>,
}

/// What a query read, for the `stats` block and the `X-Telltale-Tier` header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Distinct tiers read, finest first (empty when no selector was read).
    pub tiers: Vec<Tier>,
    /// Samples and rollup points loaded from storage.
    pub samples_loaded: usize,
    /// Series loaded from storage.
    pub series_loaded: usize,
    /// Time spent reading from storage (all shards, concurrently).
    pub fetch: Duration,
    /// Time spent evaluating the expression over what was read.
    pub eval: Duration,
}

impl QueryStats {
    /// The tiers as the `X-Telltale-Tier` header spells them (`raw` when none was read).
    pub fn tier_header(&self) -> String {
        if self.tiers.is_empty() {
            return Tier::Raw.as_str().to_string();
        }
        let names: Vec<&str> = self.tiers.iter().map(|t| t.as_str()).collect();
        names.join(",")
    }
}

/// A query's value and what it took.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    pub value: Value,
    pub stats: QueryStats,
    /// Prometheus's `PromQL warning: ...` annotations, `(line:col)` at their end.
    pub warnings: Vec<String>,
    /// Prometheus's `PromQL info: ...` annotations.
    pub infos: Vec<String>,
}

/// The PromQL engine. Cheap to clone; all clones share the reader and metrics.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    reader: Arc<dyn SampleReader>,
    opts: EngineOptions,
    metrics: QueryMetrics,
    slots: Semaphore,
    queued: AtomicUsize,
    /// The last storage layout read, and when.
    layout: std::sync::Mutex<Option<(Instant, TierLayout)>>,
    /// Settled intervals of range queries (None when off).
    cache: Option<ResultCache>,
}

/// How long a storage layout (tier retention and completeness) is reused.
const LAYOUT_TTL: Duration = Duration::from_secs(5);

/// Evaluations of at most this many loaded samples and steps, without subqueries, run on
/// the request's own task (well under a millisecond); the rest on a blocking thread.
const INLINE_SAMPLES: usize = 4_096;
const INLINE_STEPS: i64 = 1_024;

/// Whether evaluating `expr` over `loaded` samples at `steps` steps is small enough to
/// run on the request's task. A subquery evaluates its inner expression at every one of
/// its own steps whatever was loaded, so it never is.
fn is_small(expr: &Expr, loaded: usize, steps: i64) -> bool {
    fn has_subquery(e: &Expr) -> bool {
        match e {
            Expr::Subquery(_) => true,
            Expr::Aggregate(a) => {
                a.param.as_deref().is_some_and(has_subquery) || has_subquery(&a.expr)
            }
            Expr::Unary(u) => has_subquery(&u.expr),
            Expr::Binary(b) => has_subquery(&b.lhs) || has_subquery(&b.rhs),
            Expr::Paren(p) => has_subquery(&p.expr),
            Expr::Call(c) => c.args.args.iter().any(|a| has_subquery(a)),
            // Rollup plans (extensions) read stored points; selectors and literals.
            _ => false,
        }
    }
    loaded <= INLINE_SAMPLES && steps <= INLINE_STEPS && !has_subquery(expr)
}

/// Parses `expr` without evaluating it (used to validate rules), with no optional
/// feature enabled.
pub fn check_expr(expr: &str) -> Result<()> {
    check_expr_with(expr, &Features::default())
}

/// Parses `expr` without evaluating it, with `features` enabled.
pub fn check_expr_with(expr: &str, features: &Features) -> Result<()> {
    parse(expr, features, None).map(|_| ())
}

/// `expr` parsed for a query of step `step_ms` (0: instant; None: only checked).
/// Errors are [`Error::InvalidQuery`].
fn parse(expr: &str, features: &Features, step_ms: Option<i64>) -> Result<Expr> {
    let parsed = crate::parse::parse(expr, features, step_ms).map_err(|e| match e {
        Error::BadData { message } => Error::InvalidQuery { message },
        other => other,
    })?;
    let e = crate::eval::unwrap_range_parens(parsed);
    if let Some(message) = crate::eval::unsupported(&e, features) {
        return Err(Error::InvalidQuery { message });
    }
    Ok(e)
}

impl Engine {
    /// An engine reading from `reader`, registering its metrics in `registry`.
    pub fn new(
        reader: Arc<dyn SampleReader>,
        opts: EngineOptions,
        registry: &prometheus::Registry,
    ) -> Self {
        let slots = Semaphore::new(opts.max_concurrent_queries.max(1));
        let cache =
            (opts.cache.max_bytes > 0).then(|| ResultCache::new(opts.cache.clone(), registry));
        Engine {
            inner: Arc::new(Inner {
                reader,
                opts,
                metrics: QueryMetrics::new(registry),
                slots,
                queued: AtomicUsize::new(0),
                layout: std::sync::Mutex::new(None),
                cache,
            }),
        }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.inner.opts
    }

    /// The engine's metrics (the HTTP API records request durations there).
    pub fn metrics(&self) -> &QueryMetrics {
        &self.inner.metrics
    }

    /// Evaluates `expr` at `time_ms`.
    pub async fn instant_query(&self, expr: &str, time_ms: i64) -> Result<Value> {
        self.instant_query_with_timeout(expr, time_ms, None).await
    }

    /// Evaluates `expr` at `time_ms`, within `timeout` if shorter than the engine's.
    pub async fn instant_query_with_timeout(
        &self,
        expr: &str,
        time_ms: i64,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        self.query(QueryRequest {
            expr: expr.to_string(),
            start_ms: time_ms,
            end_ms: time_ms,
            step_ms: 0,
            timeout,
            lookback_ms: None,
        })
        .await
        .map(|o| o.value)
    }

    /// Evaluates `expr` at `start_ms`, `start_ms + step_ms`, ... up to `end_ms`.
    pub async fn range_query(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<Value> {
        self.range_query_with_timeout(expr, start_ms, end_ms, step_ms, None)
            .await
    }

    /// [`Engine::range_query`] within `timeout` if shorter than the engine's.
    pub async fn range_query_with_timeout(
        &self,
        expr: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        if step_ms <= 0 {
            let r = Err(Error::bad_data(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
            self.count(&r);
            return r;
        }
        self.query(QueryRequest {
            expr: expr.to_string(),
            start_ms,
            end_ms,
            step_ms,
            timeout,
            lookback_ms: None,
        })
        .await
        .map(|o| o.value)
    }

    /// Runs one query (instant when `step_ms == 0`) and reports what it read.
    pub async fn query(&self, req: QueryRequest) -> Result<QueryOutput> {
        let r = self.query_limited(req).await;
        self.count(&r);
        r
    }

    async fn query_limited(&self, req: QueryRequest) -> Result<QueryOutput> {
        let opts = &self.inner.opts;
        if req.step_ms < 0 {
            return Err(Error::bad_data(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        if req.end_ms < req.start_ms {
            return Err(Error::bad_data(
                "end timestamp must not be before start time",
            ));
        }
        if req.step_ms > 0
            && req.end_ms.saturating_sub(req.start_ms) / req.step_ms > opts.max_points_per_series
        {
            return Err(Error::TooManyPoints {
                limit: thousands(opts.max_points_per_series),
            });
        }
        let timeout = req.timeout.map_or(opts.timeout, |t| t.min(opts.timeout));
        let deadline = Instant::now() + timeout;
        let _slot = self.acquire_slot(deadline).await?;
        self.run(&req, deadline).await
    }

    /// Waits for an evaluation slot, refusing when the queue is full.
    async fn acquire_slot(&self, deadline: Instant) -> Result<SemaphorePermit<'_>> {
        let inner = &self.inner;
        if let Ok(p) = inner.slots.try_acquire() {
            return Ok(p);
        }
        let queued = inner.queued.fetch_add(1, Ordering::SeqCst);
        inner.metrics.set_queued(queued + 1);
        let _leave = QueueSeat(&inner.queued, &inner.metrics);
        if queued >= inner.opts.max_queued_queries {
            return Err(Error::TooManyQueries {
                running: inner.opts.max_concurrent_queries,
                queued,
            });
        }
        match tokio::time::timeout_at(deadline.into(), inner.slots.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(Error::internal("query slots closed")),
            Err(_) => Err(Error::Timeout {
                phase: "query queue",
            }),
        }
    }

    /// The raw samples of the series each selection matches, in one round: what remote
    /// read answers. Fails once the answer would hold more than the engine's
    /// `max_samples`.
    pub async fn select_raw(
        &self,
        selections: Vec<(Vec<telltale_storage_api::Matcher>, i64, i64)>,
    ) -> Result<Vec<Vec<telltale_storage_api::SeriesChunks>>> {
        let count = selections.len();
        let req = telltale_storage_api::SelectRequest {
            selections: selections
                .into_iter()
                .map(
                    |(matchers, start_ms, end_ms)| telltale_storage_api::Selection {
                        matchers,
                        start_ms,
                        end_ms,
                        resolution: 0,
                    },
                )
                .collect(),
            max_series: 0,
            max_samples: self.inner.opts.max_samples as u64,
        };
        let mut out = vec![Vec::new(); count];
        for s in self.inner.reader.select(req).await? {
            if let Some(slot) = out.get_mut(s.selection as usize) {
                slot.push(s);
            }
        }
        Ok(out)
    }

    /// Label sets of the series matching any of `match_sets` in `[start_ms, end_ms]`.
    pub async fn series(
        &self,
        match_sets: Vec<MatcherSet>,
        start_ms: i64,
        end_ms: i64,
        limit: u64,
    ) -> Result<Vec<Labels>> {
        let series = self
            .inner
            .reader
            .series(SeriesRequest {
                match_sets,
                start_ms,
                end_ms,
                limit,
            })
            .await?;
        Ok(series
            .iter()
            .map(|ts| Labels::from(ts.labels.as_slice()))
            .collect())
    }

    /// Sorted label names of the series matching `match_sets` (all series when empty).
    pub async fn label_names(
        &self,
        match_sets: Vec<MatcherSet>,
        start_ms: i64,
        end_ms: i64,
        limit: u64,
    ) -> Result<Vec<String>> {
        Ok(self
            .inner
            .reader
            .label_names(LabelNamesRequest {
                match_sets,
                start_ms,
                end_ms,
                limit,
            })
            .await?)
    }

    /// Sorted values of label `name` over the series matching `match_sets`.
    pub async fn label_values(
        &self,
        name: &str,
        match_sets: Vec<MatcherSet>,
        start_ms: i64,
        end_ms: i64,
        limit: u64,
    ) -> Result<Vec<String>> {
        Ok(self
            .inner
            .reader
            .label_values(LabelValuesRequest {
                name: name.to_string(),
                match_sets,
                start_ms,
                end_ms,
                limit,
            })
            .await?)
    }

    fn count<T>(&self, r: &Result<T>) {
        let label = match r {
            Ok(_) => "success",
            Err(e) => e.metric_label(),
        };
        self.inner.metrics.count_query(label);
    }

    /// Parses, plans tiers, fetches and evaluates.
    async fn run(&self, req: &QueryRequest, deadline: Instant) -> Result<QueryOutput> {
        let opts = &self.inner.opts;
        let (start, end, step) = (req.start_ms, req.end_ms, req.step_ms);
        let lookback = req
            .lookback_ms
            .filter(|l| *l > 0)
            .unwrap_or(opts.lookback_ms);
        let expr = parse(&req.expr, &opts.features, Some(step))?;
        if step > 0 && !matches!(expr.value_type(), ValueType::Scalar | ValueType::Vector) {
            return Err(Error::InvalidQuery {
                message: format!(
                    "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                    type_name(expr.value_type())
                ),
            });
        }
        let range = Steps {
            start,
            end,
            from: start,
            to: end,
            step,
        };
        if step > 0
            && let Some(cache) = &self.inner.cache
            && let Some(out) = self
                .run_cached(cache, &req.expr, &expr, range, lookback, deadline)
                .await?
        {
            return Ok(out);
        }
        let layout = tokio::time::timeout_at(deadline.into(), self.layout(step))
            .await
            .map_err(|_| Error::Timeout {
                phase: "query execution",
            })?;
        let planned = Planner {
            layout: &layout,
            start,
            end,
            lookback,
        }
        .rewrite(expr, start, end, step);
        self.evaluate(&req.expr, &planned, &layout, range, lookback, deadline)
            .await
    }

    /// Fetches what the steps `range.from..=range.to` of the planned expression need and
    /// evaluates them.
    async fn evaluate(
        &self,
        text: &str,
        planned: &Expr,
        layout: &TierLayout,
        range: Steps,
        lookback: i64,
        deadline: Instant,
    ) -> Result<QueryOutput> {
        let opts = &self.inner.opts;
        let Steps {
            start,
            end,
            from,
            to,
            step,
        } = range;
        let plan = plan_selections_between(planned, start, end, from, to, lookback);
        for sel in &plan {
            self.inner.metrics.count_selection(sel.tier.as_str());
        }
        let mut tiers: Vec<Tier> = plan.iter().map(|s| s.tier).collect();
        tiers.sort();
        tiers.dedup();
        let fetch_started = Instant::now();
        let fetched = tokio::time::timeout_at(
            deadline.into(),
            fetch_all(
                self.inner.reader.as_ref(),
                plan,
                layout,
                opts.max_series_per_select,
                opts.max_samples,
            ),
        )
        .await
        .map_err(|_| Error::Timeout {
            phase: "query execution",
        })??;
        let loaded = fetched.points();
        self.inner.metrics.add_samples_loaded(loaded);
        if loaded > opts.max_samples {
            return Err(Error::TooManySamples {
                phase: "query execution",
            });
        }
        let mut stats = QueryStats {
            tiers,
            samples_loaded: loaded,
            series_loaded: fetched.series(),
            fetch: fetch_started.elapsed(),
            eval: Duration::ZERO,
        };
        let canceled = Arc::new(AtomicBool::new(false));
        let _cancel_on_drop = CancelOnDrop(canceled.clone());
        let job = Job {
            query: text.to_string(),
            expr: planned.clone(),
            fetched,
            start,
            end,
            from,
            to,
            step,
            lookback,
            deadline,
            canceled,
            max_samples: opts.max_samples - loaded,
            delayed_name_removal: opts.features.delayed_name_removal,
        };
        let eval_started = Instant::now();
        let steps = if step > 0 { (to - from) / step + 1 } else { 1 };
        let (value, notes) = if is_small(planned, loaded, steps) {
            // Microseconds of work: a hand-off to a blocking thread and back would cost
            // more than the evaluation (a dashboard's single series, a rule's lookup).
            job.evaluate_annotated()?
        } else {
            tokio::task::spawn_blocking(move || job.evaluate_annotated())
                .await
                .map_err(|e| Error::internal(format!("evaluation task failed: {e}")))??
        };
        stats.eval = eval_started.elapsed();
        Ok(QueryOutput {
            value,
            stats,
            warnings: notes.warnings,
            infos: notes.infos,
        })
    }

    /// The storage layout for tier planning; raw only when rollups are off, the step is
    /// under a minute, or storage cannot say.
    async fn layout(&self, step: i64) -> TierLayout {
        if !self.inner.opts.use_rollups || (step > 0 && step < 60_000) {
            return TierLayout::unlimited();
        }
        let cached = *self.inner.layout.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, layout)) = cached
            && at.elapsed() < LAYOUT_TTL
        {
            return layout;
        }
        let layout = match self.inner.reader.info().await {
            Ok(info) => TierLayout::from_info(&info),
            Err(e) => {
                // Remembered like a real layout, so a node without Info is not asked
                // (and this not logged) on every query.
                tracing::warn!(error = %e, "storage info unavailable; reading raw samples");
                TierLayout::unlimited()
            }
        };
        *self.inner.layout.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), layout));
        layout
    }
}

/// A query's bounds and the part of its steps being evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Steps {
    start: i64,
    end: i64,
    from: i64,
    to: i64,
    step: i64,
}

/// Leaves the queue when dropped.
struct QueueSeat<'a>(&'a AtomicUsize, &'a QueryMetrics);

impl Drop for QueueSeat<'_> {
    fn drop(&mut self) {
        let left = self.0.fetch_sub(1, Ordering::SeqCst) - 1;
        self.1.set_queued(left);
    }
}

/// Tells a running evaluation to stop when the query's future is dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// `11000` as `11,000`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_evaluations_without_subqueries_run_inline() {
        let parse = |q: &str| promql_parser::parser::parse(q).unwrap();
        assert!(is_small(&parse("node_load1{instance=\"a\"}"), 240, 240));
        assert!(is_small(
            &parse("sum(rate(x[5m])) / 2"),
            INLINE_SAMPLES,
            INLINE_STEPS
        ));
        assert!(!is_small(
            &parse("sum(rate(x[5m]))"),
            INLINE_SAMPLES + 1,
            10
        ));
        assert!(!is_small(&parse("up"), 10, INLINE_STEPS + 1));
        for q in [
            "max_over_time(vector(1)[1d:1s])",
            "sum(rate(x[5m:10s]))",
            "1 + (avg_over_time(up[1h:]) * 2)",
            "topk(scalar(max_over_time(up[1h:1m])), up)",
        ] {
            assert!(!is_small(&parse(q), 0, 1), "{q}");
        }
    }

    #[test]
    fn experimental_functions_need_their_flag() {
        let off = Features::default();
        let on = Features::all();
        for (expr, message) in [
            (
                "mad_over_time(x[5m])",
                r#"function "mad_over_time" is not enabled"#,
            ),
            (
                "sum(ts_of_max_over_time(x[5m]))",
                r#"function "ts_of_max_over_time" is not enabled"#,
            ),
            (
                "ts_of_min_over_time(x[5m])",
                r#"function "ts_of_min_over_time" is not enabled"#,
            ),
            (
                "ts_of_last_over_time(x[5m])",
                r#"function "ts_of_last_over_time" is not enabled"#,
            ),
            (
                "1 + double_exponential_smoothing(x[5m], 0.5, 0.5)",
                r#"function "double_exponential_smoothing" is not enabled"#,
            ),
            (
                "sort_by_label(x, \"a\")",
                r#"function "sort_by_label" is not enabled"#,
            ),
            (
                "sort_by_label_desc(x, \"a\")",
                r#"function "sort_by_label_desc" is not enabled"#,
            ),
            (
                "limitk(1, x)",
                "limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions",
            ),
            (
                "max(limit_ratio(0.5, x))",
                "limitk() and limit_ratio() are experimental and must be enabled with --enable-feature=promql-experimental-functions",
            ),
        ] {
            let err = check_expr_with(expr, &off).unwrap_err();
            assert_eq!(err.error_type(), "bad_data", "{expr}");
            assert!(err.to_string().ends_with(message), "{expr}: {err}");
            check_expr_with(expr, &on).unwrap_or_else(|e| panic!("{expr}: {e}"));
        }
        // Functions Prometheus 3.5 does not have stay refused with the flag.
        assert!(check_expr_with("ts_of_first_over_time(x[5m])", &on).is_err());
        assert!(check_expr("rate(x[5m])").is_ok());
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(11_000), "11,000");
        assert_eq!(thousands(10), "10");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(-1_000), "-1,000");
    }
}
