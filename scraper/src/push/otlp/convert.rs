//! OTLP metrics to Prometheus series, as Prometheus's OTLP receiver translates them:
//!
//! - gauges: one series per point, the metric name sanitised;
//! - sums: cumulative monotonic ones are counters named `<name>_total`; non-monotonic
//!   ones gauges; delta sums are rejected (counted);
//! - explicit-bucket histograms: `<name>_bucket{le}` with cumulative counts and
//!   `le="+Inf"`, `<name>_sum` (when set) and `<name>_count`; summaries:
//!   `<name>{quantile}`, `_sum`, `_count`;
//! - exponential histograms: one native histogram series `<name>`
//!   ([`super::exponential`]);
//! - histograms of delta temporality (both kinds) are made cumulative by a running total
//!   per series ([`super::delta`]); other delta metrics are rejected;
//! - point attributes become labels (names sanitised; values of attributes whose names
//!   collide are joined with `;`); the scope gives `otel_scope_name` and
//!   `otel_scope_version`; the resource's `service.namespace`/`service.name` give `job`
//!   and `service.instance.id` gives `instance`, its other attributes go to a
//!   `target_info` series;
//! - a point flagged "no recorded value" is written as a staleness marker.
//!
//! Each `ResourceMetrics` is decoded alone: a bad one is rejected with its byte offset
//! while the others are stored. Pure.

use std::collections::HashMap;

use prost::Message;
use telltale_storage_api::{FloatHistogram, Label, METRIC_NAME, Sample, TimeSeries};

use super::attributes::{any_to_string, attribute_labels, format_bound};
use super::delta::DeltaTotals;
use super::proto::{
    self, AggregationTemporality, FLAG_NO_RECORDED_VALUE, KeyValue, Metric, ResourceMetrics,
    metric::Data, number_data_point,
};
use crate::error::{Error, Result};
use crate::push::names;
use crate::push::outcome::PushOutcome;
use crate::push::wire::{self, Value};
use telltale_model::STALE_NAN;

/// Field number of `ExportMetricsServiceRequest.resource_metrics`.
const RESOURCE_METRICS_FIELD: u32 = 1;

/// The series of one export request and the account of its data points.
#[derive(Debug, Default, PartialEq)]
pub struct Converted {
    pub series: Vec<TimeSeries>,
    pub outcome: PushOutcome,
}

/// Decodes and converts an `ExportMetricsServiceRequest` body; delta histograms add up
/// in `totals`.
pub fn convert(raw: &[u8], totals: &DeltaTotals) -> Result<Converted> {
    let mut out = Builder {
        series: Vec::new(),
        index: HashMap::new(),
        outcome: PushOutcome::default(),
        totals,
    };
    for field in wire::fields(raw) {
        let field = field.map_err(|e| Error::ProtobufAt {
            what: "ExportMetricsServiceRequest",
            offset: e.offset,
            message: e.message,
        })?;
        let (RESOURCE_METRICS_FIELD, Value::Bytes(bytes)) = (field.number, field.value) else {
            continue;
        };
        match ResourceMetrics::decode(bytes) {
            Ok(rm) => out.resource(&rm),
            Err(e) => out.outcome.reject("protobuf", 1, || {
                format!("resource_metrics at byte offset {}: {e}", field.offset)
            }),
        }
    }
    Ok(out.finish())
}

pub(super) struct Builder<'a> {
    series: Vec<TimeSeries>,
    index: HashMap<Vec<Label>, usize>,
    pub(super) outcome: PushOutcome,
    pub(super) totals: &'a DeltaTotals,
}

/// The labels of a point: its attributes, then the scope's and the resource's.
pub(super) type PointLabels<'a> = &'a dyn Fn(&[KeyValue]) -> Vec<(String, String)>;

