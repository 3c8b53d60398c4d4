//! [`MemoryReader`]: an in-memory [`SampleReader`] for tests of the engine and the API.
//!
//! It is not a store: no persistence, no postings index, linear scans. It exists so the evaluator
//! and the HTTP API can be tested without a storage node. Rollup points are computed from
//! the raw samples on every call; [`MemoryReader::set_tier`] gives a tier a retention
//! (data older than the newest sample minus the retention is not returned) and a
//! completeness point (rollup buckets starting at or after it are not returned yet).
//! Like the engine, it numbers late writes (samples added behind the out-of-order window
//! below the newest sample, see [`MemoryReader::set_out_of_order_window`]) and reports
//! them in `Info`, for the result cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use telltale_storage_api::{
    Chunk, ChunkEncoding, Exemplar, ExemplarsRequest, FloatHistogram, InfoResponse, Label,
    LabelNamesRequest, LabelValuesRequest, LateWrite, LateWrites, MatchOp, Matcher, MatcherSet,
    Resolution, Result, SampleReader, SelectRequest, Selection, SeriesChunks, SeriesExemplars,
    SeriesRequest, TierInfo, TimeSeries, chunk, rollup,
};

/// Series held in memory, answered with Prometheus matcher semantics.
#[derive(Default)]
pub struct MemoryReader {
    series: Mutex<Vec<TimeSeries>>,
    /// Where each label set is in `series` (benchmarks load tens of thousands of series).
    index: Mutex<HashMap<Vec<(String, String)>, usize>>,
    /// The newest sample's time (None while empty).
    newest_ms: Mutex<Option<i64>>,
    selects: Mutex<Vec<Selection>>,
    /// Per resolution: retention (0 = unlimited) and completeness point.
    tiers: Mutex<HashMap<i32, (i64, Option<i64>)>>,
    /// Late writes so far, numbered from 1.
    late: Mutex<Vec<LateWrite>>,
    out_of_order_window_ms: AtomicI64,
    /// Info answers without `late_writes` (as a merged, sharded answer does).
    hide_late_writes: AtomicBool,
}

