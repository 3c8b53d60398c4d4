//! Prometheus's `prometheus.WriteRequest` (remote_write v1) and `prometheus.ReadRequest`
//! / `ReadResponse` (remote read, [`read`]), written by hand to match prometheus/prompb
//! `types.proto` and `remote.proto` field for field (the gogoproto options there do not
//! change the wire format). Encode these to push to Telltale:
//! `snap::raw::Encoder::new().compress_vec(&req.encode_to_vec())`.

/// Native histograms: the wire message to and from [`crate::FloatHistogram`].
pub mod histogram_conv;
/// The remote read messages.
pub mod read;
/// Prometheus's XOR chunk encoding, for streamed remote read.
pub mod xor;

/// `prometheus.WriteRequest`. Field 2 is reserved upstream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`: labels sorted by name, samples in timestamp order.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: timestamp in milliseconds since the epoch.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.Exemplar`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Exemplar {
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(double, tag = "2")]
    pub value: f64,
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricMetadata {
    #[prost(enumeration = "metric_metadata::MetricType", tag = "1")]
    pub r#type: i32,
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    #[prost(string, tag = "4")]
    pub help: String,
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// Nested types of [`MetricMetadata`].
pub mod metric_metadata {
    /// `prometheus.MetricMetadata.MetricType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        Unknown = 0,
        Counter = 1,
        Gauge = 2,
        Histogram = 3,
        Gaugehistogram = 4,
        Summary = 5,
        Info = 6,
        Stateset = 7,
    }
}

/// `prometheus.Histogram`: a native histogram sample, an integer histogram (counts as
/// deltas, `count_int`) or a float histogram (absolute counts, `count_float`); schema -53
/// has custom bucket bounds (`custom_values`). [`Histogram::to_float_histogram`] and
/// [`Histogram::from_float_histogram`] convert.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Histogram {
    #[prost(oneof = "histogram::Count", tags = "1, 2")]
    pub count: Option<histogram::Count>,
    #[prost(double, tag = "3")]
    pub sum: f64,
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    #[prost(oneof = "histogram::ZeroCount", tags = "6, 7")]
    pub zero_count: Option<histogram::ZeroCount>,
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    #[prost(enumeration = "histogram::ResetHint", tag = "14")]
    pub reset_hint: i32,
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    /// The upper bounds of the custom buckets but the last (+Inf), schema -53 only.
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
}

/// Nested types of [`Histogram`].
pub mod histogram {
    /// Integer counts for regular histograms, floats for gauge histograms.
    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum Count {
        #[prost(uint64, tag = "1")]
        CountInt(u64),
        #[prost(double, tag = "2")]
        CountFloat(f64),
    }

    #[derive(Clone, Copy, PartialEq, prost::Oneof)]
    pub enum ZeroCount {
        #[prost(uint64, tag = "6")]
        ZeroCountInt(u64),
        #[prost(double, tag = "7")]
        ZeroCountFloat(f64),
    }

    /// `prometheus.Histogram.ResetHint`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum ResetHint {
        Unknown = 0,
        Yes = 1,
        No = 2,
        Gauge = 3,
    }
}

/// `prometheus.BucketSpan`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, prost::Message)]
pub struct BucketSpan {
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    /// Bytes of a WriteRequest as Prometheus encodes it: one series
    /// `{__name__="up", job="x"}` with sample (1.0, 1000).
    const PROMETHEUS_BYTES: &[u8] = &[
        0x0a, 0x28, // timeseries, 40 bytes
        0x0a, 0x0e, 0x0a, 0x08, b'_', b'_', b'n', b'a', b'm', b'e', b'_', b'_', 0x12, 0x02, b'u',
        b'p', // label __name__=up
        0x0a, 0x08, 0x0a, 0x03, b'j', b'o', b'b', 0x12, 0x01, b'x', // label job=x
        0x12, 0x0c, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xe8, 0x07, // sample 1.0 @ 1000
    ];

    #[test]
    fn decodes_prometheus_wire_bytes() {
        let req = WriteRequest::decode(PROMETHEUS_BYTES).unwrap();
        assert_eq!(req.timeseries.len(), 1);
        let ts = &req.timeseries[0];
        assert_eq!(ts.labels[0].name, "__name__");
        assert_eq!(ts.labels[1].value, "x");
        assert_eq!(
            ts.samples,
            vec![Sample {
                value: 1.0,
                timestamp: 1000
            }]
        );
        assert_eq!(req.encode_to_vec(), PROMETHEUS_BYTES);
    }

    #[test]
    fn histogram_round_trips() {
        let h = Histogram {
            count: Some(histogram::Count::CountInt(3)),
            sum: 1.5,
            schema: -1,
            zero_count: Some(histogram::ZeroCount::ZeroCountFloat(0.5)),
            positive_spans: vec![BucketSpan {
                offset: -2,
                length: 2,
            }],
            positive_deltas: vec![1, -1],
            reset_hint: histogram::ResetHint::Gauge as i32,
            timestamp: 7,
            ..Histogram::default()
        };
        let bytes = h.encode_to_vec();
        assert_eq!(Histogram::decode(bytes.as_slice()).unwrap(), h);
    }
}
