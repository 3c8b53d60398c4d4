//! The `POST /api/v1/write` handler: decode, check, write, and answer 204 only once the
//! storage acknowledged the samples. A partly bad request stores its good series and is
//! answered 400 saying how many samples were rejected and why (senders do not retry a
//! 400, and the good part is already stored). The message is v1's
//! `prometheus.WriteRequest` or 2.0's `io.prometheus.write.v2.Request`, told apart by the
//! Content-Type's `proto` parameter; either way the answer carries the
//! `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written` headers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use telltale_storage_api::Written;
use tracing::{debug, warn};

use super::decode::{Converted, convert, decompress};
use super::decode_v2::convert_v2;
use crate::error::{Error, Result};
use crate::push::outcome::PushOutcome;
use crate::push::{PushState, text_response};

/// The `protocol` label of this receiver's metrics.
pub const PROTOCOL: &str = "remote_write";

/// Bodies larger than this are decoded on a blocking thread.
const INLINE_DECODE_BYTES: usize = 1 << 20;

/// The response headers of remote_write 2.0: what was stored of the request, as storage
/// counts it (samples: float samples; histograms: native histogram samples; exemplars:
/// those storage's exemplar store took — not those the receiver dropped, nor those the
/// store refused as out of order; a repeat of a series' newest counts, as in Prometheus).
pub const SAMPLES_WRITTEN: &str = "x-prometheus-remote-write-samples-written";
pub const HISTOGRAMS_WRITTEN: &str = "x-prometheus-remote-write-histograms-written";
pub const EXEMPLARS_WRITTEN: &str = "x-prometheus-remote-write-exemplars-written";

/// The protocol version of a request, from its Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// Handles one remote_write request.
pub async fn write(
    State(state): State<Arc<PushState>>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Response {
    let (status, response, outcome) = match body {
        Err(rejection) => {
            let status = rejection.status();
            debug!(%status, error = %rejection.body_text(), "remote_write body rejected");
            (status, text_response(status, &rejection.body_text()), None)
        }
        Ok(body) => match receive(&state, &headers, body).await {
            Ok((outcome, written)) => {
                let (status, mut response) = match outcome.rejection_summary() {
                    None => (
                        StatusCode::NO_CONTENT,
                        StatusCode::NO_CONTENT.into_response(),
                    ),
                    Some(summary) => {
                        debug!(%summary, "remote_write partly rejected");
                        (
                            StatusCode::BAD_REQUEST,
                            text_response(StatusCode::BAD_REQUEST, &summary),
                        )
                    }
                };
                let headers = response.headers_mut();
                for (name, n) in [
                    (SAMPLES_WRITTEN, written.samples),
                    (HISTOGRAMS_WRITTEN, written.histograms),
                    (EXEMPLARS_WRITTEN, written.exemplars),
                ] {
                    headers.insert(HeaderName::from_static(name), HeaderValue::from(n));
                }
                (status, response, Some(outcome))
            }
            Err(e) => {
                let status = e.status_code();
                if status.is_server_error() {
                    warn!(error = %e, "remote_write failed");
                } else {
                    debug!(error = %e, "remote_write rejected");
                }
                (status, text_response(status, &e.to_string()), None)
            }
        },
    };
    state
        .metrics
        .remote_write_requests_total
        .with_label_values(&[status.as_str()])
        .inc();
    if let Some(o) = &outcome {
        state
            .metrics
            .remote_write_samples_total
            .inc_by(o.accepted + o.histograms);
    }
    state.record(PROTOCOL, status, outcome.as_ref());
    response
}

/// Decodes, checks and writes one request: what happened to its samples, and what
/// storage says it wrote (the response headers).
async fn receive(
    state: &PushState,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<(PushOutcome, Written)> {
    let version = check_headers(headers)?;
    let max_decoded = state.max_decoded_bytes();
    let decode = move |body: &[u8]| {
        decompress(body, max_decoded).and_then(|raw| match version {
            Version::V1 => convert(&raw),
            Version::V2 => convert_v2(&raw),
        })
    };
    let converted = if body.len() <= INLINE_DECODE_BYTES {
        decode(&body)?
    } else {
        tokio::task::spawn_blocking(move || decode(&body))
            .await
            .unwrap_or_else(|e| {
                Err(Error::Internal {
                    message: format!("decoder task failed: {e}"),
                })
            })?
    };
    let Converted {
        mut series,
        mut outcome,
    } = converted;
    state.admit(&mut series, &mut outcome);
    let written = state.write_counted(series).await?;
    outcome.exemplars = written.exemplars;
    Ok((outcome, written))
}

/// The message version of a request: v1 without a `proto` parameter (older senders omit
/// the headers), v1 or 2.0 by its value; other messages and encodings other than snappy
/// are refused (415, as the 2.0 spec asks).
fn check_headers(headers: &HeaderMap) -> Result<Version> {
    let mut version = Version::V1;
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = String::from_utf8_lossy(ct.as_bytes()).to_ascii_lowercase();
        let proto = ct
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("proto="))
            .next()
            .map(|p| p.trim().trim_matches('"'));
        version = match proto {
            None | Some("prometheus.writerequest") => Version::V1,
            Some("io.prometheus.write.v2.request") => Version::V2,
            Some(_) => return Err(Error::UnsupportedMediaType { content_type: ct }),
        };
    }
    if let Some(enc) = headers.get(header::CONTENT_ENCODING) {
        let enc = String::from_utf8_lossy(enc.as_bytes()).to_ascii_lowercase();
        if enc.trim() != "snappy" {
            return Err(Error::UnsupportedMediaType {
                content_type: format!("Content-Encoding: {enc}"),
            });
        }
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.insert(n.clone(), HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn tells_the_version_from_the_content_type() {
        let check = |ct: &'static str| check_headers(&headers(&[(header::CONTENT_TYPE, ct)]));
        assert_eq!(check_headers(&HeaderMap::new()).unwrap(), Version::V1);
        let v1 = headers(&[
            (header::CONTENT_TYPE, "application/x-protobuf"),
            (header::CONTENT_ENCODING, "snappy"),
        ]);
        assert_eq!(check_headers(&v1).unwrap(), Version::V1);
        assert_eq!(
            check("application/x-protobuf;proto=prometheus.WriteRequest").unwrap(),
            Version::V1
        );
        assert_eq!(
            check("application/x-protobuf; proto=io.prometheus.write.v2.Request").unwrap(),
            Version::V2
        );
    }

    #[test]
    fn refuses_other_messages_and_encodings() {
        let other = check_headers(&headers(&[(
            header::CONTENT_TYPE,
            "application/x-protobuf;proto=io.prometheus.write.v3.Request",
        )]));
        assert_eq!(
            other.unwrap_err().status_code(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let gzip = check_headers(&headers(&[(header::CONTENT_ENCODING, "gzip")]));
        assert!(gzip.is_err());
    }
}
