//! Between the storage contract's messages (`telltale.storage.v1`) and the engine's own
//! read types: the one place a replica converts, for its gRPC service and for
//! in-process callers alike.

use telltale_storage::matcher::Selector;
use telltale_storage::{
    ChunkData, Encoding, Engine, IndexQuery, SelectSpec, SelectionSpec, SeriesData, Tier,
};
use telltale_storage_api::pb::{Chunk, ChunkEncoding, SeriesChunks};
use telltale_storage_api::{Exemplar, ExemplarsRequest, Label, SeriesExemplars};
use telltale_storage_api::{
    LabelNamesRequest, LabelValuesRequest, MatcherSet, Resolution, SelectRequest, SeriesRequest,
    TimeSeries,
};

/// A select request as the engine takes it.
pub fn select_spec(req: &SelectRequest) -> telltale_storage::Result<SelectSpec> {
    let selections = req
        .selections
        .iter()
        .map(|s| {
            let tier = match Resolution::try_from(s.resolution) {
                Ok(r) => Tier::from_resolution(r),
                Err(_) => {
                    return Err(telltale_storage::Error::InvalidArgument {
                        name: "resolution",
                        reason: format!("{} is not a resolution", s.resolution),
                    });
                }
            };
            Ok(SelectionSpec {
                selector: Selector::from_proto(&s.matchers)?,
                start: s.start_ms,
                end: s.end_ms,
                tier,
            })
        })
        .collect::<telltale_storage::Result<Vec<_>>>()?;
    Ok(SelectSpec {
        selections,
        max_series: req.max_series,
        max_samples: req.max_samples,
    })
}

/// One series of a select answer as the contract carries it.
pub fn series_chunks(s: SeriesData) -> SeriesChunks {
    SeriesChunks {
        selection: s.selection,
        labels: s.labels.to_labels(),
        chunks: s.chunks.into_iter().map(chunk).collect(),
    }
}

fn chunk(c: ChunkData) -> Chunk {
    Chunk {
        min_time_ms: c.min_t,
        max_time_ms: c.max_t,
        count: c.count,
        encoding: match c.encoding {
            Encoding::Samples => ChunkEncoding::Xor,
            Encoding::Points => ChunkEncoding::Aggregates,
            Encoding::Histograms => ChunkEncoding::Histograms,
        } as i32,
        data: c.data,
    }
}

/// Runs a select on `engine`, collecting the answer (for callers in the process).
pub fn select(engine: &Engine, req: &SelectRequest) -> telltale_storage::Result<Vec<SeriesChunks>> {
    let spec = select_spec(req)?;
    let mut out = Vec::new();
    engine.select_chunks(&spec, &mut |s| {
        out.push(series_chunks(s));
        Ok(())
    })?;
    Ok(out)
}

fn index_query(
    match_sets: &[MatcherSet],
    start: i64,
    end: i64,
    limit: u64,
) -> telltale_storage::Result<IndexQuery> {
    Ok(IndexQuery {
        selectors: match_sets
            .iter()
            .map(|set| Selector::from_proto(&set.matchers))
            .collect::<telltale_storage::Result<_>>()?,
        start,
        end,
        limit,
    })
}

/// The label sets of a series request (`samples` empty).
pub fn series(engine: &Engine, r: &SeriesRequest) -> telltale_storage::Result<Vec<TimeSeries>> {
    let q = index_query(&r.match_sets, r.start_ms, r.end_ms, r.limit)?;
    Ok(engine
        .series(&q)?
        .into_iter()
        .map(|labels| TimeSeries {
            labels: labels.to_labels(),
            samples: Vec::new(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        })
        .collect())
}

pub fn label_names(
    engine: &Engine,
    r: &LabelNamesRequest,
) -> telltale_storage::Result<Vec<String>> {
    engine.label_names(&index_query(&r.match_sets, r.start_ms, r.end_ms, r.limit)?)
}

pub fn label_values(
    engine: &Engine,
    r: &LabelValuesRequest,
) -> telltale_storage::Result<Vec<String>> {
    let q = index_query(&r.match_sets, r.start_ms, r.end_ms, r.limit)?;
    engine.label_values(&r.name, &q)
}

/// The exemplars of a request, as the contract carries them.
pub fn exemplars(
    engine: &Engine,
    r: &ExemplarsRequest,
) -> telltale_storage::Result<Vec<SeriesExemplars>> {
    let selectors = r
        .match_sets
        .iter()
        .map(|set| Selector::from_proto(&set.matchers))
        .collect::<telltale_storage::Result<Vec<_>>>()?;
    Ok(engine
        .exemplars(&selectors, r.start_ms, r.end_ms)
        .into_iter()
        .map(|(series, exemplars)| SeriesExemplars {
            series_labels: series.to_labels(),
            exemplars: exemplars
                .into_iter()
                .map(|e| Exemplar {
                    labels: e
                        .labels
                        .into_iter()
                        .map(|(n, v)| Label::new(n, v))
                        .collect(),
                    value: e.value,
                    timestamp_ms: e.ts,
                })
                .collect(),
        })
        .collect())
}
