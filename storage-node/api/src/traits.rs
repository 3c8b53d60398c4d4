//! The two seams through which components reach samples.

use crate::Result;
use crate::pb::{
    ExemplarsRequest, InfoResponse, LabelNamesRequest, LabelValuesRequest, SelectRequest,
    SeriesChunks, SeriesExemplars, SeriesRequest, TimeSeries,
};
use crate::shared::SharedSample;

/// Where collected samples go. Returns once the samples are durable (acknowledged).
#[async_trait::async_trait]
pub trait SampleWriter: Send + Sync {
    /// Appends `series` and returns the number of samples made durable (float and
    /// native histogram samples together).
    async fn write(&self, series: Vec<TimeSeries>) -> Result<u64>;

    /// Appends `series`, borrowed: for a caller that keeps the batch whatever happens (the
    /// disk queue keeps it for replay when the write fails). Network clients encode the
    /// request from the borrow; the default copies the batch.
    async fn write_borrowed(&self, series: &[TimeSeries]) -> Result<u64> {
        self.write(series.to_vec()).await
    }

    /// Appends `series` as the batch `id`. A storage that de-duplicates (the replicated
    /// cluster) applies a batch only when `id.seq` is above the last one applied for
    /// `id.writer`, so re-sending an acknowledged batch changes nothing. A writer sends
    /// its identified batches one at a time, in increasing `seq`. The default ignores
    /// the identity.
    async fn write_identified(&self, series: Vec<TimeSeries>, id: BatchId) -> Result<u64> {
        let _ = id;
        self.write(series).await
    }

    /// Appends one sample per entry of `samples`, whose label sets are shared with the
    /// writer ([`crate::shared`]). A storage in the same process finds each series by its
    /// precomputed hash; the default converts to messages and calls [`Self::write`].
    async fn write_shared(&self, samples: &[SharedSample]) -> Result<u64> {
        self.write(crate::shared::to_time_series(samples)).await
    }

    /// Appends `series` and says what was written: the samples, and the exemplars a
    /// storage with an exemplar store took (not those it refused as out of order). The
    /// default counts every exemplar handed over.
    async fn write_counted(&self, series: Vec<TimeSeries>) -> Result<Written> {
        let exemplars = series.iter().map(|s| s.exemplars.len() as u64).sum();
        let histograms = series.iter().map(|s| s.histograms.len() as u64).sum();
        let samples = self.write(series).await?;
        Ok(Written {
            samples: samples.saturating_sub(histograms),
            exemplars,
            histograms,
        })
    }
}

/// What a write made durable ([`SampleWriter::write_counted`]): float samples,
/// exemplars and native histogram samples, each counted apart (the `…-Samples-Written`,
/// `…-Exemplars-Written` and `…-Histograms-Written` headers of remote write 2.0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub samples: u64,
    pub exemplars: u64,
    pub histograms: u64,
}

impl Written {
    /// Samples of either kind ([`SampleWriter::write`]'s count).
    pub fn total(&self) -> u64 {
        self.samples + self.histograms
    }
}

/// The persistent identity of a batch: which writer sent it and its number, increasing
/// per writer (gaps allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BatchId {
    /// The writer's id; never 0 (0 means anonymous).
    pub writer: u64,
    pub seq: u64,
}

/// Where the query engine reads samples and the index from.
#[async_trait::async_trait]
pub trait SampleReader: Send + Sync {
    /// Every selection of a query in one round: per selection, the series matching it
    /// with their data within its bounds (raw samples, or rollup points at its
    /// resolution) as compressed chunks, ordered by labels within a selection. Fails
    /// with a `RESOURCE_EXHAUSTED` status, having stopped reading, when the answer would
    /// pass the request's budget of series or samples.
    async fn select(&self, req: SelectRequest) -> Result<Vec<SeriesChunks>>;
    /// Retention and rollup progress of each tier.
    async fn info(&self) -> Result<InfoResponse>;
    /// Label sets of the series matching any of the request's matcher sets.
    async fn series(&self, req: SeriesRequest) -> Result<Vec<TimeSeries>>;
    /// Sorted label names.
    async fn label_names(&self, req: LabelNamesRequest) -> Result<Vec<String>>;
    /// Sorted values of one label.
    async fn label_values(&self, req: LabelValuesRequest) -> Result<Vec<String>>;
    /// The exemplars of the series matching any of the request's matcher sets, within
    /// its time bounds: per series (ordered by labels), oldest first.
    async fn exemplars(&self, req: ExemplarsRequest) -> Result<Vec<SeriesExemplars>>;
}
