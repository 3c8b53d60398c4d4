//! Reading what `Select` answers: every series of a selection as compressed chunks
//! ([`SeriesChunks`]), decoded by the reader as it goes, and making such chunks from
//! samples, native histogram samples or rollup points.

use std::sync::Arc;

use crate::chunk::{self, aggregates, histograms, samples};
use crate::pb::{Chunk, ChunkEncoding, SelectRequest, Selection, SeriesChunks};
use crate::{Aggregate, Error, FloatHistogram, Result};

fn corrupt(e: chunk::Error) -> Error {
    Error::Corrupt(e.to_string())
}

impl Chunk {
    /// A raw chunk of samples in strictly increasing time order (`None` when empty).
    pub fn from_samples(points: &[(i64, f64)]) -> Option<Chunk> {
        let (first, last) = (points.first()?, points.last()?);
        Some(Chunk {
            min_time_ms: first.0,
            max_time_ms: last.0,
            count: points.len() as u32,
            encoding: ChunkEncoding::Xor as i32,
            data: samples::encode(points),
        })
    }

    /// A rollup chunk of points in strictly increasing bucket order (`None` when empty).
    pub fn from_points(points: &[Aggregate]) -> Option<Chunk> {
        let (first, last) = (points.first()?, points.last()?);
        Some(Chunk {
            min_time_ms: first.timestamp_ms,
            max_time_ms: last.timestamp_ms,
            count: points.len() as u32,
            encoding: ChunkEncoding::Aggregates as i32,
            data: aggregates::encode(points),
        })
    }

    /// A chunk of native histogram samples in strictly increasing time order (`None`
    /// when empty).
    pub fn from_histograms(samples: &[(i64, Arc<FloatHistogram>)]) -> Option<Chunk> {
        let (first, last) = (samples.first()?, samples.last()?);
        Some(Chunk {
            min_time_ms: first.0,
            max_time_ms: last.0,
            count: samples.len() as u32,
            encoding: ChunkEncoding::Histograms as i32,
            data: histograms::encode(samples),
        })
    }

    /// Whether the chunk holds raw float samples.
    pub fn is_raw(&self) -> bool {
        self.encoding == ChunkEncoding::Xor as i32
    }

    /// Whether the chunk holds native histogram samples.
    pub fn is_histograms(&self) -> bool {
        self.encoding == ChunkEncoding::Histograms as i32
    }

    /// The native histogram samples, decoded one by one as they are read.
    pub fn histograms(&self) -> Result<histograms::HistogramIter<'_>> {
        if !self.is_histograms() {
            return Err(Error::Corrupt("a chunk read as native histograms".into()));
        }
        histograms::stored_iter(&self.data).map_err(corrupt)
    }

    /// The raw samples, decoded one by one as they are read.
    pub fn samples(&self) -> Result<samples::SampleIter<'_>> {
        if !self.is_raw() {
            return Err(Error::Corrupt("a rollup chunk read as raw samples".into()));
        }
        samples::stored_iter(&self.data).map_err(corrupt)
    }

    /// The rollup points, appended to `out`.
    pub fn points_into(&self, out: &mut Vec<Aggregate>) -> Result<()> {
        if self.encoding != ChunkEncoding::Aggregates as i32 {
            return Err(Error::Corrupt("a raw chunk read as rollup points".into()));
        }
        aggregates::decode_into(&self.data, out).map_err(corrupt)
    }
}

/// Appends the raw float samples of `chunks` (time-ordered) to `out`; native histogram
/// chunks among them are skipped ([`SeriesChunks::histograms`] reads those).
pub fn samples_into(chunks: &[Chunk], out: &mut Vec<(i64, f64)>) -> Result<()> {
    out.reserve(chunks.iter().map(|c| c.count as usize).sum());
    for c in chunks.iter().filter(|c| !c.is_histograms()) {
        for s in c.samples()? {
            out.push(s.map_err(corrupt)?);
        }
    }
    Ok(())
}

impl SeriesChunks {
    /// Every raw sample of the series, in time order.
    pub fn samples(&self) -> Result<Vec<(i64, f64)>> {
        let mut out = Vec::new();
        samples_into(&self.chunks, &mut out)?;
        Ok(out)
    }

    /// Every native histogram sample of the series, in time order.
    pub fn histograms(&self) -> Result<Vec<(i64, Arc<FloatHistogram>)>> {
        let mut out = Vec::new();
        for c in self.chunks.iter().filter(|c| c.is_histograms()) {
            for s in c.histograms()? {
                out.push(s.map_err(corrupt)?);
            }
        }
        Ok(out)
    }

    /// Every rollup point of the series, in bucket order.
    pub fn points(&self) -> Result<Vec<Aggregate>> {
        let mut out = Vec::new();
        for c in &self.chunks {
            c.points_into(&mut out)?;
        }
        Ok(out)
    }

    /// The value of label `name`, if the series has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name)
            .map(|l| l.value.as_str())
    }

    /// Samples (or points) the series holds.
    pub fn count(&self) -> u64 {
        self.chunks.iter().map(|c| u64::from(c.count)).sum()
    }
}

impl SelectRequest {
    /// A request of one selection, without a budget.
    pub fn one(selection: Selection) -> Self {
        SelectRequest {
            selections: vec![selection],
            max_series: 0,
            max_samples: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_round_trip_samples_and_points() {
        let pts = [(1, 1.0), (5, f64::NAN), (9, -3.5)];
        let c = Chunk::from_samples(&pts).unwrap();
        assert_eq!((c.min_time_ms, c.max_time_ms, c.count), (1, 9, 3));
        let back: Vec<(i64, f64)> = c.samples().unwrap().map(|s| s.unwrap()).collect();
        assert_eq!(back.len(), 3);
        assert!(back[1].1.is_nan());
        assert!(c.points_into(&mut Vec::new()).is_err());
        assert!(Chunk::from_samples(&[]).is_none());

        let agg = Aggregate {
            timestamp_ms: 60_000,
            count: 6,
            sum: 3.0,
            min: 0.0,
            max: 1.0,
            last: 1.0,
            increase: 0.5,
            last_timestamp_ms: 110_000,
            sketch: crate::sketch::Sketch::of([0.0, 1.0, 0.5]).to_bytes(),
            histogram: None,
        };
        let r = Chunk::from_points(std::slice::from_ref(&agg)).unwrap();
        let series = SeriesChunks {
            selection: 0,
            labels: vec![],
            chunks: vec![r],
        };
        assert_eq!(series.points().unwrap(), vec![agg]);
        assert!(series.samples().is_err());
        assert_eq!(series.count(), 1);
    }
}
