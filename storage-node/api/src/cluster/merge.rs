//! Merging the answers of several shards: series by label set (samples by time, one per
//! timestamp), rollup points of one bucket combined, tier information, string sets.
//! After a change of the shard count a series may live on two shards; reads see one.

use std::collections::{BTreeMap, BTreeSet};

use crate::pb::{
    Aggregate, Chunk, InfoResponse, LateWrites, Resolution, SeriesChunks, SeriesExemplars,
    TierInfo, TimeSeries,
};
use crate::{Label, Result};

fn label_key(labels: &[Label]) -> Vec<(String, String)> {
    let mut key: Vec<(String, String)> = labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect();
    key.sort();
    key
}

/// Merges series from several shards by label set: samples sorted by time, one per
/// timestamp.
pub fn merge_series(parts: Vec<Vec<TimeSeries>>) -> Vec<TimeSeries> {
    let mut by_key: BTreeMap<Vec<(String, String)>, TimeSeries> = BTreeMap::new();
    for series in parts.into_iter().flatten() {
        match by_key.entry(label_key(&series.labels)) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(series);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let merged = o.get_mut();
                merged.samples.extend(series.samples);
                merged.samples.sort_by_key(|s| s.timestamp_ms);
                merged.samples.dedup_by_key(|s| s.timestamp_ms);
            }
        }
    }
    by_key.into_values().collect()
}

/// Merges shards' exemplar answers: one entry per series label set, in label order, its
/// exemplars by time (equal ones once).
pub fn merge_exemplars(parts: Vec<Vec<SeriesExemplars>>) -> Vec<SeriesExemplars> {
    let mut by_key: BTreeMap<Vec<(String, String)>, SeriesExemplars> = BTreeMap::new();
    for series in parts.into_iter().flatten() {
        match by_key.entry(label_key(&series.series_labels)) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(series);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                let merged = o.get_mut();
                merged.exemplars.extend(series.exemplars);
                merged.exemplars.sort_by_key(|e| e.timestamp_ms);
                merged.exemplars.dedup();
            }
        }
    }
    by_key.into_values().collect()
}

/// Combines two rollup points of the same bucket from different shards.
fn combine(a: &mut Aggregate, b: Aggregate) {
    if a.histogram.is_some() && b.histogram.is_some() {
        crate::histogram::rollup::combine_points(a, &b);
        return;
    }
    a.count += b.count;
    a.sum += b.sum;
    a.min = a.min.min(b.min);
    a.max = a.max.max(b.max);
    a.increase += b.increase;
    a.sketch = crate::rollup::merge_sketches(&a.sketch, &b.sketch);
    if b.last_timestamp_ms >= a.last_timestamp_ms {
        a.last = b.last;
        a.last_timestamp_ms = b.last_timestamp_ms;
    }
}

/// Merges the `Select` answers of several shards: per selection, series by label set,
/// ordered by labels. A series held by one shard (the rule: series are routed by their
/// labels) passes through as stored; one held by several (after the shard count changed)
/// is decoded and merged — samples by time, one per timestamp; rollup points of one
/// bucket combined — into one chunk.
pub fn merge_chunked(parts: Vec<Vec<SeriesChunks>>) -> Result<Vec<SeriesChunks>> {
    type Key = (u32, Vec<(String, String)>);
    let mut by_key: BTreeMap<Key, Vec<SeriesChunks>> = BTreeMap::new();
    for series in parts.into_iter().flatten() {
        by_key
            .entry((series.selection, label_key(&series.labels)))
            .or_default()
            .push(series);
    }
    by_key
        .into_values()
        .map(|mut same| {
            if same.len() == 1 {
                return Ok(same.pop().unwrap_or_default());
            }
            let raw = same
                .iter()
                .flat_map(|s| &s.chunks)
                .all(|c| c.is_raw() || c.is_histograms());
            let chunks: Vec<Chunk> = if raw {
                let mut samples: BTreeMap<i64, f64> = BTreeMap::new();
                let mut histograms = BTreeMap::new();
                for s in &same {
                    samples.extend(s.samples()?);
                    histograms.extend(s.histograms()?);
                }
                let samples: Vec<(i64, f64)> = samples.into_iter().collect();
                let histograms: Vec<_> = histograms.into_iter().collect();
                Chunk::from_samples(&samples)
                    .into_iter()
                    .chain(Chunk::from_histograms(&histograms))
                    .collect()
            } else {
                let mut points: BTreeMap<i64, Aggregate> = BTreeMap::new();
                for s in &same {
                    for p in s.points()? {
                        match points.entry(p.timestamp_ms) {
                            std::collections::btree_map::Entry::Vacant(v) => {
                                v.insert(p);
                            }
                            std::collections::btree_map::Entry::Occupied(mut o) => {
                                combine(o.get_mut(), p)
                            }
                        }
                    }
                }
                let points: Vec<Aggregate> = points.into_values().collect();
                Chunk::from_points(&points).into_iter().collect()
            };
            let mut first = same.swap_remove(0);
            first.chunks = chunks;
            Ok(first)
        })
        .collect()
}

