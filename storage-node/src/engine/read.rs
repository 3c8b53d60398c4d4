//! The read paths' shared parts — finding series in the day partitions a time range
//! touches, the head's samples, merging by write order — and the index queries (series,
//! label names, label values). Select itself is in [`super::select`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use telltale_model::is_valid_label_name;
use telltale_storage_api::{Aggregate, TierInfo};

use super::Engine;
use super::tombstones::overlaps;
use crate::chunk::aggregates;
use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::matcher::Selector;
use crate::postings::{PostingsSource, candidates};
use crate::store::keys::{DAY_MS, day_of};
use crate::store::{ChunkReader, Store};
use crate::tier::Tier;

/// An index query: the series matching any of `selectors` (every series when there are
/// none) with data in `[start, end]`, at most `limit` of them (0: no limit).
#[derive(Debug, Clone, Default)]
pub struct IndexQuery {
    pub selectors: Vec<Selector>,
    pub start: i64,
    pub end: i64,
    pub limit: u64,
}

/// A series found in the index, with the days (ascending) it has postings on.
pub(crate) struct Found {
    pub id: u64,
    pub labels: Arc<LabelSet>,
    pub days: Vec<i64>,
}

/// The postings of one day partition.
struct DayPostings<'a> {
    store: &'a Store,
    day: i64,
}

impl PostingsSource for DayPostings<'_> {
    fn postings(&self, name: &str, value: &str) -> Result<Vec<u64>> {
        self.store.postings(self.day, name, value)
    }

    fn for_each_posting(&self, name: &str, f: &mut dyn FnMut(&str, u64)) -> Result<()> {
        self.store.for_each_posting(self.day, name, f)
    }
}

/// Samples from several sources with a priority each; on equal timestamps the highest
/// priority (the latest write) wins.
pub(crate) struct Merge<V = f64>(Vec<(i64, u64, V)>);

impl<V> Default for Merge<V> {
    fn default() -> Self {
        Merge(Vec::new())
    }
}

impl<V> Merge<V> {
    pub(crate) fn push(&mut self, prio: u64, samples: impl IntoIterator<Item = (i64, V)>) {
        self.0
            .extend(samples.into_iter().map(|(t, v)| (t, prio, v)));
    }

    /// The first and last timestamp held.
    pub(crate) fn span(&self) -> Option<(i64, i64)> {
        let min = self.0.iter().map(|s| s.0).min()?;
        let max = self.0.iter().map(|s| s.0).max()?;
        Some((min, max))
    }

    pub(crate) fn finish(mut self) -> Vec<(i64, V)> {
        self.0.sort_unstable_by_key(|&(t, p, _)| (t, p));
        let mut out: Vec<(i64, V)> = Vec::with_capacity(self.0.len());
        for (t, _, v) in self.0 {
            match out.last_mut() {
                Some(last) if last.0 == t => last.1 = v,
                _ => out.push((t, v)),
            }
        }
        out
    }
}

/// In-memory samples of some series, copied out so no lock is held during disk reads.
pub(crate) type MemorySamples = HashMap<u64, Merge>;

impl Engine {
    /// Retention, progress and size of each tier kept, finest first.
    pub fn info(&self) -> Result<Vec<TierInfo>> {
        Ok(self
            .opts
            .retention
            .tiers()
            .map(|tier| TierInfo {
                resolution: tier.resolution() as i32,
                retention_ms: self
                    .opts
                    .retention
                    .of(tier)
                    .map_or(0, |d| d.as_millis() as i64),
                complete_until_ms: self.until(tier).unwrap_or(0),
                disk_bytes: self.store.disk_bytes(tier),
            })
            .collect())
    }

    /// Label sets of the series matching any of `q.selectors` (every series when there
    /// are none) with a sample in the time range, ordered, at most `limit`.
    pub fn series(&self, q: &IndexQuery) -> Result<Vec<Arc<LabelSet>>> {
        let found = self.index_query(q, q.limit)?;
        Ok(found.into_iter().map(|f| f.labels).collect())
    }

