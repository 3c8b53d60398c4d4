//! A Prometheus remote_write v1 client written from prompb's field numbers, independent of
//! the receiver's own message types, so the test checks wire compatibility.

use std::time::Duration;

#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// One series with one sample; `labels` must include `__name__`.
pub fn series(labels: &[(&str, &str)], ts_ms: i64, value: f64) -> TimeSeries {
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        samples: vec![Sample {
            value,
            timestamp: ts_ms,
        }],
    }
}

/// POSTs a remote_write request as Prometheus does and returns the HTTP status.
pub async fn push(base: &str, timeseries: Vec<TimeSeries>) -> reqwest::StatusCode {
    use prost::Message;
    let body = WriteRequest { timeseries }.encode_to_vec();
    let compressed = snap::raw::Encoder::new().compress_vec(&body).unwrap();
    reqwest::Client::new()
        .post(format!("{base}/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .timeout(Duration::from_secs(10))
        .body(compressed)
        .send()
        .await
        .unwrap()
        .status()
}

/// Pushes as [`push`] does, without failing on a refused connection or a timeout (30 s):
/// whether the receiver acknowledged the samples (a 2xx answer).
pub async fn acknowledged(base: &str, timeseries: Vec<TimeSeries>) -> bool {
    use prost::Message;
    let body = WriteRequest { timeseries }.encode_to_vec();
    let compressed = snap::raw::Encoder::new().compress_vec(&body).unwrap();
    reqwest::Client::new()
        .post(format!("{base}/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header("Content-Type", "application/x-protobuf")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .timeout(Duration::from_secs(30))
        .body(compressed)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}