/// Merges tier information: the newest raw sample anywhere, rollups complete only as
/// far as every shard with data, disk bytes summed.
pub fn merge_info(parts: Vec<InfoResponse>) -> InfoResponse {
    let late: Vec<Option<LateWrites>> = parts.iter().map(|p| p.late_writes.clone()).collect();
    let mut tiers: BTreeMap<i32, TierInfo> = BTreeMap::new();
    for part in parts {
        for t in part.tiers {
            match tiers.entry(t.resolution) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(t);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let m = o.get_mut();
                    m.disk_bytes += t.disk_bytes;
                    m.complete_until_ms = if t.resolution == Resolution::Raw as i32 {
                        m.complete_until_ms.max(t.complete_until_ms)
                    } else if m.complete_until_ms == 0 {
                        t.complete_until_ms
                    } else if t.complete_until_ms == 0 {
                        m.complete_until_ms
                    } else {
                        m.complete_until_ms.min(t.complete_until_ms)
                    };
                }
            }
        }
    }
    InfoResponse {
        tiers: tiers.into_values().collect(),
        late_writes: merge_late_writes(&late),
    }
}

/// The late writes of every shard (in shard order) as one counter a result cache can
/// follow. Each node numbers its own, so the merge is conservative:
/// - the epoch changes whenever any shard's does (a restart, or reading another replica)
///   or the set of shards does, and the cache then starts over;
/// - the generation is the sum of the shards', so it grows with every late write
///   anywhere;
/// - every shard's recent writes are listed under the current generation, so a cache
///   drops whatever overlaps any of them: possibly more than needed, never less.
///
/// Absent when any shard does not report its late writes.
pub fn merge_late_writes(parts: &[Option<LateWrites>]) -> Option<LateWrites> {
    use std::hash::{Hash, Hasher};
    let mut epoch = std::hash::DefaultHasher::new();
    parts.len().hash(&mut epoch);
    let (mut generation, mut window) = (0u64, 0i64);
    for part in parts {
        let part = part.as_ref()?;
        part.epoch.hash(&mut epoch);
        generation = generation.saturating_add(part.generation);
        window = window.max(part.out_of_order_window_ms);
    }
    let recent = parts
        .iter()
        .flatten()
        .flat_map(|p| p.recent.iter())
        .map(|w| crate::pb::LateWrite { generation, ..*w })
        .collect();
    Some(LateWrites {
        epoch: epoch.finish(),
        generation,
        recent,
        out_of_order_window_ms: window,
    })
}

