//! [`LocalStorage`]: the storage traits over a replica in the same process, for
//! `telltale standalone` (scraper, push receivers, query engine and rule evaluator beside
//! their replica). Calls go straight to the replica's storage service — the same
//! proposal, linearizable check and engine reads a gRPC request runs — with no protobuf
//! encoding and no socket on the way.

use async_trait::async_trait;
use telltale_storage::Engine;
use telltale_storage_api::{
    BatchId, DeleteSeriesRequest, ExemplarsRequest, InfoResponse, LabelNamesRequest,
    LabelValuesRequest, Result, SampleReader, SampleWriter, SelectRequest, SeriesChunks,
    SeriesExemplars, SeriesRequest, SharedSample, SnapshotRequest, StorageAdmin, TimeSeries,
    Written,
};

use crate::convert;
use crate::storage_service::{ReplicaStorage, run_blocking};

/// A replica's storage API, called in process. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LocalStorage {
    storage: ReplicaStorage,
}

impl LocalStorage {
    pub(crate) fn new(storage: ReplicaStorage) -> Self {
        LocalStorage { storage }
    }

    /// Runs `f` on the engine after the read is admitted (leader, linearizable).
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Engine) -> telltale_storage::Result<T> + Send + 'static,
    ) -> Result<T> {
        let engine = self.storage.admit(false).await?;
        Ok(run_blocking(move || f(&engine)).await?)
    }
}

#[async_trait]
impl SampleWriter for LocalStorage {
    async fn write(&self, series: Vec<TimeSeries>) -> Result<u64> {
        self.write_borrowed(&series).await
    }

    async fn write_borrowed(&self, series: &[TimeSeries]) -> Result<u64> {
        Ok(self.storage.propose(series, None).await?.samples)
    }

    async fn write_identified(&self, series: Vec<TimeSeries>, id: BatchId) -> Result<u64> {
        Ok(self.storage.propose(&series, Some(id)).await?.samples)
    }

    async fn write_shared(&self, samples: &[SharedSample]) -> Result<u64> {
        Ok(self.storage.propose_shared(samples).await?.samples)
    }

    async fn write_counted(&self, series: Vec<TimeSeries>) -> Result<Written> {
        let committed = self.storage.propose(&series, None).await?;
        Ok(Written {
            samples: committed.samples - committed.histograms,
            exemplars: committed.exemplars,
            histograms: committed.histograms,
        })
    }
}

#[async_trait]
impl SampleReader for LocalStorage {
    async fn select(&self, req: SelectRequest) -> Result<Vec<SeriesChunks>> {
        self.read(move |e| convert::select(e, &req)).await
    }

    async fn info(&self) -> Result<InfoResponse> {
        self.read(|e| {
            Ok(InfoResponse {
                tiers: e.info()?,
                late_writes: Some(e.late_writes()),
            })
        })
        .await
    }

    async fn series(&self, req: SeriesRequest) -> Result<Vec<TimeSeries>> {
        self.read(move |e| convert::series(e, &req)).await
    }

    async fn label_names(&self, req: LabelNamesRequest) -> Result<Vec<String>> {
        self.read(move |e| convert::label_names(e, &req)).await
    }

    async fn label_values(&self, req: LabelValuesRequest) -> Result<Vec<String>> {
        self.read(move |e| convert::label_values(e, &req)).await
    }

    async fn exemplars(&self, req: ExemplarsRequest) -> Result<Vec<SeriesExemplars>> {
        self.read(move |e| convert::exemplars(e, &req)).await
    }
}

#[async_trait]
impl StorageAdmin for LocalStorage {
    async fn delete_series(&self, req: DeleteSeriesRequest) -> Result<()> {
        Ok(self.storage.delete_series(req).await?)
    }

    async fn clean_tombstones(&self) -> Result<()> {
        Ok(self.storage.clean_tombstones().await?)
    }

    async fn snapshot(&self, req: SnapshotRequest) -> Result<Vec<String>> {
        let dir = self.storage.snapshot(&req.name, req.skip_head).await?;
        Ok(vec![dir.display().to_string()])
    }
}
