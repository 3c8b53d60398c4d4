//! The read paths: select (series with samples) and the index queries (series, label
//! names, label values).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use telltale_storage_api::{
    AggregatedSeries, LabelNamesRequest, LabelValuesRequest, MatcherSet, Resolution, Sample,
    SelectRequest, SeriesRequest, TierInfo, TimeSeries, rollup,
};

use super::Engine;
use crate::error::{Error, Result};
use crate::labels::{LabelSet, is_valid_label_name};
use crate::matcher::Selector;
use crate::postings::{PostingsSource, candidates};
use crate::store::SampleCursor;

/// A series found in the index.
type Found = (u64, Arc<LabelSet>);

impl Engine {
    /// Every series matching all of `req.matchers` that has samples in
    /// `[start_ms, end_ms]`, with those samples, ordered by labels.
    pub fn select(&self, req: &SelectRequest) -> Result<Vec<TimeSeries>> {
        let timer = self.metrics.select_duration.start_timer();
        check_range(req.start_ms, req.end_ms)?;
        let selector = Selector::from_proto(&req.matchers)?;
        let found = self.matching(&selector)?;
        let mut cursor = self.store.samples();
        let mut out = Vec::new();
        let mut samples = Vec::new();
        for (id, labels) in found {
            samples.clear();
            cursor.read(id, req.start_ms, req.end_ms, &mut samples)?;
            if samples.is_empty() {
                continue;
            }
            out.push(TimeSeries {
                labels: labels.to_labels(),
                samples: samples
                    .iter()
                    .map(|&(timestamp_ms, value)| Sample {
                        timestamp_ms,
                        value,
                    })
                    .collect(),
            });
        }
        timer.observe_duration();
        Ok(out)
    }

    /// Rollup points of the matching series at `req.resolution`.
    pub fn select_aggregated(&self, req: &SelectRequest) -> Result<Vec<AggregatedSeries>> {
        let width = match Resolution::try_from(req.resolution) {
            Ok(Resolution::OneMinute) => 60_000,
            Ok(Resolution::OneHour) => 3_600_000,
            _ => {
                return Err(Error::InvalidArgument {
                    name: "resolution",
                    reason: "a rollup resolution is needed".into(),
                });
            }
        };
        Ok(self
            .select(req)?
            .into_iter()
            .map(|s| {
                let raw: Vec<(i64, f64)> = s
                    .samples
                    .iter()
                    .map(|x| (x.timestamp_ms, x.value))
                    .collect();
                AggregatedSeries {
                    labels: s.labels,
                    points: rollup::summarise(&raw, None, width),
                }
            })
            .collect())
    }

    /// Retention and progress of each tier.
    pub fn info(&self) -> Result<Vec<TierInfo>> {
        Ok(Vec::new())
    }

    /// Label sets of the series matching any of `req.match_sets` (every series when
    /// there are none) with a sample in the time range, ordered, at most `limit`.
    pub fn series(&self, req: &SeriesRequest) -> Result<Vec<TimeSeries>> {
        let found = self.index_query(&req.match_sets, req.start_ms, req.end_ms, req.limit)?;
        Ok(found
            .into_iter()
            .map(|(_, labels)| TimeSeries {
                labels: labels.to_labels(),
                samples: Vec::new(),
            })
            .collect())
    }

    /// Sorted label names of the series [`Engine::series`] would return, at most `limit`.
    pub fn label_names(&self, req: &LabelNamesRequest) -> Result<Vec<String>> {
        let found = self.index_query(&req.match_sets, req.start_ms, req.end_ms, 0)?;
        let names: BTreeSet<&str> = found
            .iter()
            .flat_map(|(_, labels)| labels.iter().map(|(n, _)| n))
            .collect();
        Ok(limited(names.into_iter().map(str::to_string), req.limit))
    }

    /// Sorted values of label `req.name` over the series [`Engine::series`] would return,
    /// at most `limit`.
    pub fn label_values(&self, req: &LabelValuesRequest) -> Result<Vec<String>> {
        if !is_valid_label_name(&req.name) {
            return Err(Error::InvalidArgument {
                name: "name",
                reason: format!("label name {:?} is not valid", req.name),
            });
        }
        check_range(req.start_ms, req.end_ms)?;
        if req.match_sets.is_empty() {
            return self.all_label_values(&req.name, req.start_ms, req.end_ms, req.limit);
        }
        let found = self.index_query(&req.match_sets, req.start_ms, req.end_ms, 0)?;
        let values: BTreeSet<&str> = found
            .iter()
            .filter_map(|(_, labels)| labels.get(&req.name))
            .collect();
        Ok(limited(values.into_iter().map(str::to_string), req.limit))
    }

