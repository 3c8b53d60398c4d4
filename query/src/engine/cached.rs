//! Range queries through the result cache: settled intervals come from the cache (or are
//! evaluated whole and kept), the others are evaluated for the steps asked.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use promql_parser::parser::Expr;
use telltale_storage_api::rollup::INCREASE_LOOKBACK_MS;
use telltale_storage_api::{InfoResponse, Resolution};

use super::{Engine, QueryOutput, QueryStats, Steps};
use crate::cache::split::{Piece, interval_for, merge, pieces, slice};
use crate::cache::{EntryKey, ResultCache};
use crate::error::{Error, Result};
use crate::eval::selector::{Selection, plan_selections_between};
use crate::plan::{Planner, Tier, TierLayout};
use crate::value::{Series, Value};

/// Up to where each tier's data is settled: later writes before these times are
/// reported as late writes.
struct Settled {
    /// Per tier, indexed by `Tier as usize`.
    until: [i64; 5],
}

impl Settled {
    fn new(info: &InfoResponse, window_ms: i64, max_freshness_ms: i64) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let until = |r: Resolution| {
            info.tiers
                .iter()
                .find(|t| t.resolution == r as i32)
                .map_or(i64::MIN, |t| t.complete_until_ms)
        };
        let newest = until(Resolution::Raw);
        let raw = if newest <= 0 {
            i64::MIN
        } else {
            // Storage reports late writes older than `newest - window`; `complete_until`
            // of the raw tier may be the newest sample or one past it.
            (now.saturating_sub(max_freshness_ms))
                .min(newest.saturating_sub(window_ms).saturating_sub(1))
        };
        Settled {
            until: Tier::ALL.map(|t| match t {
                Tier::Raw => raw,
                rollup => raw.min(until(rollup.resolution())),
            }),
        }
    }

    fn holds(&self, sel: &Selection) -> bool {
        sel.max_ms < self.until[sel.tier as usize]
    }
}

/// How one interval is answered.
enum Source {
    Cached(Arc<Vec<Series>>),
    /// Evaluated whole and kept, with the time range its selections read.
    Keep((i64, i64)),
    /// Evaluated for the wanted steps only.
    Fresh,
}

impl Engine {
    /// Answers a range query through the cache; `None` when storage cannot report late
    /// writes (the caller evaluates without the cache).
    pub(super) async fn run_cached(
        &self,
        cache: &ResultCache,
        text: &str,
        expr: &Expr,
        range: Steps,
        lookback: i64,
        deadline: Instant,
    ) -> Result<Option<QueryOutput>> {
        let opts = &self.inner.opts;
        let Steps {
            start, end, step, ..
        } = range;
        let info = match tokio::time::timeout_at(deadline.into(), self.inner.reader.info()).await {
            Err(_) => {
                return Err(Error::Timeout {
                    phase: "query execution",
                });
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "storage info unavailable; range query not cached");
                return Ok(None);
            }
            Ok(Ok(info)) => info,
        };
        let Some(late) = &info.late_writes else {
            return Ok(None);
        };
        let at = cache.observe(late);
        let layout = if !opts.use_rollups || step < 60_000 {
            TierLayout::unlimited()
        } else {
            TierLayout::from_info(&info)
        };
        let settled = Settled::new(
            &info,
            late.out_of_order_window_ms,
            cache.options().max_freshness_ms,
        );
        let planned = Planner {
            layout: &layout,
            start,
            end,
            lookback,
        }
        .rewrite(expr.clone(), start, end, step);
        let query = query_key(&planned, range, lookback);

        let interval = interval_for(step, cache.options().interval_ms);
        let parts = pieces(start, end, step, interval);
        let mut sources = Vec::with_capacity(parts.len());
        for p in &parts {
            let sels = plan_selections_between(&planned, start, end, p.full.0, p.full.1, lookback);
            if !sels.iter().all(|s| settled.holds(s))
                || p.full.1 >= settled.until[Tier::Raw as usize]
            {
                sources.push(Source::Fresh);
                continue;
            }
            let key = EntryKey {
                query: query.clone(),
                interval_start: p.interval_start,
            };
            sources.push(match cache.get(&key) {
                Some(series) => Source::Cached(series),
                None => Source::Keep(read_range(&sels)),
            });
        }

