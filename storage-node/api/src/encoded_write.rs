//! [`EncodedWrite`]: a `WriteRequest` encoded once from borrowed series and sent as it is.
//!
//! A writer that must keep its batch after sending it (the disk queue keeps it until
//! storage acknowledges; the sharded client re-sends it to the next replica) would
//! otherwise copy every label string of the batch once per attempt, because tonic takes
//! the request message by value. The encoded bytes are shared instead: a retry re-sends
//! the same buffer.

use bytes::{BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

use crate::MAX_MESSAGE_BYTES;
use crate::pb::{TimeSeries, WriteResponse};

/// The field number of `WriteRequest.series`.
const SERIES_FIELD: u32 = 1;

/// The wire bytes of a `WriteRequest`. Cheap to clone.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EncodedWrite {
    bytes: Bytes,
}

impl EncodedWrite {
    /// Encodes `series` as the `series` field of a `WriteRequest`, in order.
    pub fn encode<'a>(series: impl IntoIterator<Item = &'a TimeSeries>) -> Self {
        let mut buf = Vec::new();
        for s in series {
            prost::encoding::message::encode(SERIES_FIELD, s, &mut buf);
        }
        EncodedWrite { bytes: buf.into() }
    }
}

/// Encoding writes the stored bytes. Decoding (never needed to send) re-encodes each
/// series it reads, so a decoded request is the same request.
impl prost::Message for EncodedWrite {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.bytes);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl bytes::Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        if tag != SERIES_FIELD {
            return prost::encoding::skip_field(wire_type, tag, buf, ctx);
        }
        let mut series = TimeSeries::default();
        prost::encoding::message::merge(wire_type, &mut series, buf, ctx)?;
        let mut bytes = self.bytes.to_vec();
        prost::encoding::message::encode(SERIES_FIELD, &series, &mut bytes);
        self.bytes = bytes.into();
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.bytes.len()
    }

    fn clear(&mut self) {
        *self = EncodedWrite::default();
    }
}

/// Calls the Storage service's `Write` method on `channel` with the encoded request: the
/// same call, method path and message limits as the generated client's `write`.
pub async fn send(
    channel: Channel,
    request: tonic::Request<EncodedWrite>,
) -> Result<tonic::Response<WriteResponse>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(format!("Service was not ready: {e}")))?;
    let path = PathAndQuery::from_static("/telltale.storage.v1.Storage/Write");
    let mut request = request;
    request.extensions_mut().insert(tonic::GrpcMethod::new(
        "telltale.storage.v1.Storage",
        "Write",
    ));
    grpc.unary(request, path, tonic_prost::ProstCodec::default())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{Label, Sample, WriteRequest};
    use prost::Message;

    fn series(name: &str, n: usize) -> TimeSeries {
        TimeSeries {
            labels: vec![Label::new("__name__", name)],
            samples: (0..n)
                .map(|i| Sample {
                    timestamp_ms: i as i64,
                    value: i as f64 * 0.5,
                })
                .collect(),
            exemplars: Vec::new(),
            histograms: Vec::new(),
        }
    }

    #[test]
    fn bytes_are_those_of_the_write_request() {
        let batch = vec![series("a", 2), series("b", 0), series("c", 3)];
        let encoded = EncodedWrite::encode(&batch);
        let request = WriteRequest {
            series: batch.clone(),
        };
        assert_eq!(encoded.bytes.as_ref(), request.encode_to_vec().as_slice());
        assert_eq!(encoded.encode_to_vec(), request.encode_to_vec());
        assert_eq!(encoded.encoded_len(), request.encoded_len());
        assert_eq!(
            WriteRequest::decode(encoded.bytes.clone()).unwrap(),
            request
        );
        assert_eq!(EncodedWrite::encode(&[]).encoded_len(), 0);
    }

    #[test]
    fn decoding_gives_the_same_request() {
        let batch = vec![series("a", 1), series("b", 4)];
        let bytes = WriteRequest { series: batch }.encode_to_vec();
        let decoded = <EncodedWrite as Message>::decode(bytes.as_slice()).unwrap();
        assert_eq!(decoded.encode_to_vec(), bytes);
        assert!(<EncodedWrite as Message>::decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
