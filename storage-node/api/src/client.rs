//! [`GrpcStorage`]: the gRPC client of a storage node.

use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::encoded_write::{self, EncodedWrite};
use crate::pb::storage_client::StorageClient;
use crate::pb::{
    AggregatedSeries, InfoRequest, InfoResponse, LabelNamesRequest, LabelValuesRequest, Resolution,
    SelectRequest, SeriesRequest, TimeSeries,
};
use crate::{
    BatchId, Error, HEADER_BATCH_SEQ, HEADER_WRITER_ID, MAX_MESSAGE_BYTES, Result, SampleReader,
    SampleWriter,
};

/// A client of one storage node. Cheap to clone; connects lazily and reconnects by itself.
#[derive(Clone, Debug)]
pub struct GrpcStorage {
    client: StorageClient<Channel>,
    /// The client's channel, for writes sent pre-encoded ([`EncodedWrite`]).
    channel: Channel,
}

impl GrpcStorage {
    /// A client for `endpoint` (`host:port` or `http://host:port`). Does not connect yet:
    /// the first request does, so components may start before storage is up.
    pub fn connect_lazy(endpoint: &str) -> Result<Self> {
        let uri = if endpoint.contains("://") {
            endpoint.to_string()
        } else {
            format!("http://{endpoint}")
        };
        let ep = Endpoint::from_shared(uri).map_err(|e| Error::InvalidEndpoint {
            endpoint: endpoint.to_string(),
            reason: e.to_string(),
        })?;
        let channel = ep
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .connect_lazy();
        let client = StorageClient::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(GrpcStorage { client, channel })
    }
}

#[async_trait::async_trait]
impl SampleWriter for GrpcStorage {
    async fn write(&self, series: Vec<TimeSeries>) -> Result<u64> {
        self.write_borrowed(&series).await
    }

    async fn write_borrowed(&self, series: &[TimeSeries]) -> Result<u64> {
        let req = tonic::Request::new(EncodedWrite::encode(series));
        let resp = encoded_write::send(self.channel.clone(), req).await?;
        Ok(resp.into_inner().samples_written)
    }

    /// Sends the identity as the `telltale-client-id` / `telltale-batch-seq` headers a
    /// replicated storage node de-duplicates by (a plain node ignores them).
    async fn write_identified(&self, series: Vec<TimeSeries>, id: BatchId) -> Result<u64> {
        let mut req = tonic::Request::new(EncodedWrite::encode(&series));
        let md = req.metadata_mut();
        md.insert(HEADER_WRITER_ID, id.writer.into());
        md.insert(HEADER_BATCH_SEQ, id.seq.into());
        let resp = encoded_write::send(self.channel.clone(), req).await?;
        Ok(resp.into_inner().samples_written)
    }
}

#[async_trait::async_trait]
impl SampleReader for GrpcStorage {
    async fn select(&self, mut req: SelectRequest) -> Result<Vec<TimeSeries>> {
        req.resolution = Resolution::Raw as i32;
        Ok(self.client.clone().select(req).await?.into_inner().series)
    }

    async fn select_aggregated(&self, req: SelectRequest) -> Result<Vec<AggregatedSeries>> {
        if req.resolution == Resolution::Raw as i32 {
            return Err(Error::InvalidRequest(
                "select_aggregated needs a rollup resolution (ONE_MINUTE or ONE_HOUR)".into(),
            ));
        }
        Ok(self
            .client
            .clone()
            .select(req)
            .await?
            .into_inner()
            .aggregated)
    }

    async fn info(&self) -> Result<InfoResponse> {
        Ok(self.client.clone().info(InfoRequest {}).await?.into_inner())
    }

    async fn series(&self, req: SeriesRequest) -> Result<Vec<TimeSeries>> {
        Ok(self.client.clone().series(req).await?.into_inner().series)
    }

    async fn label_names(&self, req: LabelNamesRequest) -> Result<Vec<String>> {
        Ok(self
            .client
            .clone()
            .label_names(req)
            .await?
            .into_inner()
            .values)
    }

    async fn label_values(&self, req: LabelValuesRequest) -> Result<Vec<String>> {
        Ok(self
            .client
            .clone()
            .label_values(req)
            .await?
            .into_inner()
            .values)
    }
}