    /// Sorted label names of the series [`Engine::series`] would return, at most `limit`.
    pub fn label_names(&self, q: &IndexQuery) -> Result<Vec<String>> {
        check_range(q.start, q.end)?;
        let days = self.days(q.start, q.end)?;
        let names: BTreeSet<String> =
            if q.selectors.is_empty() && Self::whole_days(&days, q.start, q.end) {
                let mut names = BTreeSet::new();
                for day in days {
                    self.store.label_names(day, &mut names)?;
                }
                names
            } else {
                let found = self.index_query(q, 0)?;
                found
                    .iter()
                    .flat_map(|f| f.labels.iter().map(|(n, _)| n.to_string()))
                    .collect()
            };
        Ok(limited(names.into_iter(), q.limit))
    }

    /// Sorted values of label `name` over the series [`Engine::series`] would return, at
    /// most `limit`.
    pub fn label_values(&self, name: &str, q: &IndexQuery) -> Result<Vec<String>> {
        if !is_valid_label_name(name) {
            return Err(Error::InvalidArgument {
                name: "name",
                reason: format!("label name {name:?} is not valid"),
            });
        }
        check_range(q.start, q.end)?;
        let days = self.days(q.start, q.end)?;
        let values: BTreeSet<String> =
            if q.selectors.is_empty() && Self::whole_days(&days, q.start, q.end) {
                let mut values = BTreeSet::new();
                for day in days {
                    let mut last: Option<String> = None;
                    self.store.for_each_posting(day, name, &mut |value, _| {
                        if last.as_deref() != Some(value) {
                            last = Some(value.to_string());
                            values.insert(value.to_string());
                        }
                    })?;
                }
                values
            } else {
                let found = self.index_query(q, 0)?;
                found
                    .iter()
                    .filter_map(|f| f.labels.get(name).map(str::to_string))
                    .collect()
            };
        Ok(limited(values.into_iter(), q.limit))
    }

    /// The day partitions `[start, end]` touches that have an index.
    fn days(&self, start: i64, end: i64) -> Result<Vec<i64>> {
        self.store.indexed_days(day_of(start), day_of(end))
    }

    /// Whether `[start, end]` covers every day in `days` whole.
    fn whole_days(days: &[i64], start: i64, end: i64) -> bool {
        days.iter().all(|d| {
            let ds = d.saturating_mul(DAY_MS);
            let de = d.saturating_add(1).saturating_mul(DAY_MS).saturating_sub(1);
            start <= ds && de <= end
        })
    }

    /// Series matching any of `selectors` that have postings on a day `[start, end]`
    /// touches, ordered by labels.
    pub(crate) fn find(&self, selectors: &[Selector], start: i64, end: i64) -> Result<Vec<Found>> {
        let mut days_of: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
        for day in self.days(start, end)? {
            let source = DayPostings {
                store: &self.store,
                day,
            };
            for selector in selectors {
                for id in candidates(selector, &source)? {
                    let days = days_of.entry(id).or_default();
                    if days.last() != Some(&day) {
                        days.push(day);
                    }
                }
            }
        }
        let index = self.index();
        let mut found: Vec<Found> = days_of
            .into_iter()
            .filter_map(|(id, days)| {
                // Absent: postings of a series whose write is not acknowledged yet.
                let labels = index.labels_of(id)?;
                selectors.iter().any(|s| s.matches(labels)).then(|| Found {
                    id,
                    labels: labels.clone(),
                    days,
                })
            })
            .collect();
        drop(index);
        found.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(found)
    }

    /// Head and frozen samples of `found` within `[start, end]`. Taken under the head
    /// lock, under which a flush swaps head and frozen, so no sample is missed.
    pub(crate) fn memory_samples(
        &self,
        ids: impl Iterator<Item = u64>,
        start: i64,
        end: i64,
    ) -> MemorySamples {
        let head = self.head();
        let frozen = self.frozen();
        let mut out = MemorySamples::new();
        for id in ids {
            let mut merge = Merge::default();
            if let Some(s) = frozen.series.get(&id) {
                merge.push(frozen.seq, s.samples_in(start, end));
            }
            if let Some(s) = head.series.get(&id) {
                merge.push(u64::MAX, s.samples_in(start, end));
            }
            if !merge.0.is_empty() {
                out.insert(id, merge);
            }
        }
        out
    }

