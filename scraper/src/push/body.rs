//! Request bodies of the push receivers: `Content-Encoding: gzip` (or `identity`/none)
//! decompressed without ever holding more than a limit. Pure.

use std::io::Read;

use axum::http::{HeaderMap, header};

use crate::error::{Error, Result};

/// The body after its `Content-Encoding` is undone, at most `max_decoded` bytes.
pub fn decode(headers: &HeaderMap, body: &[u8], max_decoded: usize) -> Result<Vec<u8>> {
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    match encoding.as_str() {
        "" | "identity" => Ok(body.to_vec()),
        "gzip" | "x-gzip" => gunzip(body, max_decoded),
        other => Err(Error::UnsupportedMediaType {
            content_type: format!("Content-Encoding: {other}"),
        }),
    }
}

/// Inflates a gzip stream, refusing to produce more than `max_decoded` bytes.
pub fn gunzip(body: &[u8], max_decoded: usize) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max_decoded));
    let mut reader = flate2::read::MultiGzDecoder::new(body).take(max_decoded as u64 + 1);
    reader
        .read_to_end(&mut out)
        .map_err(|e| Error::Decompress {
            encoding: "gzip",
            message: e.to_string(),
        })?;
    if out.len() > max_decoded {
        return Err(Error::TooLarge {
            what: "decompressed body",
            size: out.len(),
            limit: max_decoded,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::http::HeaderValue;

    use super::*;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn encoding(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn identity_and_gzip() {
        assert_eq!(decode(&HeaderMap::new(), b"abc", 10).unwrap(), b"abc");
        assert_eq!(
            decode(&encoding("gzip"), &gzip(b"abc"), 10).unwrap(),
            b"abc"
        );
    }

    #[test]
    fn bombs_bad_streams_and_unknown_encodings_are_refused() {
        let bomb = gzip(&vec![0u8; 100_000]);
        assert!(matches!(
            decode(&encoding("gzip"), &bomb, 1000),
            Err(Error::TooLarge { .. })
        ));
        assert!(matches!(
            decode(&encoding("gzip"), b"not gzip", 1000),
            Err(Error::Decompress { .. })
        ));
        assert!(matches!(
            decode(&encoding("br"), b"x", 1000),
            Err(Error::UnsupportedMediaType { .. })
        ));
    }
}
