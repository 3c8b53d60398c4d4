//! Reading a query's selections from storage: raw samples, or rollup points completed
//! from raw samples past the point where a rollup tier is complete.

use std::collections::HashMap;

use telltale_storage_api::rollup::{INCREASE_LOOKBACK_MS, bucket_start, summarise};
use telltale_storage_api::{Aggregate, SampleReader, SelectRequest};

use crate::error::{Error, Result};
use crate::eval::selector::{Fetched, Selection, merge_fetched, merge_rollups, to_storage_matcher};
use crate::labels::Labels;
use crate::plan::{Tier, TierLayout};

/// Reads every selection of a plan, failing when one select returns more than
/// `max_series` series (0: unlimited).
pub(crate) async fn fetch_all(
    reader: &dyn SampleReader,
    plan: Vec<Selection>,
    layout: &TierLayout,
    max_series: usize,
) -> Result<Fetched> {
    let mut fetched = Fetched::default();
    for sel in plan {
        match sel.tier {
            Tier::Raw => {
                let mut per_set = Vec::with_capacity(sel.matcher_sets.len());
                for set in &sel.matcher_sets {
                    let series = reader
                        .select(request(set, sel.min_ms, sel.max_ms, Tier::Raw))
                        .await?;
                    check_series(series.len(), max_series)?;
                    per_set.push(series);
                }
                fetched
                    .raw
                    .insert(sel.key.clone(), merge_fetched(&sel.matcher_sets, per_set));
            }
            tier => {
                let mut per_set = Vec::with_capacity(sel.matcher_sets.len());
                for set in &sel.matcher_sets {
                    let series = rollup_points(reader, set, &sel, tier, layout).await?;
                    check_series(series.len(), max_series)?;
                    per_set.push(series);
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

fn check_series(n: usize, max_series: usize) -> Result<()> {
    if max_series > 0 && n > max_series {
        return Err(Error::TooManySeries { limit: max_series });
    }
    Ok(())
}

fn request(
    set: &[promql_parser::label::Matcher],
    start_ms: i64,
    end_ms: i64,
    tier: Tier,
) -> SelectRequest {
    SelectRequest {
        matchers: set.iter().map(to_storage_matcher).collect(),
        start_ms,
        end_ms,
        resolution: tier.resolution() as i32,
    }
}

/// The rollup points of one matcher set: from storage for buckets starting before the
/// tier's completeness point, summarised from raw samples after it.
async fn rollup_points(
    reader: &dyn SampleReader,
    set: &[promql_parser::label::Matcher],
    sel: &Selection,
    tier: Tier,
    layout: &TierLayout,
) -> Result<Vec<(Labels, Vec<Aggregate>)>> {
    let width = tier.width_ms();
    let complete = layout.complete_until(tier);
    // The first bucket storage may not have complete: the one starting at or after it.
    let first_open = if complete == i64::MAX {
        i64::MAX
    } else {
        let b = bucket_start(complete, width);
        if b == complete { b } else { b + width }
    };
    let mut by_labels: HashMap<Labels, Vec<Aggregate>> = HashMap::new();
    if sel.min_ms < first_open {
        let end = sel.max_ms.min(first_open - 1);
        for s in reader
            .select_aggregated(request(set, sel.min_ms, end, tier))
            .await?
        {
            let points = s.points.into_iter().filter(|p| p.timestamp_ms < first_open);
            by_labels
                .entry(Labels::from(s.labels.as_slice()))
                .or_default()
                .extend(points);
        }
    }
    // Raw samples complete the tier, unless storage holds nothing that recent.
    if sel.max_ms >= first_open && first_open <= layout.complete_until(Tier::Raw) {
        let from = sel.min_ms.max(first_open);
        // Raw from one lookback earlier, for the increase into the first bucket.
        let raw = reader
            .select(request(
                set,
                from - INCREASE_LOOKBACK_MS,
                sel.max_ms + width,
                Tier::Raw,
            ))
            .await?;
        for s in raw {
            let samples: Vec<(i64, f64)> = s
                .samples
                .iter()
                .map(|x| (x.timestamp_ms, x.value))
                .collect();
            let points = summarise(&samples, None, width)
                .into_iter()
                .filter(|p| p.timestamp_ms >= from && p.timestamp_ms <= sel.max_ms);
            by_labels
                .entry(Labels::from(s.labels.as_slice()))
                .or_default()
                .extend(points);
        }
    }
    Ok(by_labels
        .into_iter()
        .filter(|(_, p)| !p.is_empty())
        .collect())
}