impl MemoryReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds samples `(t_ms, value)` to the series with `labels`.
    /// Adds an exemplar (trace labels, value, time) to the series `labels` (created
    /// without samples when new), after the series' other exemplars.
    pub fn add_exemplar(
        &self,
        labels: &[(&str, &str)],
        trace: &[(&str, &str)],
        value: f64,
        t: i64,
    ) {
        self.add(labels, &[]);
        let mut key: Vec<(String, String)> = labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        key.sort();
        let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = index.get(&key).and_then(|i| all.get_mut(*i)) {
            s.exemplars.push(Exemplar {
                labels: trace.iter().map(|(n, v)| Label::new(*n, *v)).collect(),
                value,
                timestamp_ms: t,
            });
        }
    }

    pub fn add(&self, labels: &[(&str, &str)], samples: &[(i64, f64)]) {
        let settled = self
            .newest()
            .saturating_sub(self.out_of_order_window_ms.load(Ordering::SeqCst));
        let late = samples.iter().filter(|(t, _)| *t < settled).fold(
            None,
            |acc: Option<(i64, i64)>, &(t, _)| {
                Some(acc.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))))
            },
        );
        let mut labels: Vec<Label> = labels.iter().map(|(n, v)| Label::new(*n, *v)).collect();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let key: Vec<(String, String)> = labels
            .iter()
            .map(|l| (l.name.clone(), l.value.clone()))
            .collect();
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let mut index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let idx = *index.entry(key).or_insert_with(|| {
            all.push(TimeSeries {
                labels,
                samples: Vec::new(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            });
            all.len() - 1
        });
        drop(index);
        let s = &mut all[idx];
        s.samples
            .extend(samples.iter().map(|&(t, v)| telltale_storage_api::Sample {
                timestamp_ms: t,
                value: v,
            }));
        s.samples.sort_by_key(|x| x.timestamp_ms);
        drop(all);
        if let Some(t) = samples.iter().map(|x| x.0).max() {
            let mut newest = self.newest_ms.lock().unwrap_or_else(|e| e.into_inner());
            *newest = Some(newest.map_or(t, |n| n.max(t)));
        }
        if let Some((min_ms, max_ms)) = late {
            let mut log = self.late.lock().unwrap_or_else(|e| e.into_inner());
            let generation = log.len() as u64 + 1;
            log.push(LateWrite {
                generation,
                min_ms,
                max_ms,
            });
        }
    }

    /// Adds native histogram samples `(t_ms, histogram)` to the series with `labels`
    /// (a series may hold floats and histograms, at different times). Storage answers
    /// them as HISTOGRAMS chunks; rollup tiers answer their histogram points.
    pub fn add_histograms(&self, labels: &[(&str, &str)], samples: &[(i64, FloatHistogram)]) {
        self.add(labels, &[]);
        let mut key: Vec<(String, String)> = labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        key.sort();
        let index = self.index.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = index.get(&key).and_then(|i| all.get_mut(*i)) {
            s.histograms
                .extend(samples.iter().map(|(t, h)| h.to_proto(*t)));
            s.histograms.sort_by_key(|h| h.timestamp_ms);
        }
        drop(all);
        drop(index);
        if let Some(t) = samples.iter().map(|x| x.0).max() {
            let mut newest = self.newest_ms.lock().unwrap_or_else(|e| e.into_inner());
            *newest = Some(newest.map_or(t, |n| n.max(t)));
        }
    }

    /// Samples added more than `ms` behind the newest one are reported as late writes
    /// (default 0: any sample older than the newest).
    pub fn set_out_of_order_window(&self, ms: i64) {
        self.out_of_order_window_ms.store(ms, Ordering::SeqCst);
    }

    /// Whether `Info` leaves out `late_writes` (as a merged answer of several shards does).
    pub fn hide_late_writes(&self, hide: bool) {
        self.hide_late_writes.store(hide, Ordering::SeqCst);
    }

    /// The late writes recorded so far.
    fn late_writes(&self) -> Option<LateWrites> {
        if self.hide_late_writes.load(Ordering::SeqCst) {
            return None;
        }
        let log = self.late.lock().unwrap_or_else(|e| e.into_inner());
        Some(LateWrites {
            epoch: 1,
            generation: log.len() as u64,
            recent: log.iter().rev().take(256).rev().cloned().collect(),
            out_of_order_window_ms: self.out_of_order_window_ms.load(Ordering::SeqCst),
        })
    }

    /// Sets a tier's retention (0 = unlimited) and, for rollup tiers, the start of the
    /// first bucket not rolled up yet (None: every bucket up to the newest sample).
    pub fn set_tier(
        &self,
        resolution: Resolution,
        retention_ms: i64,
        complete_until_ms: Option<i64>,
    ) {
        self.tiers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(resolution as i32, (retention_ms, complete_until_ms));
    }

    fn tier(&self, resolution: i32) -> (i64, Option<i64>) {
        self.tiers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&resolution)
            .copied()
            .unwrap_or((0, None))
    }

    /// The newest sample held (0 when empty).
    fn newest(&self) -> i64 {
        self.newest_ms
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(0)
    }

    /// The oldest timestamp a tier still holds.
    fn horizon(&self, resolution: Resolution) -> i64 {
        match self.tier(resolution as i32).0 {
            0 => i64::MIN,
            retention => self.newest() - retention,
        }
    }

    /// Clears the recorded select requests.
    pub fn clear_select_requests(&self) {
        self.selects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The selections asked for so far.
    pub fn select_requests(&self) -> Vec<Selection> {
        self.selects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn matching(&self, sets: &[MatcherSet]) -> Vec<TimeSeries> {
        let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        all.iter()
            .filter(|s| sets.is_empty() || sets.iter().any(|set| matches(&set.matchers, s)))
            .cloned()
            .collect()
    }
}

fn matches(matchers: &[Matcher], s: &TimeSeries) -> bool {
    matchers.iter().all(|m| {
        let v = s.label(&m.name).unwrap_or("");
        let re = || regex::Regex::new(&format!("^(?:{})$", m.value)).map(|r| r.is_match(v));
        match MatchOp::try_from(m.op).unwrap_or(MatchOp::Equal) {
            MatchOp::Equal => v == m.value,
            MatchOp::NotEqual => v != m.value,
            MatchOp::Regex => re().unwrap_or(false),
            MatchOp::NotRegex => !re().unwrap_or(true),
        }
    })
}

/// A raw series as storage answers it: runs of float samples as XOR chunks and runs of
/// histogram samples as HISTOGRAMS chunks, in time order (both inputs sorted by time).
fn raw_chunks(floats: &[(i64, f64)], histograms: &[(i64, Arc<FloatHistogram>)]) -> Vec<Chunk> {
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < floats.len() || j < histograms.len() {
        if j >= histograms.len() || (i < floats.len() && floats[i].0 < histograms[j].0) {
            let end = match histograms.get(j) {
                Some(h) => i + floats[i..].partition_point(|p| p.0 < h.0),
                None => floats.len(),
            };
            out.extend(Chunk::from_samples(&floats[i..end]));
            i = end;
        } else {
            let end = match floats.get(i) {
                Some(f) => j + histograms[j..].partition_point(|p| p.0 <= f.0),
                None => histograms.len(),
            };
            let run = &histograms[j..end];
            out.push(Chunk {
                min_time_ms: run[0].0,
                max_time_ms: run[run.len() - 1].0,
                count: run.len() as u32,
                encoding: ChunkEncoding::Histograms as i32,
                data: chunk::histograms::encode(run),
            });
            j = end;
        }
    }
    out
}

fn limit<T>(mut v: Vec<T>, limit: u64) -> Vec<T> {
    if limit > 0 {
        v.truncate(limit as usize);
    }
    v
}

#[async_trait::async_trait]
impl SampleReader for MemoryReader {
    /// Raw samples as stored; rollup points computed from the raw samples on every call
    /// (every tier complete up to its completeness point). The request's budget is
    /// enforced as storage enforces it.
    async fn select(&self, req: SelectRequest) -> Result<Vec<SeriesChunks>> {
        let mut out = Vec::new();
        let (mut series, mut samples) = (0u64, 0u64);
        for (i, sel) in req.selections.iter().enumerate() {
            let set = MatcherSet {
                matchers: sel.matchers.clone(),
            };
            let resolution = Resolution::try_from(sel.resolution).unwrap_or(Resolution::Raw);
            let from = sel.start_ms.max(self.horizon(resolution));
            for s in self.matching(std::slice::from_ref(&set)) {
                let raw: Vec<(i64, f64)> = s
                    .samples
                    .iter()
                    .map(|x| (x.timestamp_ms, x.value))
                    .filter(|(t, _)| {
                        resolution != Resolution::Raw || (from..=sel.end_ms).contains(t)
                    })
                    .collect();
                let chunks = match resolution {
                    Resolution::Raw => {
                        let histograms = s
                            .histograms
                            .iter()
                            .filter(|h| (from..=sel.end_ms).contains(&h.timestamp_ms))
                            .map(|h| {
                                FloatHistogram::from_proto(h)
                                    .map(|fh| (h.timestamp_ms, Arc::new(fh)))
                                    .map_err(|e| {
                                        telltale_storage_api::Error::Corrupt(e.to_string())
                                    })
                            })
                            .collect::<Result<Vec<_>>>()?;
                        raw_chunks(&raw, &histograms)
                    }
                    r => {
                        let width = r.width_ms();
                        let until = self.tier(r as i32).1.unwrap_or(i64::MAX);
                        let histograms = s
                            .histograms
                            .iter()
                            .map(|h| {
                                FloatHistogram::from_proto(h)
                                    .map(|fh| (h.timestamp_ms, Arc::new(fh)))
                                    .map_err(|e| {
                                        telltale_storage_api::Error::Corrupt(e.to_string())
                                    })
                            })
                            .collect::<Result<Vec<_>>>()?;
                        let mut points = rollup::summarise(&raw, None, width);
                        points.extend(telltale_storage_api::histogram::rollup::summarise(
                            &histograms,
                            None,
                            width,
                        ));
                        points.sort_by_key(|p| p.timestamp_ms);
                        points.retain(|p| {
                            p.timestamp_ms >= from
                                && p.timestamp_ms <= sel.end_ms
                                && p.timestamp_ms < until
                        });
                        Chunk::from_points(&points).into_iter().collect()
                    }
                };
                if chunks.is_empty() {
                    continue;
                }
                series += 1;
                samples += chunks.iter().map(|c| u64::from(c.count)).sum::<u64>();
                if req.max_series > 0 && series > req.max_series {
                    return Err(telltale_storage_api::Error::over_budget(
                        "series",
                        req.max_series,
                    ));
                }
                if req.max_samples > 0 && samples > req.max_samples {
                    return Err(telltale_storage_api::Error::over_budget(
                        "samples",
                        req.max_samples,
                    ));
                }
                out.push(SeriesChunks {
                    selection: i as u32,
                    labels: s.labels,
                    chunks,
                });
            }
        }
        self.selects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(req.selections);
        Ok(out)
    }

    /// Each tier as set with [`MemoryReader::set_tier`] (default: unlimited, complete up
    /// to the newest sample held).
    async fn info(&self) -> Result<InfoResponse> {
        let newest = self.newest();
        let tier = |resolution: Resolution| {
            let (retention_ms, until) = self.tier(resolution as i32);
            TierInfo {
                resolution: resolution as i32,
                retention_ms,
                complete_until_ms: until.unwrap_or(newest),
                disk_bytes: 0,
            }
        };
        Ok(InfoResponse {
            tiers: vec![
                tier(Resolution::Raw),
                tier(Resolution::OneMinute),
                tier(Resolution::OneHour),
            ],
            late_writes: self.late_writes(),
        })
    }

    async fn series(&self, req: SeriesRequest) -> Result<Vec<TimeSeries>> {
        let mut out: Vec<TimeSeries> = self
            .matching(&req.match_sets)
            .into_iter()
            .filter(|s| {
                let within = |t: i64| t >= req.start_ms && t <= req.end_ms;
                s.samples.iter().any(|x| within(x.timestamp_ms))
                    || s.histograms.iter().any(|h| within(h.timestamp_ms))
            })
            .map(|s| TimeSeries {
                labels: s.labels,
                samples: Vec::new(),
                exemplars: Vec::new(),
                histograms: Vec::new(),
            })
            .collect();
        out.sort_by(|a, b| {
            let key = |t: &TimeSeries| {
                t.labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect::<Vec<_>>()
            };
            key(a).cmp(&key(b))
        });
        Ok(limit(out, req.limit))
    }

    async fn label_names(&self, req: LabelNamesRequest) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .matching(&req.match_sets)
            .iter()
            .flat_map(|s| s.labels.iter().map(|l| l.name.clone()))
            .collect();
        names.sort();
        names.dedup();
        Ok(limit(names, req.limit))
    }

    /// Each matching series' exemplars within the bounds, as storage answers them.
    async fn exemplars(&self, req: ExemplarsRequest) -> Result<Vec<SeriesExemplars>> {
        if req.match_sets.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<SeriesExemplars> = self
            .matching(&req.match_sets)
            .into_iter()
            .map(|s| SeriesExemplars {
                exemplars: s
                    .exemplars
                    .into_iter()
                    .filter(|e| (req.start_ms..=req.end_ms).contains(&e.timestamp_ms))
                    .collect(),
                series_labels: s.labels,
            })
            .filter(|s| !s.exemplars.is_empty())
            .collect();
        out.sort_by(|a, b| {
            let key = |s: &SeriesExemplars| {
                s.series_labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect::<Vec<_>>()
            };
            key(a).cmp(&key(b))
        });
        Ok(out)
    }

    async fn label_values(&self, req: LabelValuesRequest) -> Result<Vec<String>> {
        let mut values: Vec<String> = self
            .matching(&req.match_sets)
            .iter()
            .filter_map(|s| s.label(&req.name).map(str::to_string))
            .collect();
        values.sort();
        values.dedup();
        Ok(limit(values, req.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs of floats and of histograms become XOR and HISTOGRAMS chunks in time order.
    #[test]
    fn raw_series_alternate_chunk_encodings() {
        let h = |t: i64| (t, Arc::new(FloatHistogram::default()));
        let chunks = raw_chunks(&[(1, 1.0), (2, 2.0), (5, 5.0)], &[h(3), h(4), h(6)]);
        let kinds: Vec<(i32, i64, i64, u32)> = chunks
            .iter()
            .map(|c| (c.encoding, c.min_time_ms, c.max_time_ms, c.count))
            .collect();
        let (x, hi) = (ChunkEncoding::Xor as i32, ChunkEncoding::Histograms as i32);
        assert_eq!(
            kinds,
            vec![(x, 1, 2, 2), (hi, 3, 4, 2), (x, 5, 5, 1), (hi, 6, 6, 1)]
        );
        let mut decoded = Vec::new();
        chunk::histograms::decode_into(&chunks[1].data, &mut decoded).unwrap();
        assert_eq!(decoded.iter().map(|p| p.0).collect::<Vec<_>>(), vec![3, 4]);
        assert!(raw_chunks(&[], &[]).is_empty());
    }
}
