//! [`MemoryReader`]: an in-memory [`SampleReader`] for tests of the engine and the API.
//!
//! It is not a store: no persistence, no index, linear scans. It exists so the evaluator
//! and the HTTP API can be tested without a storage node.

use std::sync::Mutex;

use telltale_storage_api::{
    AggregatedSeries, InfoResponse, Label, LabelNamesRequest, LabelValuesRequest, MatchOp, Matcher,
    MatcherSet, Resolution, Result, SampleReader, SelectRequest, SeriesRequest, TierInfo,
    TimeSeries, rollup,
};

/// Series held in memory, answered with Prometheus matcher semantics.
#[derive(Default)]
pub struct MemoryReader {
    series: Mutex<Vec<TimeSeries>>,
    selects: Mutex<Vec<SelectRequest>>,
}

impl MemoryReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds samples `(t_ms, value)` to the series with `labels`.
    pub fn add(&self, labels: &[(&str, &str)], samples: &[(i64, f64)]) {
        let mut labels: Vec<Label> = labels.iter().map(|(n, v)| Label::new(*n, *v)).collect();
        labels.sort_by(|a, b| a.name.cmp(&b.name));
        let mut all = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let idx = match all.iter().position(|s| s.labels == labels) {
            Some(i) => i,
            None => {
                all.push(TimeSeries {
                    labels,
                    samples: Vec::new(),
                });
                all.len() - 1
            }
        };
        let s = &mut all[idx];
        s.samples
            .extend(samples.iter().map(|&(t, v)| telltale_storage_api::Sample {
                timestamp_ms: t,
                value: v,
            }));
        s.samples.sort_by_key(|x| x.timestamp_ms);
    }

    /// The select requests received so far.
    pub fn select_requests(&self) -> Vec<SelectRequest> {
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

fn limit<T>(mut v: Vec<T>, limit: u64) -> Vec<T> {
    if limit > 0 {
        v.truncate(limit as usize);
    }
    v
}

#[async_trait::async_trait]
impl SampleReader for MemoryReader {
    async fn select(&self, req: SelectRequest) -> Result<Vec<TimeSeries>> {
        let set = MatcherSet {
            matchers: req.matchers.clone(),
        };
        let out = self
            .matching(std::slice::from_ref(&set))
            .into_iter()
            .map(|mut s| {
                s.samples
                    .retain(|x| x.timestamp_ms >= req.start_ms && x.timestamp_ms <= req.end_ms);
                s
            })
            .filter(|s| !s.samples.is_empty())
            .collect();
        self.selects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(req);
        Ok(out)
    }

    /// Rollup points computed from the raw samples on every call (every tier complete).
    async fn select_aggregated(&self, req: SelectRequest) -> Result<Vec<AggregatedSeries>> {
        let width = match Resolution::try_from(req.resolution) {
            Ok(Resolution::OneHour) => 3_600_000,
            _ => 60_000,
        };
        let set = MatcherSet {
            matchers: req.matchers.clone(),
        };
        let out = self
            .matching(std::slice::from_ref(&set))
            .into_iter()
            .map(|s| {
                let raw: Vec<(i64, f64)> = s
                    .samples
                    .iter()
                    .map(|x| (x.timestamp_ms, x.value))
                    .collect();
                let mut points = rollup::summarise(&raw, None, width);
                points.retain(|p| p.timestamp_ms >= req.start_ms && p.timestamp_ms <= req.end_ms);
                AggregatedSeries {
                    labels: s.labels,
                    points,
                }
            })
            .filter(|s| !s.points.is_empty())
            .collect();
        self.selects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(req);
        Ok(out)
    }

    /// Every tier unlimited and complete up to the newest sample held.
    async fn info(&self) -> Result<InfoResponse> {
        let newest = {
            let all = self.series.lock().unwrap_or_else(|e| e.into_inner());
            all.iter()
                .filter_map(|s| s.samples.last().map(|x| x.timestamp_ms))
                .max()
                .unwrap_or(0)
        };
        let tier = |resolution: Resolution| TierInfo {
            resolution: resolution as i32,
            retention_ms: 0,
            complete_until_ms: newest,
            disk_bytes: 0,
        };
        Ok(InfoResponse {
            tiers: vec![
                tier(Resolution::Raw),
                tier(Resolution::OneMinute),
                tier(Resolution::OneHour),
            ],
        })
    }

    async fn series(&self, req: SeriesRequest) -> Result<Vec<TimeSeries>> {
        let mut out: Vec<TimeSeries> = self
            .matching(&req.match_sets)
            .into_iter()
            .filter(|s| {
                s.samples
                    .iter()
                    .any(|x| x.timestamp_ms >= req.start_ms && x.timestamp_ms <= req.end_ms)
            })
            .map(|s| TimeSeries {
                labels: s.labels,
                samples: Vec::new(),
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