        // Consecutive intervals evaluated together: whole ones to keep, or only the
        // wanted steps of unsettled ones.
        let mut stats = QueryStats::default();
        let (mut warnings, mut infos) = (Vec::<String>::new(), Vec::<String>::new());
        let mut answers: Vec<Option<Vec<Series>>> = vec![None; parts.len()];
        let mut i = 0;
        while i < parts.len() {
            let keep = match &sources[i] {
                Source::Cached(series) => {
                    answers[i] = Some(slice(series, parts[i].wanted.0, parts[i].wanted.1));
                    i += 1;
                    continue;
                }
                Source::Keep(_) => true,
                Source::Fresh => false,
            };
            let mut j = i + 1;
            while j < parts.len()
                && matches!(
                    (&sources[j], keep),
                    (Source::Keep(_), true) | (Source::Fresh, false)
                )
            {
                j += 1;
            }
            let bounds = |p: &Piece| if keep { p.full } else { p.wanted };
            let run = Steps {
                start,
                end,
                from: bounds(&parts[i]).0,
                to: bounds(&parts[j - 1]).1,
                step,
            };
            let out = self
                .evaluate(text, &planned, &layout, run, lookback, deadline)
                .await?;
            stats.samples_loaded += out.stats.samples_loaded;
            stats.series_loaded += out.stats.series_loaded;
            stats.fetch += out.stats.fetch;
            stats.eval += out.stats.eval;
            stats.tiers.extend(out.stats.tiers);
            for (from, to) in [(out.warnings, &mut warnings), (out.infos, &mut infos)] {
                for note in from {
                    if !to.contains(&note) {
                        to.push(note);
                    }
                }
            }
            let Value::Matrix(series) = out.value else {
                return Err(Error::internal("range evaluation returned no matrix"));
            };
            for k in i..j {
                let b = bounds(&parts[k]);
                let piece = slice(&series, b.0, b.1);
                if let Source::Keep(read) = sources[k] {
                    answers[k] = Some(slice(&piece, parts[k].wanted.0, parts[k].wanted.1));
                    let key = EntryKey {
                        query: query.clone(),
                        interval_start: parts[k].interval_start,
                    };
                    cache.insert(key, piece, read, at);
                } else {
                    answers[k] = Some(piece);
                }
            }
            i = j;
        }
        stats.tiers.sort();
        stats.tiers.dedup();
        if stats.tiers.is_empty() {
            // Everything came from the cache: report the tiers the plan reads.
            stats.tiers = plan_selections_between(&planned, start, end, start, end, lookback)
                .iter()
                .map(|s| s.tier)
                .collect();
            stats.tiers.sort();
            stats.tiers.dedup();
        }
        let value = Value::Matrix(merge(answers.into_iter().flatten().collect()));
        // Annotations are those of the steps evaluated now (cached intervals keep none).
        Ok(Some(QueryOutput {
            value,
            stats,
            warnings,
            infos,
        }))
    }
}

/// The times whose data the selections depend on: a rollup point at `t` summarises
/// `[t, t + width)` and its increase starts from the sample before it (at most
/// `INCREASE_LOOKBACK_MS` earlier).
fn read_range(sels: &[Selection]) -> (i64, i64) {
    sels.iter().fold((i64::MAX, i64::MIN), |(lo, hi), s| {
        let (min, max) = match s.tier {
            Tier::Raw => (s.min_ms, s.max_ms),
            tier => (
                s.min_ms.saturating_sub(INCREASE_LOOKBACK_MS),
                s.max_ms.saturating_add(tier.width_ms() - 1),
            ),
        };
        (lo.min(min), hi.max(max))
    })
}

/// What makes two range queries' intervals interchangeable: the planned expression (the
/// tier of every selector included), the step and its phase, the lookback, and the
/// query's bounds when `@ start()` or `@ end()` makes them part of the answer.
fn query_key(planned: &Expr, range: Steps, lookback: i64) -> Arc<str> {
    let text = format!("{planned:?}");
    let bounds = if text.contains("Some(Start)") || text.contains("Some(End)") {
        format!(" range={},{}", range.start, range.end)
    } else {
        String::new()
    };
    Arc::from(format!(
        "{text} step={} phase={} lookback={lookback}{bounds}",
        range.step,
        range.start.rem_euclid(range.step)
    ))
}