pub fn union_sorted(parts: Vec<Vec<String>>) -> Vec<String> {
    parts
        .into_iter()
        .flatten()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sample;
    use crate::sketch::Sketch;

    fn ts(name: &str, samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels: vec![Label::new("__name__", name), Label::new("a", "b")],
            samples: samples
                .iter()
                .map(|(t, v)| Sample {
                    timestamp_ms: *t,
                    value: *v,
                })
                .collect(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }

    #[test]
    fn series_merge_by_label_set_across_shards() {
        let mut reversed = ts("m", &[(1, 1.0), (3, 3.0)]);
        reversed.labels.reverse();
        let merged = merge_series(vec![
            vec![reversed, ts("x", &[(1, 9.0)])],
            vec![ts("m", &[(2, 2.0), (3, 3.0)])],
        ]);
        assert_eq!(merged.len(), 2);
        let m = merged
            .iter()
            .find(|s| s.label("__name__") == Some("m"))
            .unwrap();
        let times: Vec<i64> = m.samples.iter().map(|s| s.timestamp_ms).collect();
        assert_eq!(times, vec![1, 2, 3]);
    }

    fn chunked(selection: u32, labels: Vec<Label>, chunk: Option<Chunk>) -> SeriesChunks {
        SeriesChunks {
            selection,
            labels,
            chunks: chunk.into_iter().collect(),
        }
    }

    #[test]
    fn rollups_of_one_bucket_from_two_shards_combine() {
        let p = |count, sum, min, max, last, lt| Aggregate {
            timestamp_ms: 0,
            count,
            sum,
            min,
            max,
            last,
            increase: 1.0,
            last_timestamp_ms: lt,
            sketch: Sketch::of([min, max, last].into_iter().take(count as usize)).to_bytes(),
            histogram: None,
        };
        let labels = vec![Label::new("__name__", "m")];
        let merged = merge_chunked(vec![
            vec![chunked(
                0,
                labels.clone(),
                Chunk::from_points(&[p(2, 3.0, 1.0, 2.0, 2.0, 10)]),
            )],
            vec![chunked(
                0,
                labels,
                Chunk::from_points(&[p(1, 5.0, 5.0, 5.0, 5.0, 20)]),
            )],
        ])
        .unwrap();
        let got = &merged[0].points().unwrap()[0];
        assert_eq!((got.count, got.sum, got.min, got.max), (3, 8.0, 1.0, 5.0));
        assert_eq!(
            (got.last, got.last_timestamp_ms, got.increase),
            (5.0, 20, 2.0)
        );
        assert_eq!(Sketch::decode(&got.sketch), Ok(Sketch::of([1.0, 2.0, 5.0])));
    }

    #[test]
    fn chunked_series_merge_per_selection_and_pass_through_alone() {
        let m = vec![Label::new("__name__", "m")];
        let reversed = vec![Label::new("a", "b"), Label::new("__name__", "x")];
        let one = Chunk::from_samples(&[(1, 1.0), (3, 3.0)]);
        let merged = merge_chunked(vec![
            vec![
                chunked(0, m.clone(), one.clone()),
                chunked(1, m.clone(), Chunk::from_samples(&[(7, 7.0)])),
            ],
            vec![
                chunked(0, m.clone(), Chunk::from_samples(&[(2, 2.0), (3, 3.0)])),
                chunked(0, reversed.clone(), Chunk::from_samples(&[(1, 1.0)])),
            ],
        ])
        .unwrap();
        assert_eq!(merged.len(), 3, "{merged:?}");
        assert_eq!((merged[0].selection, &merged[0].labels), (0, &m));
        let times: Vec<i64> = merged[0].samples().unwrap().iter().map(|s| s.0).collect();
        assert_eq!(times, vec![1, 2, 3]);
        assert_eq!(merged[1].selection, 0);
        assert_eq!(merged[2].selection, 1);
        assert_eq!(
            merged[2].chunks,
            Chunk::from_samples(&[(7, 7.0)])
                .into_iter()
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn info_merges_tiers() {
        let tier = |r: Resolution, until, bytes| TierInfo {
            resolution: r as i32,
            retention_ms: 0,
            complete_until_ms: until,
            disk_bytes: bytes,
        };
        let merged = merge_info(vec![
            InfoResponse {
                tiers: vec![
                    tier(Resolution::Raw, 10, 1),
                    tier(Resolution::OneMinute, 60, 2),
                ],
                late_writes: None,
            },
            InfoResponse {
                tiers: vec![
                    tier(Resolution::Raw, 20, 1),
                    tier(Resolution::OneMinute, 30, 2),
                ],
                late_writes: None,
            },
        ]);
        assert_eq!(merged.tiers[0].complete_until_ms, 20);
        assert_eq!(merged.tiers[1].complete_until_ms, 30);
        assert_eq!(merged.tiers[1].disk_bytes, 4);
    }

    fn late(epoch: u64, generation: u64, recent: &[(u64, i64, i64)]) -> Option<LateWrites> {
        Some(LateWrites {
            epoch,
            generation,
            recent: recent
                .iter()
                .map(|&(generation, min_ms, max_ms)| crate::pb::LateWrite {
                    generation,
                    min_ms,
                    max_ms,
                })
                .collect(),
            out_of_order_window_ms: 3_600_000,
        })
    }

    #[test]
    fn late_writes_merge_conservatively() {
        let a = late(7, 3, &[(2, 10, 20), (3, 30, 40)]);
        let b = late(9, 5, &[(5, 100, 200)]);
        let m = merge_late_writes(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.generation, 8);
        // Every shard's recent writes, all under the merged generation.
        assert_eq!(m.recent.len(), 3);
        assert!(m.recent.iter().all(|w| w.generation == 8));
        assert_eq!(
            m.recent
                .iter()
                .map(|w| (w.min_ms, w.max_ms))
                .collect::<Vec<_>>(),
            vec![(10, 20), (30, 40), (100, 200)]
        );
        // A late write anywhere raises the generation; the epoch stays.
        let b2 = late(9, 6, &[(5, 100, 200), (6, 50, 60)]);
        let m2 = merge_late_writes(&[a.clone(), b2]).unwrap();
        assert_eq!((m2.epoch, m2.generation), (m.epoch, 9));
        // A restarted shard, another replica, or another set of shards: a new epoch.
        assert_ne!(
            merge_late_writes(&[a.clone(), late(10, 5, &[])])
                .unwrap()
                .epoch,
            m.epoch
        );
        assert_ne!(
            merge_late_writes(&[b.clone(), a.clone()]).unwrap().epoch,
            m.epoch
        );
        assert_ne!(
            merge_late_writes(std::slice::from_ref(&a)).unwrap().epoch,
            m.epoch
        );
        // A shard that does not track them: no counter at all.
        assert!(merge_late_writes(&[a, None]).is_none());
    }
}
