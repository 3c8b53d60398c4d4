//! `POST /api/v1/read`: Prometheus's remote read. The body is a snappy-compressed
//! `prometheus.ReadRequest`; every query (label matchers and a time range) is answered
//! with the raw samples of the series it matches. The response type is the first of the
//! request's accepted types that Telltale serves, as Prometheus negotiates it (none
//! listed: `SAMPLES`):
//!
//! - `SAMPLES`: all queries in one storage round, answered as one snappy-compressed
//!   `prometheus.ReadResponse` (what Prometheus's `remote_read` client asks for);
//! - `STREAMED_XOR_CHUNKS`: the queries one after another, each series as
//!   `prometheus.ChunkedReadResponse` frames of Prometheus XOR chunks of at most 120
//!   samples, a series split over frames of about 1 MiB ([`MAX_BYTES_IN_FRAME`]), every
//!   frame preceded by its length (uvarint) and its CRC-32C (big-endian), as Prometheus's
//!   `ChunkedWriter` writes them; content type
//!   `application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse`.
//!
//! A request that accepts no served type, a body that does not decode, or an answer over
//! the engine's sample limit is a 400 with the reason in plain text, as Prometheus
//! answers. A streamed answer that fails after its first frame is cut short (the client
//! sees a truncated stream), as Prometheus's does.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use telltale_storage_api::prompb::read::{
    Chunk, ChunkEncoding, ChunkedReadResponse, ChunkedSeries, MatcherType, Query, QueryResult,
    ReadRequest, ReadResponse, ResponseType,
};
use telltale_storage_api::prompb::{Histogram, Label, TimeSeries, xor};
use telltale_storage_api::{FloatHistogram, MatchOp, Matcher};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::eval::selector::{floats_into, histograms_into};

/// Prometheus's `maxBytesInFrame`: a frame is closed once its chunks pass this size.
pub const MAX_BYTES_IN_FRAME: usize = 1024 * 1024;

