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
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
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
        exemplars: Vec::new(),
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

/// `series` with one exemplar (`trace` labels, value, time).
pub fn with_exemplar(
    mut s: TimeSeries,
    trace: &[(&str, &str)],
    value: f64,
    ts_ms: i64,
) -> TimeSeries {
    s.exemplars.push(Exemplar {
        labels: trace
            .iter()
            .map(|(n, v)| Label {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        value,
        timestamp: ts_ms,
    });
    s
}

/// POSTs a v1 request and returns the status with the
/// `X-Prometheus-Remote-Write-{Samples,Exemplars}-Written` headers' values.
pub async fn push_counted(
    base: &str,
    timeseries: Vec<TimeSeries>,
) -> (reqwest::StatusCode, u64, u64) {
    use prost::Message;
    let body = WriteRequest { timeseries }.encode_to_vec();
    send_counted(base, "prometheus.WriteRequest", body).await
}

/// remote_write 2.0's messages (`io.prometheus.write.v2`), from their field numbers.
pub mod v2 {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Request {
        #[prost(string, repeated, tag = "4")]
        pub symbols: Vec<String>,
        #[prost(message, repeated, tag = "5")]
        pub timeseries: Vec<TimeSeries>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        #[prost(uint32, repeated, tag = "1")]
        pub labels_refs: Vec<u32>,
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<super::Sample>,
        #[prost(message, repeated, tag = "3")]
        pub histograms: Vec<Histogram>,
        #[prost(message, repeated, tag = "4")]
        pub exemplars: Vec<Exemplar>,
    }

    /// `io.prometheus.write.v2.Histogram`, an integer histogram (bucket deltas).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        #[prost(uint64, tag = "1")]
        pub count_int: u64,
        #[prost(double, tag = "3")]
        pub sum: f64,
        #[prost(sint32, tag = "4")]
        pub schema: i32,
        #[prost(double, tag = "5")]
        pub zero_threshold: f64,
        #[prost(uint64, tag = "6")]
        pub zero_count_int: u64,
        #[prost(message, repeated, tag = "11")]
        pub positive_spans: Vec<BucketSpan>,
        #[prost(sint64, repeated, tag = "12")]
        pub positive_deltas: Vec<i64>,
        #[prost(int64, tag = "15")]
        pub timestamp: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        #[prost(sint32, tag = "1")]
        pub offset: i32,
        #[prost(uint32, tag = "2")]
        pub length: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        #[prost(uint32, repeated, tag = "1")]
        pub labels_refs: Vec<u32>,
        #[prost(double, tag = "2")]
        pub value: f64,
        #[prost(int64, tag = "3")]
        pub timestamp: i64,
    }

    /// An exemplar: its labels, value and time (ms).
    pub type ExemplarSpec<'a> = (&'a [(&'a str, &'a str)], f64, i64);

    /// A request builder interning strings into the symbol table.
    #[derive(Default)]
    pub struct Builder {
        pub request: Request,
    }

    impl Builder {
        fn refs(&mut self, pairs: &[(&str, &str)]) -> Vec<u32> {
            if self.request.symbols.is_empty() {
                self.request.symbols.push(String::new());
            }
            let mut out = Vec::new();
            for s in pairs.iter().flat_map(|(n, v)| [*n, *v]) {
                let at = match self.request.symbols.iter().position(|x| x == s) {
                    Some(i) => i,
                    None => {
                        self.request.symbols.push(s.to_string());
                        self.request.symbols.len() - 1
                    }
                };
                out.push(at as u32);
            }
            out
        }

        /// A series with one sample and, if given, one exemplar (labels, value, time).
        pub fn series(
            &mut self,
            labels: &[(&str, &str)],
            ts_ms: i64,
            value: f64,
            exemplar: Option<ExemplarSpec<'_>>,
        ) {
            let labels_refs = self.refs(labels);
            let exemplars = exemplar
                .map(|(trace, value, timestamp)| Exemplar {
                    labels_refs: self.refs(trace),
                    value,
                    timestamp,
                })
                .into_iter()
                .collect();
            self.request.timeseries.push(TimeSeries {
                labels_refs,
                samples: vec![super::Sample {
                    value,
                    timestamp: ts_ms,
                }],
                histograms: Vec::new(),
                exemplars,
            });
        }

        /// A series with one native histogram sample.
        pub fn histogram(&mut self, labels: &[(&str, &str)], histogram: Histogram) {
            let labels_refs = self.refs(labels);
            self.request.timeseries.push(TimeSeries {
                labels_refs,
                histograms: vec![histogram],
                ..TimeSeries::default()
            });
        }
    }

    /// POSTs a 2.0 request: status and the samples and histograms written headers.
    pub async fn push_histograms(base: &str, request: Request) -> (reqwest::StatusCode, u64, u64) {
        use prost::Message;
        let (status, headers) = super::send(
            base,
            "io.prometheus.write.v2.Request",
            request.encode_to_vec(),
        )
        .await;
        (
            status,
            super::header(&headers, "x-prometheus-remote-write-samples-written"),
            super::header(&headers, "x-prometheus-remote-write-histograms-written"),
        )
    }

    /// POSTs a 2.0 request: status and the samples and exemplars written headers.
    pub async fn push(base: &str, request: Request) -> (reqwest::StatusCode, u64, u64) {
        use prost::Message;
        super::send_counted(
            base,
            "io.prometheus.write.v2.Request",
            request.encode_to_vec(),
        )
        .await
    }
}

async fn send_counted(base: &str, proto: &str, body: Vec<u8>) -> (reqwest::StatusCode, u64, u64) {
    let (status, headers) = send(base, proto, body).await;
    (
        status,
        header(&headers, "x-prometheus-remote-write-samples-written"),
        header(&headers, "x-prometheus-remote-write-exemplars-written"),
    )
}

/// A count the receiver answered in header `name` (`u64::MAX` when absent).
fn header(headers: &reqwest::header::HeaderMap, name: &str) -> u64 {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX)
}

/// POSTs a 2.0 (or 1.0) request body: the status and the response headers.
async fn send(
    base: &str,
    proto: &str,
    body: Vec<u8>,
) -> (reqwest::StatusCode, reqwest::header::HeaderMap) {
    let compressed = snap::raw::Encoder::new().compress_vec(&body).unwrap();
    let r = reqwest::Client::new()
        .post(format!("{base}/api/v1/write"))
        .header("Content-Encoding", "snappy")
        .header(
            "Content-Type",
            format!("application/x-protobuf;proto={proto}"),
        )
        .header("X-Prometheus-Remote-Write-Version", "2.0.0")
        .timeout(Duration::from_secs(10))
        .body(compressed)
        .send()
        .await
        .unwrap();
    (r.status(), r.headers().clone())
}