impl Builder<'_> {
    fn resource(&mut self, rm: &ResourceMetrics) {
        let attrs = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.as_slice())
            .unwrap_or(&[]);
        let get = |k: &str| {
            attrs
                .iter()
                .find(|a| a.key == k)
                .map(|a| any_to_string(a.value.as_ref()))
                .filter(|v| !v.is_empty())
        };
        let job = match (get("service.namespace"), get("service.name")) {
            (Some(ns), Some(name)) => Some(format!("{ns}/{name}")),
            (None, Some(name)) => Some(name),
            _ => None,
        };
        let instance = get("service.instance.id");
        let mut identity: Vec<(String, String)> = Vec::new();
        if let Some(job) = &job {
            identity.push(("job".into(), job.clone()));
        }
        if let Some(instance) = &instance {
            identity.push(("instance".into(), instance.clone()));
        }
        let mut latest: Option<i64> = None;
        for sm in &rm.scope_metrics {
            let mut scope: Vec<(String, String)> = Vec::new();
            if let Some(s) = &sm.scope {
                if !s.name.is_empty() {
                    scope.push(("otel_scope_name".into(), s.name.clone()));
                }
                if !s.version.is_empty() {
                    scope.push(("otel_scope_version".into(), s.version.clone()));
                }
            }
            for m in &sm.metrics {
                if let Some(ts) = self.metric(m, &scope, &identity) {
                    latest = Some(latest.map_or(ts, |l| l.max(ts)));
                }
            }
        }
        let others: Vec<&KeyValue> = attrs
            .iter()
            .filter(|a| {
                !matches!(
                    a.key.as_str(),
                    "service.name" | "service.namespace" | "service.instance.id"
                )
            })
            .collect();
        if let Some(ts) = latest
            && !identity.is_empty()
            && !others.is_empty()
        {
            let mut labels = attribute_labels(others.into_iter());
            labels.extend(identity.iter().cloned());
            self.push("target_info", labels, ts, 1.0);
        }
    }

    /// Converts one metric; returns the latest timestamp written.
    fn metric(
        &mut self,
        m: &Metric,
        scope: &[(String, String)],
        identity: &[(String, String)],
    ) -> Option<i64> {
        let Some(data) = &m.data else {
            return None;
        };
        let Some(name) = names::metric_name(&m.name) else {
            let n = points(data);
            self.outcome.reject("invalid_metric_name", n, || {
                format!("metric {:?} makes no valid metric name", m.name)
            });
            return None;
        };
        let labels = |attrs: &[KeyValue]| {
            let mut l = attribute_labels(attrs.iter());
            l.extend(scope.iter().cloned());
            l.extend(identity.iter().cloned());
            l
        };
        let mut latest = None;
        let mut seen = |ts: i64| latest = Some(latest.map_or(ts, |l: i64| l.max(ts)));
        match data {
            Data::Gauge(g) => {
                for p in &g.data_points {
                    let ts = nanos_to_ms(p.time_unix_nano);
                    self.push(&name, labels(&p.attributes), ts, number(p.value, p.flags));
                    seen(ts);
                }
            }
            Data::Sum(s) => {
                if s.aggregation_temporality != AggregationTemporality::Cumulative as i32 {
                    self.reject_temporality(
                        &m.name,
                        s.aggregation_temporality,
                        s.data_points.len(),
                    );
                    return None;
                }
                let name = if s.is_monotonic && !name.ends_with("_total") {
                    format!("{name}_total")
                } else {
                    name
                };
                for p in &s.data_points {
                    let ts = nanos_to_ms(p.time_unix_nano);
                    self.push(&name, labels(&p.attributes), ts, number(p.value, p.flags));
                    seen(ts);
                }
            }
            Data::Histogram(h) => {
                if let Some(ts) = self.explicit_histogram(&m.name, &name, h, &labels) {
                    seen(ts);
                }
            }
            Data::Summary(s) => {
                for p in &s.data_points {
                    let ts = nanos_to_ms(p.time_unix_nano);
                    let stale = p.flags & FLAG_NO_RECORDED_VALUE != 0;
                    let v = |x: f64| if stale { STALE_NAN } else { x };
                    let base = labels(&p.attributes);
                    for q in &p.quantile_values {
                        let mut l = base.clone();
                        l.push(("quantile".into(), format_bound(q.quantile)));
                        self.push(&name, l, ts, v(q.value));
                    }
                    self.push(&format!("{name}_sum"), base.clone(), ts, v(p.sum));
                    self.push(&format!("{name}_count"), base, ts, v(p.count as f64));
                    seen(ts);
                }
            }
            Data::ExponentialHistogram(h) => {
                if let Some(ts) = self.exponential_histogram(&m.name, &name, h, &labels) {
                    seen(ts);
                }
            }
        }
        latest
    }

    pub(super) fn reject_temporality(&mut self, name: &str, temporality: i32, points: usize) {
        let t = match AggregationTemporality::try_from(temporality) {
            Ok(AggregationTemporality::Delta) => "DELTA",
            Ok(AggregationTemporality::Unspecified) => "UNSPECIFIED",
            Ok(AggregationTemporality::Cumulative) => "CUMULATIVE",
            Err(_) => "UNKNOWN",
        };
        self.outcome.reject("unsupported_temporality", points as u64, || {
            format!("metric {name:?}: aggregation temporality {t} is not supported (only cumulative)")
        });
    }

    /// The label set of series `name` with `pairs` (empty values dropped; later pairs,
    /// scope then resource identity, override attributes), sorted.
    pub(super) fn series_labels(name: &str, pairs: Vec<(String, String)>) -> Vec<Label> {
        let mut labels: Vec<Label> = Vec::with_capacity(pairs.len() + 1);
        labels.push(Label::new(METRIC_NAME, name));
        for (n, v) in pairs {
            if v.is_empty() {
                continue;
            }
            match labels.iter_mut().find(|l| l.name == n) {
                Some(l) if n != METRIC_NAME => l.value = v,
                Some(_) => {}
                None => labels.push(Label::new(n, v)),
            }
        }
        labels.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        labels
    }

    pub(super) fn push(
        &mut self,
        name: &str,
        pairs: Vec<(String, String)>,
        timestamp_ms: i64,
        value: f64,
    ) {
        let labels = Self::series_labels(name, pairs);
        let sample = Sample {
            timestamp_ms,
            value,
        };
        self.outcome.accepted += 1;
        self.entry(labels).samples.push(sample);
    }

    /// Adds a native histogram sample to the series `labels`.
    pub(super) fn push_histogram(
        &mut self,
        labels: Vec<Label>,
        timestamp_ms: i64,
        h: &FloatHistogram,
    ) {
        self.outcome.histograms += 1;
        self.entry(labels).histograms.push(h.to_proto(timestamp_ms));
    }

    fn entry(&mut self, labels: Vec<Label>) -> &mut TimeSeries {
        let i = match self.index.get(&labels) {
            Some(&i) => i,
            None => {
                self.index.insert(labels.clone(), self.series.len());
                self.series.push(TimeSeries {
                    labels,
                    samples: Vec::new(),
                    exemplars: Vec::new(),
                    histograms: Vec::new(),
                });
                self.series.len() - 1
            }
        };
        &mut self.series[i]
    }

    fn finish(mut self) -> Converted {
        for s in &mut self.series {
            s.samples.sort_by_key(|s| s.timestamp_ms);
            s.samples.dedup_by_key(|s| s.timestamp_ms);
            s.histograms.sort_by_key(|h| h.timestamp_ms);
            s.histograms.dedup_by_key(|h| h.timestamp_ms);
        }
        self.outcome.accepted = self.series.iter().map(|s| s.samples.len() as u64).sum();
        self.outcome.histograms = self.series.iter().map(|s| s.histograms.len() as u64).sum();
        Converted {
            series: self.series,
            outcome: self.outcome,
        }
    }
}