/// The content type of a `STREAMED_XOR_CHUNKS` answer.
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// The axum handler.
pub async fn read(State(engine): State<Arc<Engine>>, body: Bytes) -> Response {
    let started = std::time::Instant::now();
    let resp = match decode(&body) {
        Ok((req, ResponseType::StreamedXorChunks)) => {
            streamed(Arc::clone(&engine), req).into_response()
        }
        Ok((req, ResponseType::Samples)) => match samples(&engine, &req).await {
            Ok(bytes) => (
                [
                    (header::CONTENT_TYPE, "application/x-protobuf"),
                    (header::CONTENT_ENCODING, "snappy"),
                ],
                bytes,
            )
                .into_response(),
            Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
        },
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    engine
        .metrics()
        .observe_request("read", started.elapsed().as_secs_f64());
    resp
}

/// A `STREAMED_XOR_CHUNKS` answer: the queries are selected one after another, each
/// one's frames sent as soon as it is answered. A query that fails before anything was
/// sent is a 400; a later failure ends the stream early.
fn streamed(engine: Arc<Engine>, req: ReadRequest) -> Response {
    let selections = match req
        .queries
        .iter()
        .map(selection)
        .collect::<Result<Vec<_>>>()
    {
        Ok(s) => s,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let frames = futures::stream::unfold(
        (engine, selections.into_iter().enumerate()),
        |(engine, mut queries)| async move {
            let (index, selection) = queries.next()?;
            let answer = engine.select_raw(vec![selection]).await.and_then(|mut a| {
                let series = a.pop().unwrap_or_default();
                query_frames(index as i64, series)
            });
            let item = answer.map(Bytes::from).map_err(|e| {
                tracing::warn!(error = %e, query = index, "remote read: stream cut short");
                std::io::Error::other(e.to_string())
            });
            Some((item, (engine, queries)))
        },
    );
    (
        [(header::CONTENT_TYPE, STREAMED_CONTENT_TYPE)],
        axum::body::Body::from_stream(frames),
    )
        .into_response()
}

/// The framed `ChunkedReadResponse`s of one query's series: one series per frame, a
/// series cut into several frames when its chunks pass [`MAX_BYTES_IN_FRAME`].
fn query_frames(
    query_index: i64,
    series: Vec<telltale_storage_api::SeriesChunks>,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for s in series {
        // Float samples only: native histograms would need Prometheus's float
        // histogram chunk encoding, which is not served.
        let mut samples = Vec::new();
        floats_into(&s.chunks, &mut samples)?;
        let labels = sorted_labels(s.labels);
        let label_bytes: usize = labels.iter().map(Message::encoded_len).sum();
        let budget = MAX_BYTES_IN_FRAME.saturating_sub(label_bytes);
        let mut chunks = Vec::new();
        let mut used = 0;
        let encoded = xor::chunks(&samples);
        let last = encoded.len();
        for (i, c) in encoded.into_iter().enumerate() {
            let chunk = Chunk {
                min_time_ms: c.min_time_ms,
                max_time_ms: c.max_time_ms,
                r#type: ChunkEncoding::Xor as i32,
                data: c.data,
            };
            // The chunk and its field's key and length within the series.
            let len = chunk.encoded_len();
            used += 1 + prost::encoding::encoded_len_varint(len as u64) + len;
            chunks.push(chunk);
            if used < budget && i + 1 < last {
                continue;
            }
            let frame = ChunkedReadResponse {
                chunked_series: vec![ChunkedSeries {
                    labels: labels.clone(),
                    chunks: std::mem::take(&mut chunks),
                }],
                query_index,
            };
            write_frame(&mut out, &frame.encode_to_vec());
            used = 0;
        }
    }
    Ok(out)
}

/// One frame as Prometheus's `ChunkedWriter` writes it: the message's length as a
/// uvarint, its CRC-32C (Castagnoli) big-endian, then the message.
fn write_frame(out: &mut Vec<u8>, message: &[u8]) {
    telltale_storage_api::chunk::bits::put_uvarint(out, message.len() as u64);
    out.extend_from_slice(&crc32c::crc32c(message).to_be_bytes());
    out.extend_from_slice(message);
}

/// Labels as remote read answers them: sorted by name.
fn sorted_labels(labels: Vec<telltale_storage_api::Label>) -> Vec<Label> {
    let mut labels: Vec<Label> = labels
        .into_iter()
        .map(|l| Label {
            name: l.name,
            value: l.value,
        })
        .collect();
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// The snappy-compressed `ReadResponse` (`SAMPLES`) to `req`.
async fn samples(engine: &Engine, req: &ReadRequest) -> Result<Vec<u8>> {
    let selections = req
        .queries
        .iter()
        .map(selection)
        .collect::<Result<Vec<_>>>()?;
    let answers = engine.select_raw(selections).await?;
    let mut results = Vec::with_capacity(answers.len());
    for series in answers {
        let mut timeseries = Vec::with_capacity(series.len());
        for s in series {
            let mut samples = Vec::new();
            floats_into(&s.chunks, &mut samples)?;
            let mut histograms = Vec::new();
            histograms_into(&s.chunks, &mut histograms)?;
            let mut ts = TimeSeries::of(sorted_labels(s.labels), &samples);
            ts.histograms = histograms
                .iter()
                .map(|(t, h)| histogram_proto(*t, h))
                .collect();
            timeseries.push(ts);
        }
        results.push(QueryResult { timeseries });
    }
    let encoded = ReadResponse { results }.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&encoded)
        .map_err(|e| Error::internal(e.to_string()))
}

/// A native histogram sample as Prometheus's remote read sends it (an integer histogram
/// when its counts are whole, else a float one; custom bounds included).
fn histogram_proto(t_ms: i64, h: &FloatHistogram) -> Histogram {
    Histogram::from_float_histogram(h, t_ms)
}

/// The request, decoded, and the response type to answer it with: the first accepted
/// type served, or `SAMPLES` when none is listed (Prometheus's `NegotiateResponseType`).
fn decode(body: &[u8]) -> Result<(ReadRequest, ResponseType)> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Error::bad_data(format!("snappy: {e}")))?;
    let req = ReadRequest::decode(raw.as_slice())
        .map_err(|e| Error::bad_data(format!("protobuf: {e}")))?;
    let accepted = &req.accepted_response_types;
    if accepted.is_empty() {
        return Ok((req, ResponseType::Samples));
    }
    let Some(chosen) = accepted
        .iter()
        .find_map(|t| ResponseType::try_from(*t).ok())
    else {
        return Err(Error::bad_data(format!(
            "server does not support any of the requested response types: {accepted:?}; \
             supported: [SAMPLES STREAMED_XOR_CHUNKS]"
        )));
    };
    Ok((req, chosen))
}