    /// Rollup points of one series whose buckets start within `[start, end]`, read
    /// through `reader` (of the rollup tier wanted).
    pub(crate) fn rollup_points(
        &self,
        reader: &mut ChunkReader<'_>,
        id: u64,
        days: &[i64],
        start: i64,
        end: i64,
    ) -> Result<Vec<Aggregate>> {
        let mut all: Vec<(u64, Aggregate)> = Vec::new();
        let mut buf = Vec::new();
        for &day in days {
            for c in reader.chunk_list(day, id, (start, end))? {
                buf.clear();
                aggregates::decode_into(&c.data, &mut buf).map_err(|e| Error::Corrupt {
                    what: "rollup chunk",
                    detail: format!("series {id} day {day}: {e}"),
                })?;
                all.extend(
                    buf.drain(..)
                        .filter(|p| (start..=end).contains(&p.timestamp_ms))
                        .map(|p| (c.seq, p)),
                );
            }
        }
        all.sort_by_key(|(seq, p)| (p.timestamp_ms, *seq));
        let mut out: Vec<Aggregate> = Vec::with_capacity(all.len());
        for (_, p) in all {
            match out.last_mut() {
                Some(last) if last.timestamp_ms == p.timestamp_ms => *last = p,
                _ => out.push(p),
            }
        }
        Ok(out)
    }

    /// Series matching any of `q.selectors` (all series when empty) with data in the
    /// query's time range, ordered by labels, at most `limit` (0: all). A day wholly inside
    /// the range counts as data; on the range's edge days the raw samples are checked.
    fn index_query(&self, q: &IndexQuery, limit: u64) -> Result<Vec<Found>> {
        check_range(q.start, q.end)?;
        let found = if q.selectors.is_empty() {
            self.find_all(q.start, q.end)?
        } else {
            self.find(&q.selectors, q.start, q.end)?
        };
        let mut out = Vec::new();
        for f in found {
            if limit > 0 && out.len() as u64 >= limit {
                break;
            }
            if self.has_data_in(&f, q.start, q.end)? {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// Whether series `f` has data in `[start, end]`: a day wholly inside the range
    /// counts (its postings exist because data does); on the range's edge days the head
    /// and the chunk spans of every tier are checked, without decoding chunks. A series
    /// with tombstones in the range is checked on its data left (decoded).
    fn has_data_in(&self, f: &Found, start: i64, end: i64) -> Result<bool> {
        let tombstones = self.tombstones();
        if let Some(deleted) = tombstones.get(f.id)
            && overlaps(deleted, start, end)
        {
            // Part of the range is deleted: only the data left counts.
            return self.has_data_masked(f, start, end, deleted);
        }
        if f.days.iter().any(|d| Self::whole_days(&[*d], start, end)) {
            return Ok(true);
        }
        {
            let head = self.head();
            let frozen = self.frozen();
            for s in [head.series.get(&f.id), frozen.series.get(&f.id)]
                .into_iter()
                .flatten()
            {
                if !s.samples_in(start, end).is_empty() {
                    return Ok(true);
                }
            }
        }
        for tier in Tier::ALL {
            for &day in &f.days {
                if self.store.any_chunk(tier, day, f.id, (start, end))? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Every series with postings on a day `[start, end]` touches, ordered by labels.
    fn find_all(&self, start: i64, end: i64) -> Result<Vec<Found>> {
        let mut days_of: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
        for day in self.days(start, end)? {
            for id in self.store.all_postings(day)? {
                days_of.entry(id).or_default().push(day);
            }
        }
        let index = self.index();
        let mut found: Vec<Found> = days_of
            .into_iter()
            .filter_map(|(id, days)| {
                Some(Found {
                    id,
                    labels: index.labels_of(id)?.clone(),
                    days,
                })
            })
            .collect();
        drop(index);
        found.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(found)
    }
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
