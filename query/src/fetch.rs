//! Reading a query's selections from storage in one request: raw samples, or rollup
//! points completed from raw samples past the point where a rollup tier is complete.

use std::collections::HashMap;

use telltale_storage_api::histogram::rollup as histogram_rollup;
use telltale_storage_api::rollup::{INCREASE_LOOKBACK_MS, bucket_start, summarise};
use telltale_storage_api::{self as api, Aggregate, SampleReader, SelectRequest};

use crate::error::{Error, Result};
use crate::eval::selector::{
    Fetched, Selection, SetSeries, StoredSeries, floats_into, histograms_into, merge_fetched,
    merge_rollups, to_storage_matcher,
};
use crate::labels::Labels;
use crate::plan::{Tier, TierLayout};

/// What one storage selection of the request is for.
enum Part {
    /// The raw samples of matcher set `set` of plan entry `sel`.
    Raw { sel: usize, set: usize },
    /// Stored rollup points of buckets before `first_open`.
    Rollup {
        sel: usize,
        set: usize,
        first_open: i64,
    },
    /// Raw samples that complete a rollup tier from `from` on, `width` per bucket.
    Completing {
        sel: usize,
        set: usize,
        from: i64,
        width: i64,
    },
}

/// Reads every selection of a plan in one storage request (one round, one linearizable
/// check per shard) within the query's budget, which storage enforces while it reads:
/// at most `max_series` series (0: unlimited) and `max_samples` samples.
pub(crate) async fn fetch_all(
    reader: &dyn SampleReader,
    plan: Vec<Selection>,
    layout: &TierLayout,
    max_series: usize,
    max_samples: usize,
) -> Result<Fetched> {
    let mut req = SelectRequest {
        selections: Vec::new(),
        max_series: max_series as u64,
        max_samples: max_samples as u64,
    };
    let mut parts = Vec::new();
    for (i, sel) in plan.iter().enumerate() {
        for (j, set) in sel.matcher_sets.iter().enumerate() {
            match sel.tier {
                Tier::Raw => {
                    req.selections
                        .push(selection(set, sel.min_ms, sel.max_ms, Tier::Raw));
                    parts.push(Part::Raw { sel: i, set: j });
                }
                tier => {
                    let width = tier.width_ms();
                    let complete = layout.complete_until(tier);
                    // The first bucket storage may not have complete: the one starting
                    // at or after it.
                    let first_open = if complete == i64::MAX {
                        i64::MAX
                    } else {
                        let b = bucket_start(complete, width);
                        if b == complete { b } else { b + width }
                    };
                    if sel.min_ms < first_open {
                        let end = sel.max_ms.min(first_open - 1);
                        req.selections.push(selection(set, sel.min_ms, end, tier));
                        parts.push(Part::Rollup {
                            sel: i,
                            set: j,
                            first_open,
                        });
                    }
                    // Raw samples complete the tier, unless storage holds nothing that
                    // recent; from one lookback earlier, for the increase into the first
                    // bucket.
                    if sel.max_ms >= first_open && first_open <= layout.complete_until(Tier::Raw) {
                        let from = sel.min_ms.max(first_open);
                        req.selections.push(selection(
                            set,
                            from - INCREASE_LOOKBACK_MS,
                            sel.max_ms + width,
                            Tier::Raw,
                        ));
                        parts.push(Part::Completing {
                            sel: i,
                            set: j,
                            from,
                            width,
                        });
                    }
                }
            }
        }
    }
    let answer = if req.selections.is_empty() {
        Vec::new()
    } else {
        reader.select(req).await.map_err(over_budget(max_series))?
    };
    let mut raw: Vec<Vec<SetSeries>> = plan
        .iter()
        .map(|s| vec![Vec::new(); s.matcher_sets.len()])
        .collect();
    let mut rollups: Vec<Vec<HashMap<Labels, Vec<Aggregate>>>> = plan
        .iter()
        .map(|s| vec![HashMap::new(); s.matcher_sets.len()])
        .collect();
    for series in answer {
        let Some(part) = parts.get(series.selection as usize) else {
            return Err(Error::internal(format!(
                "storage answered selection {} of {}",
                series.selection,
                parts.len()
            )));
        };
        match *part {
            Part::Raw { sel, set } => {
                let labels = Labels::from(series.labels.as_slice());
                raw[sel][set].push(StoredSeries::from_chunks(labels, series.chunks));
            }
            Part::Rollup {
                sel,
                set,
                first_open,
            } => {
                let mut points = series.points()?;
                points.retain(|p| p.timestamp_ms < first_open);
                rollups[sel][set]
                    .entry(Labels::from(series.labels.as_slice()))
                    .or_default()
                    .extend(points);
            }
            Part::Completing {
                sel,
                set,
                from,
                width,
            } => {
                let mut samples = Vec::new();
                floats_into(&series.chunks, &mut samples)?;
                let mut histograms = Vec::new();
                histograms_into(&series.chunks, &mut histograms)?;
                let max_ms = plan[sel].max_ms;
                let points = summarise(&samples, None, width)
                    .into_iter()
                    .chain(histogram_rollup::summarise(&histograms, None, width))
                    .filter(|p| p.timestamp_ms >= from && p.timestamp_ms <= max_ms);
                rollups[sel][set]
                    .entry(Labels::from(series.labels.as_slice()))
                    .or_default()
                    .extend(points);
            }
        }
    }
    let mut fetched = Fetched::default();
    for ((sel, raw), rollups) in plan.into_iter().zip(raw).zip(rollups) {
        match sel.tier {
            Tier::Raw => {
                for set in &raw {
                    check_series(set.len(), max_series)?;
                }
                fetched
                    .raw
                    .insert(sel.key.clone(), merge_fetched(&sel.matcher_sets, raw)?);
            }
            tier => {
                let per_set: Vec<Vec<(Labels, Vec<Aggregate>)>> = rollups
                    .into_iter()
                    .map(|m| m.into_iter().filter(|(_, p)| !p.is_empty()).collect())
                    .collect();
                for set in &per_set {
                    check_series(set.len(), max_series)?;
                }
                fetched.rollup.insert(
                    (tier, sel.key.clone()),
                    merge_rollups(&sel.matcher_sets, per_set),
                );
            }
        }
    }
    Ok(fetched)
}

/// Storage stopped reading because the query went over its budget of series or samples.
fn over_budget(max_series: usize) -> impl Fn(api::Error) -> Error {
    move |e| match e.exhausted_budget() {
        Some("series") => Error::TooManySeries { limit: max_series },
        Some(_) => Error::TooManySamples {
            phase: "query execution",
        },
        None => Error::Storage(e),
    }
}

fn check_series(n: usize, max_series: usize) -> Result<()> {
    if max_series > 0 && n > max_series {
        return Err(Error::TooManySeries { limit: max_series });
    }
    Ok(())
}

fn selection(
    set: &[promql_parser::label::Matcher],
    start_ms: i64,
    end_ms: i64,
    tier: Tier,
) -> api::Selection {
    api::Selection {
        matchers: set.iter().map(to_storage_matcher).collect(),
        start_ms,
        end_ms,
        resolution: tier.resolution() as i32,
    }
}
