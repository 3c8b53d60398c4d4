//! [`GrpcStorage`]: the gRPC client of a storage node.

use std::sync::Arc;
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};

use crate::encoded_write::{self, EncodedWrite};
use crate::headers::{HEADER_BATCH_SEQ, HEADER_WRITER_ID};
use crate::pb::storage_client::StorageClient;
use crate::pb::{
    ExemplarsRequest, InfoRequest, InfoResponse, LabelNamesRequest, LabelValuesRequest,
    SelectRequest, SelectResponse, SeriesChunks, SeriesExemplars, SeriesRequest, TimeSeries,
};
use crate::tls::{self, ClientTls, Connector};
use crate::{BatchId, Error, MAX_MESSAGE_BYTES, Result, SampleReader, SampleWriter, Written};

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
        let channel = channel(endpoint)?;
        let client = storage_client(channel.clone());
        Ok(GrpcStorage { client, channel })
    }

    /// The node's channel, for the other services on it (admin).
    pub(crate) fn channel(&self) -> Channel {
        self.channel.clone()
    }
}

/// A lazily connecting gRPC channel to a storage replica at `address` (`host:port` or a
/// URL): no Nagle, keep-alive pings, a short connect timeout; over mutual TLS when the
/// process has a client identity installed ([`tls::client::global`]). Every client of a
/// replica (storage, Raft, status) uses one of these.
pub fn channel(address: &str) -> Result<Channel> {
    let tls = tls::client::global();
    channel_with(address, tls.enabled().then_some(tls))
}

/// [`channel`] with `tls` when given, else the process's identities.
pub fn channel_for(address: &str, tls: Option<&Arc<ClientTls>>) -> Result<Channel> {
    match tls {
        Some(tls) => channel_with(address, Some(tls)),
        None => channel(address),
    }
}

/// [`channel`] with the given TLS identities (`None`: plain).
pub fn channel_with(address: &str, tls: Option<&Arc<ClientTls>>) -> Result<Channel> {
    let uri = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    let endpoint = Endpoint::from_shared(uri).map_err(|e| Error::InvalidEndpoint {
        endpoint: address.to_string(),
        reason: e.to_string(),
    })?;
    let endpoint = endpoint
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5));
    Ok(match tls {
        Some(tls) => endpoint.connect_with_connector_lazy(Connector(tls.clone())),
        None => endpoint.connect_lazy(),
    })
}

/// A storage client on `channel` with the message size limits both ways.
pub fn storage_client(channel: Channel) -> StorageClient<Channel> {
    StorageClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

#[async_trait::async_trait]
impl SampleWriter for GrpcStorage {
    async fn write(&self, series: Vec<TimeSeries>) -> Result<u64> {
        self.write_borrowed(&series).await
    }

    async fn write_borrowed(&self, series: &[TimeSeries]) -> Result<u64> {
        let req = tonic::Request::new(EncodedWrite::encode(series));
        let resp = encoded_write::send(self.channel.clone(), req).await?;
        Ok(written(&resp.into_inner()))
    }

    async fn write_counted(&self, series: Vec<TimeSeries>) -> Result<Written> {
        let req = tonic::Request::new(EncodedWrite::encode(&series));
        let resp = encoded_write::send(self.channel.clone(), req)
            .await?
            .into_inner();
        Ok(Written {
            samples: resp.samples_written,
            exemplars: resp.exemplars_written,
            histograms: resp.histograms_written,
        })
    }

    /// Sends the identity as the `telltale-client-id` / `telltale-batch-seq` headers a
    /// replicated storage node de-duplicates by (a plain node ignores them).
    async fn write_identified(&self, series: Vec<TimeSeries>, id: BatchId) -> Result<u64> {
        let mut req = tonic::Request::new(EncodedWrite::encode(&series));
        let md = req.metadata_mut();
        md.insert(HEADER_WRITER_ID, id.writer.into());
        md.insert(HEADER_BATCH_SEQ, id.seq.into());
        let resp = encoded_write::send(self.channel.clone(), req).await?;
        Ok(written(&resp.into_inner()))
    }
}

#[async_trait::async_trait]
impl SampleReader for GrpcStorage {
    async fn select(&self, req: SelectRequest) -> Result<Vec<SeriesChunks>> {
        collect_select(self.client.clone().select(req).await?.into_inner()).await
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

    async fn exemplars(&self, req: ExemplarsRequest) -> Result<Vec<SeriesExemplars>> {
        Ok(self
            .client
            .clone()
            .query_exemplars(req)
            .await?
            .into_inner()
            .series)
    }
}

/// Every series of a streamed `Select` answer.
pub async fn collect_select(
    mut stream: tonic::Streaming<SelectResponse>,
) -> Result<Vec<SeriesChunks>> {
    let mut out = Vec::new();
    while let Some(batch) = stream.message().await? {
        out.extend(batch.series);
    }
    Ok(out)
}

/// Float and histogram samples a write made durable.
fn written(resp: &crate::pb::WriteResponse) -> u64 {
    resp.samples_written + resp.histograms_written
}