/// A query as a storage selection: its matchers and time range.
fn selection(q: &Query) -> Result<(Vec<Matcher>, i64, i64)> {
    if q.matchers.is_empty() {
        return Err(Error::bad_data("a query needs at least one matcher"));
    }
    let matchers = q
        .matchers
        .iter()
        .map(|m| {
            let op = match MatcherType::try_from(m.r#type) {
                Ok(MatcherType::Eq) => MatchOp::Equal,
                Ok(MatcherType::Neq) => MatchOp::NotEqual,
                Ok(MatcherType::Re) => MatchOp::Regex,
                Ok(MatcherType::Nre) => MatchOp::NotRegex,
                Err(_) => {
                    return Err(Error::bad_data(format!(
                        "unknown matcher type {}",
                        m.r#type
                    )));
                }
            };
            Ok(Matcher::new(op, m.name.clone(), m.value.clone()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((matchers, q.start_timestamp_ms, q.end_timestamp_ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use telltale_storage_api::prompb::read::LabelMatcher;

    fn compressed(req: &ReadRequest) -> Vec<u8> {
        snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .unwrap()
    }

    #[test]
    fn requests_are_checked() {
        let query = Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 10,
            matchers: vec![LabelMatcher {
                r#type: MatcherType::Re as i32,
                name: "__name__".into(),
                value: "up|x".into(),
            }],
            hints: None,
        };
        let req = ReadRequest {
            queries: vec![query.clone()],
            accepted_response_types: vec![],
        };
        let (decoded, chosen) = decode(&compressed(&req)).unwrap();
        assert_eq!(chosen, ResponseType::Samples);
        let (matchers, start, end) = selection(&decoded.queries[0]).unwrap();
        assert_eq!((start, end), (0, 10));
        assert_eq!(matchers[0].op, MatchOp::Regex as i32);
        let accepting = |types: Vec<i32>| ReadRequest {
            queries: vec![query.clone()],
            accepted_response_types: types,
        };
        let streamed = ResponseType::StreamedXorChunks as i32;
        for (types, expected) in [
            (vec![streamed], ResponseType::StreamedXorChunks),
            (vec![streamed, 0], ResponseType::StreamedXorChunks),
            (vec![0, streamed], ResponseType::Samples),
            (vec![7, streamed], ResponseType::StreamedXorChunks),
        ] {
            let (_, chosen) = decode(&compressed(&accepting(types))).unwrap();
            assert_eq!(chosen, expected);
        }
        let e = decode(&compressed(&accepting(vec![7])))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("does not support any of the requested response types"),
            "{e}"
        );
        assert!(decode(b"not snappy").is_err());
        let empty = Query {
            matchers: vec![],
            ..Query::default()
        };
        assert!(selection(&empty).is_err());
    }

    /// Reads back the frames of [`query_frames`]: length, checksum, message.
    fn read_frames(mut bytes: &[u8]) -> Vec<ChunkedReadResponse> {
        let mut out = Vec::new();
        while !bytes.is_empty() {
            let (len, used) = telltale_storage_api::chunk::bits::read_uvarint(bytes).unwrap();
            let crc = u32::from_be_bytes(bytes[used..used + 4].try_into().unwrap());
            let msg = &bytes[used + 4..used + 4 + len as usize];
            assert_eq!(crc32c::crc32c(msg), crc);
            out.push(ChunkedReadResponse::decode(msg).unwrap());
            bytes = &bytes[used + 4 + len as usize..];
        }
        out
    }

    #[test]
    fn a_long_series_is_cut_into_frames_of_about_a_mebibyte() {
        // Scrambled values barely compress: about 7 bytes a sample, 2 MB in all.
        let samples: Vec<(i64, f64)> = (0..300_000u64)
            .map(|i| {
                let bits = 0x4000_0000_0000_0000 ^ (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 12);
                (i as i64 * 1000, f64::from_bits(bits))
            })
            .collect();
        let series = telltale_storage_api::SeriesChunks {
            labels: vec![telltale_storage_api::Label {
                name: "__name__".into(),
                value: "x".into(),
            }],
            chunks: vec![telltale_storage_api::Chunk::from_samples(&samples).unwrap()],
            ..Default::default()
        };
        let frames = read_frames(&query_frames(3, vec![series]).unwrap());
        assert!(frames.len() > 1, "{} frames", frames.len());
        let mut decoded_samples = 0;
        for f in &frames {
            assert_eq!(f.query_index, 3);
            assert_eq!(f.chunked_series.len(), 1);
            assert!(
                f.encoded_len() < MAX_BYTES_IN_FRAME + 2048,
                "{}",
                f.encoded_len()
            );
            for c in &f.chunked_series[0].chunks {
                decoded_samples += u16::from_be_bytes([c.data[0], c.data[1]]) as usize;
            }
        }
        assert_eq!(decoded_samples, samples.len());
        let first = &frames[0].chunked_series[0].chunks[0];
        assert_eq!((first.min_time_ms, first.max_time_ms), (0, 119_000));
        assert_eq!(first.data, xor::encode(&samples[..120]));
    }
}
