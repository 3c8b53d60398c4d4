//! `POST /api/v1/read`: Prometheus's remote read. The body is a snappy-compressed
//! `prometheus.ReadRequest`; every query (label matchers and a time range) is answered
//! with the raw samples of the series it matches, all queries in one storage round, as
//! one snappy-compressed `prometheus.ReadResponse` (response type `SAMPLES`, what
//! Prometheus's `remote_read` client asks for). A request that accepts only streamed
//! chunks, a body that does not decode, or an answer over the engine's sample limit is a
//! 400 with the reason in plain text, as Prometheus answers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message;
use telltale_storage_api::prompb::read::{
    MatcherType, Query, QueryResult, ReadRequest, ReadResponse, ResponseType,
};
use telltale_storage_api::prompb::{Label, TimeSeries};
use telltale_storage_api::{MatchOp, Matcher};

use crate::engine::Engine;
use crate::error::{Error, Result};

/// The axum handler.
pub async fn read(State(engine): State<Arc<Engine>>, body: Bytes) -> Response {
    let started = std::time::Instant::now();
    let resp = match answer(&engine, &body).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/x-protobuf"),
                (header::CONTENT_ENCODING, "snappy"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    engine
        .metrics()
        .observe_request("read", started.elapsed().as_secs_f64());
    resp
}

/// The snappy-compressed `ReadResponse` to the snappy-compressed `ReadRequest` `body`.
async fn answer(engine: &Engine, body: &[u8]) -> Result<Vec<u8>> {
    let req = decode(body)?;
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
            let samples = s.samples().map_err(|e| Error::internal(e.to_string()))?;
            let mut labels: Vec<Label> = s
                .labels
                .into_iter()
                .map(|l| Label {
                    name: l.name,
                    value: l.value,
                })
                .collect();
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            timeseries.push(TimeSeries::of(labels, &samples));
        }
        results.push(QueryResult { timeseries });
    }
    let encoded = ReadResponse { results }.encode_to_vec();
    snap::raw::Encoder::new()
        .compress_vec(&encoded)
        .map_err(|e| Error::internal(e.to_string()))
}

/// The request, checked: it decodes, and `SAMPLES` is an accepted response type.
fn decode(body: &[u8]) -> Result<ReadRequest> {
    let raw = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| Error::bad_data(format!("snappy: {e}")))?;
    let req = ReadRequest::decode(raw.as_slice())
        .map_err(|e| Error::bad_data(format!("protobuf: {e}")))?;
    let accepted = &req.accepted_response_types;
    if !accepted.is_empty() && !accepted.contains(&(ResponseType::Samples as i32)) {
        return Err(Error::bad_data(format!(
            "none of the requested response types are supported: {accepted:?} (supported: SAMPLES)"
        )));
    }
    Ok(req)
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
        let decoded = decode(&compressed(&req)).unwrap();
        let (matchers, start, end) = selection(&decoded.queries[0]).unwrap();
        assert_eq!((start, end), (0, 10));
        assert_eq!(matchers[0].op, MatchOp::Regex as i32);
        let streamed_only = ReadRequest {
            queries: vec![query],
            accepted_response_types: vec![ResponseType::StreamedXorChunks as i32],
        };
        let e = decode(&compressed(&streamed_only)).unwrap_err().to_string();
        assert!(e.contains("none of the requested response types"), "{e}");
        assert!(decode(b"not snappy").is_err());
        let empty = Query {
            matchers: vec![],
            ..Query::default()
        };
        assert!(selection(&empty).is_err());
    }
}
