use proptest::prelude::*;

use super::proto::{
    Bucket, BucketSpan, Counter, Exemplar, Gauge, Histogram, LabelPair, Metric, MetricFamily,
    MetricType as Kind, Quantile, Summary, Timestamp, encode_delimited,
};
use super::*;

fn label(name: &str, value: &str) -> LabelPair {
    LabelPair {
        name: name.into(),
        value: value.into(),
    }
}

fn family(name: &str, kind: Kind, metric: Vec<Metric>) -> MetricFamily {
    MetricFamily {
        name: name.into(),
        help: format!("{name} help"),
        r#type: kind as i32,
        metric,
        unit: String::new(),
    }
}

/// `(series, value)` of the float samples, and `(series, histogram)` of the native ones.
type Decoded = (Vec<(String, f64)>, Vec<(String, FloatHistogram)>);

fn decoded(families: &[MetricFamily], classic: bool) -> Decoded {
    let mut p = decode(&encode_delimited(families), classic).unwrap();
    let e = p.exposition();
    (
        e.samples
            .iter()
            .map(|s| (s.series.to_string(), s.value))
            .collect(),
        e.histograms
            .iter()
            .map(|h| (h.series.to_string(), h.histogram.clone()))
            .collect(),
    )
}

fn native() -> Histogram {
    Histogram {
        sample_count: 6,
        sample_sum: 4.5,
        schema: 1,
        zero_threshold: 0.001,
        zero_count: 1,
        negative_span: vec![BucketSpan {
            offset: 0,
            length: 1,
        }],
        negative_delta: vec![2],
        positive_span: vec![
            BucketSpan {
                offset: -1,
                length: 2,
            },
            BucketSpan {
                offset: 2,
                length: 1,
            },
        ],
        positive_delta: vec![1, -1, 2],
        bucket: vec![Bucket {
            cumulative_count: 4,
            upper_bound: 1.0,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn counters_gauges_summaries_and_classic_histograms_as_the_text_format() {
    let families = vec![
        family(
            "requests_total",
            Kind::Counter,
            vec![Metric {
                label: vec![label("code", "200"), label("path", "a\"b\\c\nd")],
                counter: Some(Counter {
                    value: 7.0,
                    exemplar: Some(Exemplar {
                        label: vec![label("trace_id", "abc")],
                        value: 0.5,
                        timestamp: Some(Timestamp {
                            seconds: 2,
                            nanos: 5_000_000,
                        }),
                    }),
                }),
                timestamp_ms: 1234,
                ..Default::default()
            }],
        ),
        family(
            "temperature",
            Kind::Gauge,
            vec![Metric {
                gauge: Some(Gauge { value: -3.5 }),
                ..Default::default()
            }],
        ),
        family(
            "go_gc_duration_seconds",
            Kind::Summary,
            vec![Metric {
                summary: Some(Summary {
                    sample_count: 3,
                    sample_sum: 0.25,
                    quantile: vec![
                        Quantile {
                            quantile: 0.0,
                            value: 0.01,
                        },
                        Quantile {
                            quantile: 1.0,
                            value: 0.2,
                        },
                    ],
                }),
                ..Default::default()
            }],
        ),
        family(
            "size_bytes",
            Kind::Histogram,
            vec![Metric {
                histogram: Some(Histogram {
                    sample_count: 5,
                    sample_sum: 900.0,
                    bucket: vec![
                        Bucket {
                            cumulative_count: 1,
                            upper_bound: 100.0,
                            ..Default::default()
                        },
                        Bucket {
                            cumulative_count: 4,
                            upper_bound: 1e6,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        ),
        family("empty", Kind::Gauge, vec![]),
    ];
    let mut p = decode(&encode_delimited(&families), false).unwrap();
    let e = p.exposition();
    let got: Vec<(&str, f64, Option<i64>)> = e
        .samples
        .iter()
        .map(|s| (s.series, s.value, s.timestamp_ms))
        .collect();
    assert_eq!(
        got,
        [
            (
                r#"requests_total{code="200",path="a\"b\\c\nd"}"#,
                7.0,
                Some(1234)
            ),
            ("temperature{}", -3.5, None),
            ("go_gc_duration_seconds_count{}", 3.0, None),
            ("go_gc_duration_seconds_sum{}", 0.25, None),
            (r#"go_gc_duration_seconds{quantile="0.0"}"#, 0.01, None),
            (r#"go_gc_duration_seconds{quantile="1.0"}"#, 0.2, None),
            ("size_bytes_count{}", 5.0, None),
            ("size_bytes_sum{}", 900.0, None),
            (r#"size_bytes_bucket{le="100.0"}"#, 1.0, None),
            (r#"size_bytes_bucket{le="1e+06"}"#, 4.0, None),
            (r#"size_bytes_bucket{le="+Inf"}"#, 5.0, None),
        ]
    );
    // Labels read back unescaped.
    assert_eq!(
        e.samples[0].name_and_labels().unwrap().1[1],
        ("path".to_string(), "a\"b\\c\nd".to_string())
    );
    assert_eq!(e.exemplars.len(), 1);
    assert_eq!(e.exemplars[0].sample, 0);
    assert_eq!(e.exemplars[0].timestamp_ms, Some(2005));
    let kinds: Vec<(&str, Option<MetricType>)> = e
        .metadata
        .iter()
        .map(|m| (m.name.as_str(), m.kind))
        .collect();
    assert_eq!(kinds.len(), 4, "no metadata for an empty family");
    assert_eq!(
        kinds[2],
        ("go_gc_duration_seconds", Some(MetricType::Summary))
    );
    assert_eq!(e.metadata[0].help.as_deref(), Some("requests_total help"));
    assert!(e.histograms.is_empty());
}

#[test]
fn native_histograms_are_one_series_and_classic_ones_only_when_asked() {
    let families = vec![
        family(
            "rpc_seconds",
            Kind::Histogram,
            vec![Metric {
                label: vec![label("m", "get")],
                histogram: Some(native()),
                ..Default::default()
            }],
        ),
        family(
            "queue_seconds",
            Kind::GaugeHistogram,
            vec![Metric {
                histogram: Some(Histogram {
                    sample_count_float: 2.5,
                    sample_sum: 1.0,
                    schema: 0,
                    zero_threshold: 0.0,
                    zero_count_float: 0.5,
                    positive_span: vec![BucketSpan {
                        offset: 0,
                        length: 2,
                    }],
                    positive_count: vec![2.0, 0.0],
                    ..Default::default()
                }),
                timestamp_ms: 99,
                ..Default::default()
            }],
        ),
    ];
    let (samples, histograms) = decoded(&families, false);
    assert!(samples.is_empty(), "{samples:?}");
    assert_eq!(histograms.len(), 2);
    let (series, h) = &histograms[0];
    assert_eq!(series, r#"rpc_seconds{m="get"}"#);
    assert_eq!(
        h.positive().collect::<Vec<_>>(),
        [(-1, 1.0), (3, 2.0)],
        "compacted"
    );
    assert_eq!(h.negative().collect::<Vec<_>>(), [(0, 2.0)]);
    assert_eq!((h.count, h.sum, h.zero_count, h.schema), (6.0, 4.5, 1.0, 1));
    assert_eq!(h.reset_hint, ResetHint::Unknown);
    let (series, g) = &histograms[1];
    assert_eq!(series, "queue_seconds{}");
    assert_eq!(g.reset_hint, ResetHint::Gauge);
    assert_eq!((g.count, g.zero_count), (2.5, 0.5));
    assert_eq!(g.positive_buckets, [2.0]);

    let (samples, histograms) = decoded(&families, true);
    assert_eq!(histograms.len(), 2);
    let names: Vec<&str> = samples.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(
        names,
        [
            r#"rpc_seconds_count{m="get"}"#,
            r#"rpc_seconds_sum{m="get"}"#,
            r#"rpc_seconds_bucket{m="get",le="1.0"}"#,
            r#"rpc_seconds_bucket{m="get",le="+Inf"}"#,
        ],
        "the gauge histogram has no classic buckets"
    );
}

#[test]
fn bad_payloads_fail_naming_the_offset() {
    let good = encode_delimited(&[family("a", Kind::Gauge, vec![Metric::default()])]);
    let mut bad = good.clone();
    bad.extend_from_slice(&[0x10, 0x0a]);
    let e = decode(&bad, false).unwrap_err().to_string();
    assert!(e.contains(&format!("byte offset {}", good.len())), "{e}");
    assert!(e.contains("runs past the end"), "{e}");

    let bad_name = encode_delimited(&[family("a-b", Kind::Gauge, vec![Metric::default()])]);
    let e = decode(&bad_name, false).unwrap_err().to_string();
    assert!(e.contains("invalid metric name"), "{e}");

    let mut h = native();
    h.sample_count = 7;
    let bad_hist = encode_delimited(&[family(
        "h",
        Kind::Histogram,
        vec![Metric {
            histogram: Some(h),
            ..Default::default()
        }],
    )]);
    let e = decode(&bad_hist, false).unwrap_err().to_string();
    assert!(e.contains("metric family \"h\""), "{e}");
    assert!(e.contains("observations found in buckets"), "{e}");

    let dup = encode_delimited(&[family(
        "s",
        Kind::Summary,
        vec![Metric {
            label: vec![label("quantile", "x")],
            summary: Some(Summary {
                quantile: vec![Quantile::default()],
                ..Default::default()
            }),
            ..Default::default()
        }],
    )]);
    let e = decode(&dup, false).unwrap_err().to_string();
    assert!(e.contains("duplicate label name \"quantile\""), "{e}");
}

#[test]
fn floats_format_as_prometheus_le_values() {
    for (f, want) in [
        (1.0, "1.0"),
        (0.0, "0.0"),
        (-1.0, "-1.0"),
        (0.25, "0.25"),
        (100.0, "100.0"),
        (123456.0, "123456.0"),
        (1e6, "1e+06"),
        (2.5e6, "2.5e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e21, "1e+21"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
        (0.1 + 0.2, "0.30000000000000004"),
    ] {
        assert_eq!(format_openmetrics_float(f), want, "{f}");
    }
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(mut p) = decode(&bytes, true) {
            let e = p.exposition();
            for s in &e.samples {
                prop_assert!(s.name_and_labels().is_ok(), "{}", s.series);
            }
        }
    }

    #[test]
    fn labels_round_trip_through_the_series_text(
        value in "\\PC{0,12}",
        bound in any::<f64>(),
    ) {
        let families = [family(
            "h",
            Kind::Histogram,
            vec![Metric {
                label: vec![label("v", &value)],
                histogram: Some(Histogram {
                    bucket: vec![Bucket { upper_bound: bound, ..Default::default() }],
                    ..Default::default()
                }),
                ..Default::default()
            }],
        )];
        let mut p = decode(&encode_delimited(&families), false).unwrap();
        let e = p.exposition();
        for s in &e.samples {
            let (_, labels) = s.name_and_labels().unwrap();
            prop_assert_eq!(&labels[0], &("v".to_string(), value.clone()));
        }
        let le = format_openmetrics_float(bound);
        if !bound.is_nan() {
            prop_assert_eq!(le.parse::<f64>().ok().or(match le.as_str() {
                "+Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                _ => None,
            }), Some(bound));
        }
    }
}
