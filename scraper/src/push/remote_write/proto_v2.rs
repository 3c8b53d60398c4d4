//! The `io.prometheus.write.v2.Request` message of remote_write 2.0, written by hand to
//! match prometheus/prompb `io/prometheus/write/v2/types.proto` field for field. Every
//! string of a request sits once in `symbols`; a series names its labels by index pairs
//! into it, and `symbols[0]` is the empty string. Fields 1 to 3 are reserved (they are
//! v1's), so a v1 body read as v2 carries no series.

use super::proto::{Histogram, Sample};

/// `io.prometheus.write.v2.Request`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Request {
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

/// `io.prometheus.write.v2.TimeSeries`: float samples or native histograms, never both.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Pairs of symbol indexes: name, value, name, value, ...
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Wire-compatible with v1's `Sample` (v2's later `start_timestamp` is skipped).
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Wire-compatible with v1's `Histogram` for the fields stored there.
    #[prost(message, repeated, tag = "3")]
    pub histograms: Vec<Histogram>,
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar>,
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
    #[prost(int64, tag = "6")]
    pub created_timestamp: i64,
}

/// `io.prometheus.write.v2.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata`: the type as v1's `MetricType` numbers, help and
/// unit as symbol indexes.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Metadata {
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// A request as the spec's example builds it: symbols `["", "__name__", "up",
    /// "job", "x"]`, one series `{__name__="up", job="x"}` with sample (1.0, 1000).
    const V2_BYTES: &[u8] = &[
        0x22, 0x00, // symbols[0] = ""
        0x22, 0x08, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', // symbols[1]
        0x22, 0x02, b'u', b'p', // symbols[2]
        0x22, 0x03, b'j', b'o', b'b', // symbols[3]
        0x22, 0x01, b'x', // symbols[4]
        0x2a, 0x14, // timeseries, 20 bytes
        0x0a, 0x04, 1, 2, 3, 4, // labels_refs, packed
        0x12, 0x0c, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xe8, 0x07, // sample 1.0 @ 1000
    ];

    #[test]
    fn decodes_and_encodes_the_wire_bytes() {
        let req = Request::decode(V2_BYTES).unwrap();
        assert_eq!(req.symbols, ["", "__name__", "up", "job", "x"]);
        assert_eq!(req.timeseries[0].labels_refs, [1, 2, 3, 4]);
        assert_eq!(
            req.timeseries[0].samples,
            [Sample {
                value: 1.0,
                timestamp: 1000
            }]
        );
        assert_eq!(req.encode_to_vec(), V2_BYTES);
    }
}