    /// Values of `name` straight from its postings: a value counts when one of its
    /// series has a sample in range.
    fn all_label_values(
        &self,
        name: &str,
        start: i64,
        end: i64,
        limit: u64,
    ) -> Result<Vec<String>> {
        let mut by_value: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        self.store
            .for_each_posting(name, &mut |value, id| match by_value.last_entry() {
                Some(mut last) if last.key() == value => last.get_mut().push(id),
                _ => {
                    by_value.insert(value.to_string(), vec![id]);
                }
            })?;
        let mut cursor = self.store.samples();
        let mut out = Vec::new();
        for (value, ids) in by_value {
            if limit > 0 && out.len() as u64 >= limit {
                break;
            }
            // Postings of a series still being committed may be visible before the
            // series is in the index; such a write is not acknowledged yet.
            let ids: Vec<u64> = {
                let index = self.index();
                ids.into_iter()
                    .filter(|id| index.labels_of(*id).is_some())
                    .collect()
            };
            for id in ids {
                if has_samples_in(&mut cursor, id, start, end)? {
                    out.push(value);
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Series matching `selector`, ordered by labels (time is not considered).
    fn matching(&self, selector: &Selector) -> Result<Vec<Found>> {
        let ids = candidates(selector, &self.store)?;
        let index = self.index();
        let mut found: Vec<Found> = ids
            .into_iter()
            .filter_map(|id| {
                // Absent: postings of a series whose write is not acknowledged yet.
                let labels = index.labels_of(id)?;
                selector.matches(labels).then(|| (id, labels.clone()))
            })
            .collect();
        drop(index);
        found.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(found)
    }

    /// Series matching any of `match_sets` (all series when empty) with a sample in
    /// `[start, end]`, ordered by labels, at most `limit` (0: all).
    fn index_query(
        &self,
        match_sets: &[MatcherSet],
        start: i64,
        end: i64,
        limit: u64,
    ) -> Result<Vec<Found>> {
        check_range(start, end)?;
        let selectors = match_sets
            .iter()
            .map(|set| Selector::from_proto(&set.matchers))
            .collect::<Result<Vec<_>>>()?;
        let mut found: Vec<Found> = if selectors.is_empty() {
            self.index()
                .iter()
                .map(|(id, labels)| (id, labels.clone()))
                .collect()
        } else {
            let mut union: BTreeMap<u64, Arc<LabelSet>> = BTreeMap::new();
            for selector in &selectors {
                union.extend(self.matching(selector)?);
            }
            union.into_iter().collect()
        };
        found.sort_by(|a, b| a.1.cmp(&b.1));

        let mut cursor = self.store.samples();
        let mut out = Vec::new();
        for f in found {
            if limit > 0 && out.len() as u64 >= limit {
                break;
            }
            if has_samples_in(&mut cursor, f.0, start, end)? {
                out.push(f);
            }
        }
        Ok(out)
    }
}

/// Whether series `id` has a sample in `[start, end]`. Every series in the index was
/// created together with at least one sample and nothing is deleted yet, so the full
/// range needs no disk read. (Retention will have to revisit this.)
fn has_samples_in(cursor: &mut SampleCursor<'_>, id: u64, start: i64, end: i64) -> Result<bool> {
    if start == i64::MIN && end == i64::MAX {
        return Ok(true);
    }
    cursor.any_in(id, start, end)
}

fn check_range(start_ms: i64, end_ms: i64) -> Result<()> {
    if start_ms > end_ms {
        return Err(Error::InvalidTimeRange { start_ms, end_ms });
    }
    Ok(())
}

fn limited(values: impl Iterator<Item = String>, limit: u64) -> Vec<String> {
    match limit {
        0 => values.collect(),
        n => values
            .take(usize::try_from(n).unwrap_or(usize::MAX))
            .collect(),
    }
}