fn points(data: &Data) -> u64 {
    (match data {
        Data::Gauge(g) => g.data_points.len(),
        Data::Sum(s) => s.data_points.len(),
        Data::Histogram(h) => h.data_points.len(),
        Data::ExponentialHistogram(h) => h.data_points.len(),
        Data::Summary(s) => s.data_points.len(),
    }) as u64
}

fn number(v: Option<number_data_point::Value>, flags: u32) -> f64 {
    if flags & FLAG_NO_RECORDED_VALUE != 0 {
        return STALE_NAN;
    }
    match v {
        Some(number_data_point::Value::AsDouble(d)) => d,
        Some(number_data_point::Value::AsInt(i)) => i as f64,
        None => 0.0,
    }
}

pub(super) fn nanos_to_ms(ns: u64) -> i64 {
    (ns / 1_000_000).min(i64::MAX as u64) as i64
}

/// Encodes `request` as a client would (for tests and examples).
pub fn encode_request(request: &proto::ExportMetricsServiceRequest) -> Vec<u8> {
    request.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::proto::*;
    use super::*;
    use telltale_model::is_stale_nan;
    use telltale_storage_api::histogram::ResetHint;

    fn point(attrs: Vec<KeyValue>, t_ns: u64, v: f64) -> NumberDataPoint {
        NumberDataPoint {
            attributes: attrs,
            start_time_unix_nano: 0,
            time_unix_nano: t_ns,
            value: Some(number_data_point::Value::AsDouble(v)),
            flags: 0,
        }
    }

    fn request(metrics: Vec<Metric>, resource: Vec<KeyValue>) -> Vec<u8> {
        encode_request(&ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(Resource {
                    attributes: resource,
                    dropped_attributes_count: 0,
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        version: "1.2".into(),
                        ..Default::default()
                    }),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        })
    }

    fn metric(name: &str, data: metric::Data) -> Metric {
        Metric {
            name: name.into(),
            description: String::new(),
            unit: String::new(),
            data: Some(data),
        }
    }

    fn find<'a>(c: &'a Converted, name: &str) -> Vec<&'a TimeSeries> {
        c.series
            .iter()
            .filter(|s| s.label(METRIC_NAME) == Some(name))
            .collect()
    }

    fn service() -> Vec<KeyValue> {
        vec![
            KeyValue::string("service.name", "api"),
            KeyValue::string("service.namespace", "shop"),
            KeyValue::string("service.instance.id", "pod-1"),
            KeyValue::string("host.name", "node-7"),
        ]
    }

    #[test]
    fn gauges_and_sums_with_resource_identity() {
        let raw = request(
            vec![
                metric(
                    "queue.depth",
                    metric::Data::Gauge(Gauge {
                        data_points: vec![point(
                            vec![KeyValue::string("queue", "q1")],
                            2_000_000_000,
                            7.0,
                        )],
                    }),
                ),
                metric(
                    "http.requests",
                    metric::Data::Sum(Sum {
                        data_points: vec![point(vec![], 2_000_000_000, 10.0)],
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: true,
                    }),
                ),
                metric(
                    "temperature",
                    metric::Data::Sum(Sum {
                        data_points: vec![point(vec![], 1_000_000_000, -2.0)],
                        aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        is_monotonic: false,
                    }),
                ),
            ],
            service(),
        );
        let c = convert(&raw, &DeltaTotals::default()).unwrap();
        let g = find(&c, "queue_depth")[0];
        assert_eq!(g.label("job"), Some("shop/api"));
        assert_eq!(g.label("instance"), Some("pod-1"));
        assert_eq!(g.label("queue"), Some("q1"));
        assert_eq!(g.label("otel_scope_name"), Some("lib"));
        assert_eq!(g.label("otel_scope_version"), Some("1.2"));
        assert_eq!(
            g.label("host_name"),
            None,
            "resource attributes go to target_info"
        );
        assert_eq!(
            g.samples,
            vec![Sample {
                timestamp_ms: 2000,
                value: 7.0
            }]
        );
        assert_eq!(find(&c, "http_requests_total")[0].samples[0].value, 10.0);
        assert_eq!(find(&c, "temperature").len(), 1);
        let info = find(&c, "target_info")[0];
        assert_eq!(info.label("host_name"), Some("node-7"));
        assert_eq!(info.label("job"), Some("shop/api"));
        assert_eq!(
            info.samples[0],
            Sample {
                timestamp_ms: 2000,
                value: 1.0
            }
        );
        assert_eq!(c.outcome.accepted, 4);
    }

    #[test]
    fn histograms_become_cumulative_buckets() {
        let raw = request(
            vec![metric(
                "rpc.duration",
                metric::Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        attributes: vec![KeyValue::string("method", "get")],
                        time_unix_nano: 5_000_000,
                        count: 6,
                        sum: Some(3.5),
                        bucket_counts: vec![1, 2, 3],
                        explicit_bounds: vec![0.5, 1.0],
                        ..Default::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Cumulative as i32,
                }),
            )],
            vec![],
        );
        let c = convert(&raw, &DeltaTotals::default()).unwrap();
        let buckets: Vec<(String, f64)> = find(&c, "rpc_duration_bucket")
            .iter()
            .map(|s| (s.label("le").unwrap().to_string(), s.samples[0].value))
            .collect();
        assert_eq!(
            buckets,
            vec![("0.5".into(), 1.0), ("1".into(), 3.0), ("+Inf".into(), 6.0)]
        );
        assert_eq!(find(&c, "rpc_duration_sum")[0].samples[0].value, 3.5);
        assert_eq!(find(&c, "rpc_duration_count")[0].samples[0].value, 6.0);
        assert_eq!(
            find(&c, "rpc_duration_count")[0].label("method"),
            Some("get")
        );
        assert!(
            find(&c, "target_info").is_empty(),
            "no identity, no target_info"
        );
    }

    #[test]
    fn exponential_histograms_are_native_and_delta_histograms_add_up() {
        let exp = |t: u64, start: u64, counts: Vec<u64>| ExponentialHistogramDataPoint {
            attributes: vec![KeyValue::string("route", "/a")],
            start_time_unix_nano: start,
            time_unix_nano: t,
            count: counts.iter().sum(),
            sum: Some(2.0),
            scale: 1,
            positive: Some(Buckets {
                offset: 0,
                bucket_counts: counts,
            }),
            ..Default::default()
        };
        let explicit = |t: u64, start: u64| HistogramDataPoint {
            start_time_unix_nano: start,
            time_unix_nano: t,
            count: 3,
            sum: Some(1.0),
            bucket_counts: vec![1, 2],
            explicit_bounds: vec![0.5],
            ..Default::default()
        };
        let raw = |delta_points: Vec<ExponentialHistogramDataPoint>| {
            request(
                vec![
                    metric(
                        "latency",
                        metric::Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: delta_points,
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                        }),
                    ),
                    metric(
                        "size",
                        metric::Data::Histogram(Histogram {
                            data_points: vec![
                                explicit(1_000_000_000, 0),
                                explicit(2_000_000_000, 1_000_000_000),
                            ],
                            aggregation_temporality: AggregationTemporality::Delta as i32,
                        }),
                    ),
                    metric(
                        "cumulative",
                        metric::Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![exp(1_000_000_000, 5, vec![4])],
                            aggregation_temporality: AggregationTemporality::Cumulative as i32,
                        }),
                    ),
                ],
                service(),
            )
        };
        let totals = DeltaTotals::default();
        let first = raw(vec![
            exp(1_000_000_000, 0, vec![1, 2]),
            exp(2_000_000_000, 1_000_000_000, vec![1, 0, 5]),
        ]);
        let c = convert(&first, &totals).unwrap();
        assert_eq!(c.outcome.rejected_total(), 0, "{:?}", c.outcome);
        assert_eq!(c.outcome.histograms, 3);
        let latency = find(&c, "latency")[0];
        assert_eq!(latency.label("route"), Some("/a"));
        assert_eq!(latency.label("job"), Some("shop/api"));
        assert!(latency.samples.is_empty());
        let h: Vec<FloatHistogram> = latency
            .histograms
            .iter()
            .map(|h| FloatHistogram::from_proto(h).unwrap())
            .collect();
        assert_eq!(h[0].positive().collect::<Vec<_>>(), [(1, 1.0), (2, 2.0)]);
        assert_eq!(h[0].reset_hint, ResetHint::CounterReset);
        assert_eq!(
            h[1].positive().collect::<Vec<_>>(),
            [(1, 2.0), (2, 2.0), (3, 5.0)]
        );
        assert_eq!(
            (h[1].count, h[1].sum, h[1].reset_hint),
            (9.0, 4.0, ResetHint::Unknown)
        );
        assert_eq!(latency.histograms[1].timestamp_ms, 2000);
        let cumulative = find(&c, "cumulative")[0];
        assert_eq!(cumulative.histograms[0].count, 4.0);
        assert_eq!(cumulative.histograms[0].reset_hint, 0);
        // The explicit delta histogram: running totals of its buckets.
        let count: Vec<f64> = find(&c, "size_count")[0]
            .samples
            .iter()
            .map(|s| s.value)
            .collect();
        assert_eq!(count, [3.0, 6.0]);
        let inf = find(&c, "size_bucket")
            .into_iter()
            .find(|s| s.label("le") == Some("+Inf"))
            .unwrap();
        assert_eq!(
            inf.samples.iter().map(|s| s.value).collect::<Vec<_>>(),
            [3.0, 6.0]
        );
        // The next request continues the totals.
        let next = raw(vec![exp(3_000_000_000, 2_000_000_000, vec![1])]);
        let c = convert(&next, &totals).unwrap();
        assert_eq!(find(&c, "latency")[0].histograms[0].count, 10.0);
    }

    #[test]
    fn delta_sums_and_bad_histograms_are_rejected_others_kept() {
        let raw = request(
            vec![
                metric(
                    "d",
                    metric::Data::Sum(Sum {
                        data_points: vec![point(vec![], 1, 1.0), point(vec![], 2, 1.0)],
                        aggregation_temporality: AggregationTemporality::Delta as i32,
                        is_monotonic: true,
                    }),
                ),
                metric(
                    "e",
                    metric::Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: vec![ExponentialHistogramDataPoint {
                            scale: -5,
                            ..Default::default()
                        }],
                        aggregation_temporality: 2,
                    }),
                ),
                metric(
                    "h",
                    metric::Data::Histogram(Histogram {
                        data_points: vec![HistogramDataPoint {
                            bucket_counts: vec![1],
                            explicit_bounds: vec![1.0],
                            ..Default::default()
                        }],
                        aggregation_temporality: 2,
                    }),
                ),
                metric(
                    "ok",
                    metric::Data::Gauge(Gauge {
                        data_points: vec![point(vec![], 1_000_000, 1.0)],
                    }),
                ),
            ],
            vec![],
        );
        let c = convert(&raw, &DeltaTotals::default()).unwrap();
        assert_eq!(c.series.len(), 1);
        assert_eq!(c.outcome.rejected.get("unsupported_temporality"), Some(&2));
        assert_eq!(c.outcome.rejected.get("invalid_histogram"), Some(&2));
        assert!(c.outcome.first_error.as_deref().unwrap().contains("DELTA"));
        let summary = c.outcome.rejection_summary().unwrap();
        assert!(summary.contains("invalid_histogram: 2"), "{summary}");
    }

    #[test]
    fn colliding_attributes_join_and_no_value_is_stale() {
        let mut p = point(
            vec![KeyValue::string("a.b", "1"), KeyValue::string("a_b", "2")],
            1_000_000,
            5.0,
        );
        p.flags = FLAG_NO_RECORDED_VALUE;
        let raw = request(
            vec![metric(
                "m",
                metric::Data::Gauge(Gauge {
                    data_points: vec![p],
                }),
            )],
            vec![],
        );
        let c = convert(&raw, &DeltaTotals::default()).unwrap();
        let s = find(&c, "m")[0];
        assert_eq!(s.label("a_b"), Some("1;2"));
        assert!(is_stale_nan(s.samples[0].value));
    }

    #[test]
    fn malformed_bodies_name_the_offset_and_bad_resources_are_skipped() {
        let e = convert(&[0x0a, 0x09, 0x01], &DeltaTotals::default()).unwrap_err();
        assert!(e.to_string().contains("byte offset 0"), "{e}");
        let good = request(
            vec![metric(
                "ok",
                metric::Data::Gauge(Gauge {
                    data_points: vec![point(vec![], 1, 1.0)],
                }),
            )],
            vec![],
        );
        let mut raw = good.clone();
        raw.extend_from_slice(&[0x0a, 0x02, 0x0a, 0x05]);
        let c = convert(&raw, &DeltaTotals::default()).unwrap();
        assert_eq!(c.series.len(), 1);
        assert_eq!(c.outcome.rejected.get("protobuf"), Some(&1));
        assert!(
            c.outcome
                .first_error
                .unwrap()
                .starts_with(&format!("resource_metrics at byte offset {}", good.len()))
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(c) = convert(&bytes, &DeltaTotals::default()) {
                let samples: u64 = c.series.iter().map(|s| s.samples.len() as u64).sum();
                prop_assert_eq!(samples, c.outcome.accepted);
            }
        }
    }
}
