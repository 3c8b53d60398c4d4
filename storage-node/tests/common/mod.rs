//! Reading the engine in the tests: its select answers chunks (decoded here) and its
//! index queries take [`IndexQuery`].

#![allow(dead_code)]

use std::sync::Arc;

use telltale_storage::chunk::{aggregates, histograms, samples};
use telltale_storage::matcher::Selector;
use telltale_storage::{Encoding, Engine, IndexQuery, Result, SelectSpec, SelectionSpec, Tier};
use telltale_storage_api::{Aggregate, FloatHistogram, Matcher, MatcherSet};

/// One selection's series: labels as `name=value` pairs, and the decoded samples or
/// rollup points.
pub struct Selected {
    pub labels: Vec<(String, String)>,
    pub samples: Vec<(i64, f64)>,
    pub points: Vec<Aggregate>,
    pub histograms: Vec<(i64, Arc<FloatHistogram>)>,
}

impl Selected {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Selects series matching `matchers` in `[start, end]` of `tier`, chunks decoded.
pub fn select_tier(
    engine: &Engine,
    matchers: &[Matcher],
    start: i64,
    end: i64,
    tier: Tier,
) -> Result<Vec<Selected>> {
    let spec = SelectSpec {
        selections: vec![SelectionSpec {
            selector: Selector::from_proto(matchers)?,
            start,
            end,
            tier,
        }],
        ..SelectSpec::default()
    };
    let mut out = Vec::new();
    engine.select_chunks(&spec, &mut |s| {
        let mut selected = Selected {
            labels: s
                .labels
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            samples: Vec::new(),
            points: Vec::new(),
            histograms: Vec::new(),
        };
        for kind in [Encoding::Samples, Encoding::Points, Encoding::Histograms] {
            let of_kind: Vec<_> = s.chunks.iter().filter(|c| c.encoding == kind).collect();
            for w in of_kind.windows(2) {
                assert!(w[0].max_t < w[1].min_t, "chunks overlap");
            }
        }
        for c in &s.chunks {
            match c.encoding {
                Encoding::Samples => samples::decode_into(&c.data, &mut selected.samples),
                Encoding::Points => aggregates::decode_into(&c.data, &mut selected.points),
                Encoding::Histograms => histograms::decode_into(&c.data, &mut selected.histograms),
            }
            .expect("chunks from select decode");
        }
        out.push(selected);
        Ok(())
    })?;
    Ok(out)
}

/// An index query over `match_sets` (none: every series).
pub fn index(match_sets: &[MatcherSet], start: i64, end: i64, limit: u64) -> IndexQuery {
    try_index(match_sets, start, end, limit).expect("valid matchers")
}

/// An index query over `match_sets`, or the engine's error for invalid matchers.
pub fn try_index(
    match_sets: &[MatcherSet],
    start: i64,
    end: i64,
    limit: u64,
) -> Result<IndexQuery> {
    Ok(IndexQuery {
        selectors: match_sets
            .iter()
            .map(|s| Selector::from_proto(&s.matchers))
            .collect::<Result<_>>()?,
        start,
        end,
        limit,
    })
}

/// One series `{__name__=name, instance=instance}` with `samples` (time ms, value).
pub fn series(
    name: &str,
    instance: &str,
    samples: &[(i64, f64)],
) -> telltale_storage_api::TimeSeries {
    use telltale_storage_api::{Label, Sample, TimeSeries};
    TimeSeries {
        labels: vec![
            Label::new("__name__", name),
            Label::new("instance", instance),
        ],
        samples: samples
            .iter()
            .map(|&(timestamp_ms, value)| Sample {
                timestamp_ms,
                value,
            })
            .collect(),
        exemplars: Vec::new(),
        histograms: Vec::new(),
    }
}

/// Engine options keeping everything, with a 10-minute out-of-order window and rollups
/// done in one pass.
pub fn options() -> telltale_storage::EngineOptions {
    telltale_storage::EngineOptions {
        retention: telltale_storage::Retention::unlimited(),
        out_of_order_window: std::time::Duration::from_secs(600),
        rollup_windows_per_pass: 1_000,
        ..telltale_storage::EngineOptions::default()
    }
}
