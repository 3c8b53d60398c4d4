//! [`GrpcService`]: the `telltale.storage.v1.Storage` gRPC service over an [`Engine`],
//! and [`serve`] to run it on a listener.

use std::future::Future;
use std::sync::Arc;

use telltale_storage_api::MAX_MESSAGE_BYTES;
use telltale_storage_api::pb::storage_server::{Storage, StorageServer};
use telltale_storage_api::pb::{
    InfoRequest, InfoResponse, LabelNamesRequest, LabelValuesRequest, Resolution, SelectRequest,
    SelectResponse, SeriesRequest, SeriesResponse, StringsResponse, WriteRequest, WriteResponse,
};
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tracing::{error, info};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// Answers gRPC requests by running the engine on tokio's blocking threads.
#[derive(Clone, Debug)]
pub struct GrpcService {
    engine: Arc<Engine>,
}

impl GrpcService {
    pub fn new(engine: Arc<Engine>) -> Self {
        GrpcService { engine }
    }

    /// Runs `f` on a blocking thread and turns its error into a gRPC status.
    async fn run<T, F>(&self, method: &'static str, f: F) -> Result<T, Status>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> Result<T> + Send + 'static,
    {
        let engine = self.engine.clone();
        let result = tokio::task::spawn_blocking(move || f(&engine))
            .await
            .map_err(|e| Error::Task(e.to_string()))
            .and_then(|r| r);
        result.map_err(|e| {
            if !e.is_invalid_argument() {
                error!(method, error = %e, "storage request failed");
            }
            Status::from(e)
        })
    }
}

/// The service ready to add to a tonic server, with message size limits set to
/// [`MAX_MESSAGE_BYTES`] both ways.
pub fn grpc_service(engine: Arc<Engine>) -> StorageServer<GrpcService> {
    StorageServer::new(GrpcService::new(engine))
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// Serves the storage service on `listener` until `shutdown` completes, then finishes
/// the requests in flight and returns.
pub async fn serve(
    engine: Arc<Engine>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "storage gRPC server listening");
    }
    tonic::transport::Server::builder()
        .add_service(grpc_service(engine))
        .serve_with_incoming_shutdown(
            // No Nagle: a response's header and data frames go out at once, not one
            // delayed-ACK (40 ms) apart.
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await?;
    Ok(())
}

#[tonic::async_trait]
impl Storage for GrpcService {
    async fn write(&self, req: Request<WriteRequest>) -> Result<Response<WriteResponse>, Status> {
        let series = req.into_inner().series;
        let samples_written = self.run("write", move |e| e.write(series)).await?;
        Ok(Response::new(WriteResponse { samples_written }))
    }

    async fn select(
        &self,
        req: Request<SelectRequest>,
    ) -> Result<Response<SelectResponse>, Status> {
        let req = req.into_inner();
        let resp = if req.resolution == Resolution::Raw as i32 {
            let series = self.run("select", move |e| e.select(&req)).await?;
            SelectResponse {
                series,
                aggregated: Vec::new(),
            }
        } else {
            let aggregated = self
                .run("select", move |e| e.select_aggregated(&req))
                .await?;
            SelectResponse {
                series: Vec::new(),
                aggregated,
            }
        };
        Ok(Response::new(resp))
    }

    async fn info(&self, _: Request<InfoRequest>) -> Result<Response<InfoResponse>, Status> {
        let (tiers, late_writes) = self
            .run("info", |e| Ok((e.info()?, e.late_writes())))
            .await?;
        Ok(Response::new(InfoResponse {
            tiers,
            late_writes: Some(late_writes),
        }))
    }

    async fn series(
        &self,
        req: Request<SeriesRequest>,
    ) -> Result<Response<SeriesResponse>, Status> {
        let req = req.into_inner();
        let series = self.run("series", move |e| e.series(&req)).await?;
        Ok(Response::new(SeriesResponse { series }))
    }

    async fn label_names(
        &self,
        req: Request<LabelNamesRequest>,
    ) -> Result<Response<StringsResponse>, Status> {
        let req = req.into_inner();
        let values = self
            .run("label_names", move |e| e.label_names(&req))
            .await?;
        Ok(Response::new(StringsResponse { values }))
    }

    async fn label_values(
        &self,
        req: Request<LabelValuesRequest>,
    ) -> Result<Response<StringsResponse>, Status> {
        let req = req.into_inner();
        let values = self
            .run("label_values", move |e| e.label_values(&req))
            .await?;
        Ok(Response::new(StringsResponse { values }))
    }
}
