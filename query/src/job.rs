//! [`Job`]: the CPU-bound part of a query, evaluating the planned expression at every
//! step over the fetched series, off the async runtime, within the deadline and the
//! sample limit, stopping when the query is abandoned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use promql_parser::parser::Expr;
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::eval::annotations::{Annotations, Annotator, Bounds};
use crate::eval::selector::Fetched;
use crate::eval::sweep::Grid;
use crate::eval::{Evaluator, StepValue};
use crate::labels::Labels;
use crate::value::{Sample, Series, Value};

/// Everything the CPU-bound evaluation needs, owned so it can run off the async runtime.
pub(crate) struct Job {
    /// The expression's text (annotations point into it).
    pub query: String,
    pub expr: Expr,
    pub fetched: Fetched,
    /// The query's bounds (for `@ start()` and `@ end()`).
    pub start: i64,
    pub end: i64,
    /// The steps evaluated: `from`, `from + step`, ... up to `to` (a part of the query's
    /// range when the result cache supplies the rest).
    pub from: i64,
    pub to: i64,
    pub step: i64,
    pub lookback: i64,
    pub deadline: Instant,
    pub canceled: Arc<AtomicBool>,
    pub max_samples: usize,
    /// `promql-delayed-name-removal`.
    pub delayed_name_removal: bool,
}

impl Job {
    #[cfg(test)]
    pub(crate) fn evaluate(self) -> Result<Value> {
        self.run(true).map(|(v, _)| v)
    }

    /// The value and the warnings and infos raised (see `eval::annotations`).
    pub(crate) fn evaluate_annotated(self) -> Result<(Value, Annotations)> {
        self.run(true)
    }

    /// Evaluates step by step only (what series-major evaluation is compared with).
    #[cfg(test)]
    pub(crate) fn evaluate_step_major(self) -> Result<Value> {
        self.run(false).map(|(v, _)| v)
    }

    /// Evaluates the query; a range query `series_major` where it can (`eval::sweep`).
    fn run(self, series_major: bool) -> Result<(Value, Annotations)> {
        let notes = Annotator::new(&self.query, &self.expr);
        let grid = if self.step == 0 {
            Grid::new(self.start, self.start, 1)
        } else {
            Grid::new(self.from, self.to, self.step)
        };
        notes.static_notes(
            &self.expr,
            &self.fetched,
            Bounds {
                start: self.start,
                end: self.end,
                grid,
            },
        );
        let mut ev = Evaluator {
            fetched: &self.fetched,
            start: self.start,
            end: self.end,
            lookback: self.lookback,
            memo: Default::default(),
            selectors: Default::default(),
            grid: None,
            tables: Default::default(),
            columns: Default::default(),
            notes,
            delayed_name_removal: self.delayed_name_removal,
            params: Default::default(),
        };
        let mut value = self.values(&mut ev, series_major)?;
        if self.delayed_name_removal {
            value = crate::eval::delayed_names::finish(value)?;
        }
        Ok((value, ev.notes.take()))
    }

    fn values(&self, ev: &mut Evaluator<'_>, series_major: bool) -> Result<Value> {
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
                    self.check_samples(m.iter().map(Series::len).sum())?;
                    Value::Matrix(m)
                }
            });
        }
        let check = || self.check_running();
        if series_major {
            let grid = Grid::new(self.from, self.to, self.step);
            if let Some(m) = ev.sweep(&self.expr, grid, self.max_samples, &check)? {
                self.check_samples(m.iter().map(Series::len).sum())?;
                return Ok(Value::Matrix(m));
            }
        }
        let mut series: FxHashMap<Labels, Series> = FxHashMap::default();
        let mut points = 0usize;
        let mut t = self.from;
        while t <= self.to {
            self.check_running()?;
            match ev.eval(&self.expr, t)? {
                StepValue::Scalar(v) => {
                    series
                        .entry(Labels::empty())
                        .or_default()
                        .points
                        .push((t, v));
                    points += 1;
                }
                StepValue::Vector(v) => {
                    points += v.len();
                    for s in v {
                        let entry = series.entry(s.metric).or_default();
                        match s.histogram {
                            Some(h) => entry.histograms.push((t, h)),
                            None => entry.points.push((t, s.value)),
                        }
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
            .map(|(metric, s)| Series { metric, ..s })
            .collect();
        out.sort_by(|a, b| a.metric.cmp(&b.metric));
        Ok(Value::Matrix(out))
    }

    /// Fails when the deadline has passed or the query was abandoned.
    fn check_running(&self) -> Result<()> {
        if Instant::now() > self.deadline {
            return Err(Error::Timeout {
                phase: "query execution",
            });
        }
        if self.canceled.load(Ordering::Relaxed) {
            return Err(Error::Canceled {
                phase: "query execution",
            });
        }
        Ok(())
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
