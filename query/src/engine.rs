//! [`Engine`]: parses a query, fetches every selector once, evaluates the steps.
//!
//! ```text
//!  expr --parse--> AST --plan_selections--> one SelectRequest per distinct selector
//!                   |                          (time range covering every step)
//!                   `--Evaluator at start, start+step, ..., end (in memory)--> Value
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self, Expr};
use telltale_storage_api::{
    LabelNamesRequest, LabelValuesRequest, MatcherSet, SampleReader, SelectRequest, SeriesRequest,
};

use crate::error::{Error, Result};
use crate::eval::selector::{
    Fetched, Selection, merge_fetched, plan_selections, to_storage_matcher,
};
use crate::eval::{Evaluator, StepValue};
use crate::labels::Labels;
use crate::metrics::QueryMetrics;
use crate::value::{Sample, Series, Value};

/// Limits of the engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for the latest sample.
    pub lookback_ms: i64,
    /// Longest a query may run.
    pub timeout: Duration,
    /// Most samples a query may hold in memory (fetched plus produced).
    pub max_samples: usize,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_ms: 5 * 60 * 1000,
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
        }
    }
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
}

/// Parses `expr` without evaluating it (used to validate rules).
pub fn check_expr(expr: &str) -> Result<()> {
    parse(expr).map(|_| ())
}

fn parse(expr: &str) -> Result<Expr> {
    parser::parse(expr).map_err(Error::bad_data)
}

impl Engine {
    /// An engine reading from `reader`, registering its metrics in `registry`.
    pub fn new(
        reader: Arc<dyn SampleReader>,
        opts: EngineOptions,
        registry: &prometheus::Registry,
    ) -> Self {
        Engine {
            inner: Arc::new(Inner {
                reader,
                opts,
                metrics: QueryMetrics::new(registry),
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
        let r = self.run(expr, time_ms, time_ms, 0, timeout).await;
        self.count(&r);
        r
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
        let r = if step_ms <= 0 {
            Err(Error::bad_data(
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ))
        } else if end_ms < start_ms {
            Err(Error::bad_data(
                "end timestamp must not be before start time",
            ))
        } else {
            self.run(expr, start_ms, end_ms, step_ms, timeout).await
        };
        self.count(&r);
        r
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

    fn count(&self, r: &Result<Value>) {
        let label = match r {
            Ok(_) => "success",
            Err(e) => e.metric_label(),
        };
        self.inner.metrics.count_query(label);
    }

    /// Parses, fetches and evaluates; `step_ms == 0` means an instant query.
    async fn run(
        &self,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        let opts = &self.inner.opts;
        let timeout = timeout.map_or(opts.timeout, |t| t.min(opts.timeout));
        let deadline = Instant::now() + timeout;
        let expr = parse(expr)?;
        if step > 0 && !matches!(expr.value_type(), ValueType::Scalar | ValueType::Vector) {
            return Err(Error::bad_data(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_name(expr.value_type())
            )));
        }
        let plan = plan_selections(&expr, start, end, opts.lookback_ms);
        let fetched = tokio::time::timeout_at(deadline.into(), self.fetch(plan))
            .await
            .map_err(|_| Error::Timeout {
                phase: "query execution",
            })??;
        let loaded: usize = fetched
            .values()
            .flat_map(|v| v.iter().map(|s| s.points.len()))
            .sum();
        if loaded > opts.max_samples {
            return Err(Error::TooManySamples {
                phase: "query execution",
            });
        }
        let job = Job {
            expr,
            fetched,
            start,
            end,
            step,
            lookback: opts.lookback_ms,
            deadline,
            max_samples: opts.max_samples - loaded,
        };
        tokio::task::spawn_blocking(move || job.evaluate())
            .await
            .map_err(|e| Error::internal(format!("evaluation task failed: {e}")))?
    }

    /// One storage select per distinct selector (per `or` alternative).
    async fn fetch(&self, plan: Vec<Selection>) -> Result<Fetched> {
        let mut fetched = HashMap::with_capacity(plan.len());
        for sel in plan {
            let mut per_set = Vec::with_capacity(sel.matcher_sets.len());
            for set in &sel.matcher_sets {
                let req = SelectRequest {
                    matchers: set.iter().map(to_storage_matcher).collect(),
                    start_ms: sel.min_ms,
                    end_ms: sel.max_ms,
                    ..SelectRequest::default()
                };
                per_set.push(self.inner.reader.select(req).await?);
            }
            fetched.insert(sel.key.clone(), merge_fetched(&sel.matcher_sets, per_set));
        }
        Ok(fetched)
    }
}

fn type_name(t: ValueType) -> &'static str {
    match t {
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
    }
}

/// Everything the CPU-bound evaluation needs, owned so it can run off the async runtime.
struct Job {
    expr: Expr,
    fetched: Fetched,
    start: i64,
    end: i64,
    step: i64,
    lookback: i64,
    deadline: Instant,
    max_samples: usize,
}

impl Job {
    fn evaluate(self) -> Result<Value> {
        let ev = Evaluator {
            fetched: &self.fetched,
            start: self.start,
            end: self.end,
            lookback: self.lookback,
        };
        if self.step == 0 {
            let t = self.start;
            return Ok(match ev.eval(&self.expr, t)? {
                StepValue::Scalar(value) => Value::Scalar { t_ms: t, value },
                StepValue::String(value) => Value::String { t_ms: t, value },
                StepValue::Vector(v) => {
                    self.check_samples(v.len())?;
                    Value::Vector(v.into_iter().map(|s| Sample { t_ms: t, ..s }).collect())
                }
                StepValue::Matrix(m) => {
                    self.check_samples(m.iter().map(|s| s.points.len()).sum())?;
                    Value::Matrix(m)
                }
            });
        }
        let mut series: HashMap<Labels, Vec<(i64, f64)>> = HashMap::new();
        let mut points = 0usize;
        let mut t = self.start;
        while t <= self.end {
            if Instant::now() > self.deadline {
                return Err(Error::Timeout {
                    phase: "query execution",
                });
            }
            match ev.eval(&self.expr, t)? {
                StepValue::Scalar(v) => {
                    series.entry(Labels::empty()).or_default().push((t, v));
                    points += 1;
                }
                StepValue::Vector(v) => {
                    points += v.len();
                    for s in v {
                        series.entry(s.metric).or_default().push((t, s.value));
                    }
                }
                other => {
                    return Err(Error::internal(format!(
                        "range query step produced {other:?}"
                    )));
                }
            }
            self.check_samples(points)?;
            t += self.step;
        }
        let mut out: Vec<Series> = series
            .into_iter()
            .map(|(metric, points)| Series { metric, points })
            .collect();
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(Value::Matrix(out))
    }

    fn check_samples(&self, n: usize) -> Result<()> {
        if n > self.max_samples {
            return Err(Error::TooManySamples {
                phase: "query execution",
            });
        }
        Ok(())
    }
}
