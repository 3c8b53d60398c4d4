//! The Prometheus protobuf exposition format
//! (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
//! encoding=delimited`): length-delimited `MetricFamily` messages ([`proto`]) decoded
//! into the series a scrape writes, as Prometheus's protobuf parser yields them:
//!
//! - counters, gauges and untyped metrics: one sample each;
//! - summaries: `<name>_count`, `<name>_sum`, then `<name>{quantile="…"}`;
//! - classic histograms (and gauge histograms): `<name>_count`, `<name>_sum`, then
//!   `<name>_bucket{le="…"}` per bucket with a `+Inf` bucket added when missing;
//!   `quantile` and `le` values formatted as Prometheus formats them
//!   ([`format_openmetrics_float`]: `1.0`, `0.25`, `1e-05`, `+Inf`);
//! - a histogram with native buckets (any span, a zero threshold or a zero count): ONE
//!   native histogram sample of `<name>` (a gauge histogram's with the reset hint
//!   `Gauge`), checked and compacted; its classic series too only when
//!   `classic_histograms` is asked (`scrape_classic_histograms`);
//! - a timestamp of 0 is no timestamp; created timestamps are ignored; the exemplars of
//!   counters and classic buckets are kept, those of native histograms ignored.
//!
//! The float samples are written into one text buffer in the text format's series
//! syntax (`name{label="value",…}`), which the scrape's series cache is keyed by and
//! reads labels back from, as for the text formats ([`ProtoExposition::exposition`]).
//! Metric and label names must be valid (legacy) Prometheus names. Any malformed
//! message fails the scrape naming its byte offset; nothing panics on bad input.

pub mod proto;

use std::fmt::Write as _;
use std::ops::Range;

use prost::Message;
use telltale_model::{is_valid_label_name, is_valid_metric_name};
use telltale_storage_api::FloatHistogram;
use telltale_storage_api::histogram::{ResetHint, Span};

use crate::error::{Error, Result};
use crate::pull::text::{
    Exposition, Metadata, MetricType, ParsedExemplar, ParsedHistogram, ParsedSample,
};
use proto::{MetricFamily, MetricType as Kind};

/// A decoded protobuf exposition; [`ProtoExposition::exposition`] lends it as the
/// parsers of the text formats return theirs.
#[derive(Debug, Default)]
pub struct ProtoExposition {
    /// The series of every sample and histogram, one after the other.
    text: String,
    samples: Vec<(Range<usize>, f64, Option<i64>)>,
    histograms: Vec<(Range<usize>, FloatHistogram, Option<i64>)>,
    metadata: Vec<Metadata>,
    exemplars: Vec<ParsedExemplar>,
}

impl ProtoExposition {
    /// The samples, native histograms, metadata and exemplars, as an [`Exposition`]
    /// borrowing this one's series text (the histograms and the rest are moved out).
    pub fn exposition(&mut self) -> Exposition<'_> {
        let text = self.text.as_str();
        Exposition {
            samples: self
                .samples
                .iter()
                .map(|(r, value, timestamp_ms)| ParsedSample {
                    series: &text[r.clone()],
                    value: *value,
                    timestamp_ms: *timestamp_ms,
                })
                .collect(),
            histograms: std::mem::take(&mut self.histograms)
                .into_iter()
                .map(|(r, histogram, timestamp_ms)| ParsedHistogram {
                    series: &text[r],
                    histogram,
                    timestamp_ms,
                })
                .collect(),
            metadata: std::mem::take(&mut self.metadata),
            exemplars: std::mem::take(&mut self.exemplars),
        }
    }
}

/// Decodes a body of length-delimited `MetricFamily` messages (see the module
/// documentation); `classic_histograms`: also the classic series of histograms that have
/// native buckets.
pub fn decode(body: &[u8], classic_histograms: bool) -> Result<ProtoExposition> {
    let mut out = ProtoExposition::default();
    let mut rest = body;
    while !rest.is_empty() {
        let offset = body.len() - rest.len();
        let at = |message: String| Error::ProtobufExposition { offset, message };
        let len = prost::decode_length_delimiter(rest).map_err(|e| at(e.to_string()))?;
        let prefix = prost::length_delimiter_len(len);
        let Some(message) = rest.get(prefix..prefix.saturating_add(len)) else {
            return Err(at(format!(
                "MetricFamily of {len} bytes runs past the end of the body"
            )));
        };
        rest = &rest[prefix + len..];
        let family = MetricFamily::decode(message).map_err(|e| at(e.to_string()))?;
        out.family(&family, classic_histograms)
            .map_err(|e| at(format!("metric family {:?}: {e}", family.name)))?;
    }
    Ok(out)
}

impl ProtoExposition {
    fn family(&mut self, f: &MetricFamily, classic_histograms: bool) -> Result<(), String> {
        if !is_valid_metric_name(&f.name) {
            return Err("invalid metric name".into());
        }
        let kind = Kind::try_from(f.r#type).map_err(|_| format!("unknown type {}", f.r#type))?;
        if f.metric.is_empty() {
            return Ok(());
        }
        self.metadata.push(Metadata {
            name: f.name.clone(),
            help: (!f.help.is_empty()).then(|| f.help.clone()),
            kind: Some(match kind {
                Kind::Counter => MetricType::Counter,
                Kind::Gauge => MetricType::Gauge,
                Kind::Summary => MetricType::Summary,
                Kind::Untyped => MetricType::Untyped,
                Kind::Histogram => MetricType::Histogram,
                Kind::GaugeHistogram => MetricType::GaugeHistogram,
            }),
            unit: (!f.unit.is_empty()).then(|| f.unit.clone()),
        });
        let name = f.name.as_str();
        for m in &f.metric {
            for l in &m.label {
                if !is_valid_label_name(&l.name) {
                    return Err(format!("invalid label name {:?}", l.name));
                }
            }
            let ts = (m.timestamp_ms != 0).then_some(m.timestamp_ms);
            let labels = &m.label;
            match kind {
                Kind::Counter => {
                    let c = m.counter.clone().unwrap_or_default();
                    self.sample(name, labels, None, c.value, ts)?;
                    if let Some(e) = &c.exemplar {
                        self.exemplar(e);
                    }
                }
                Kind::Gauge => {
                    let v = m.gauge.map_or(0.0, |g| g.value);
                    self.sample(name, labels, None, v, ts)?;
                }
                Kind::Untyped => {
                    let v = m.untyped.map_or(0.0, |u| u.value);
                    self.sample(name, labels, None, v, ts)?;
                }
                Kind::Summary => {
                    let s = m.summary.clone().unwrap_or_default();
                    self.sample(
                        &format!("{name}_count"),
                        labels,
                        None,
                        s.sample_count as f64,
                        ts,
                    )?;
                    self.sample(&format!("{name}_sum"), labels, None, s.sample_sum, ts)?;
                    for q in &s.quantile {
                        let quantile = ("quantile", format_openmetrics_float(q.quantile));
                        self.sample(name, labels, Some(quantile), q.value, ts)?;
                    }
                }
                Kind::Histogram | Kind::GaugeHistogram => {
                    let h = m.histogram.clone().unwrap_or_default();
                    let native = is_native(&h);
                    if native {
                        let mut fh = native_histogram(&h)?;
                        if kind == Kind::GaugeHistogram {
                            fh.reset_hint = ResetHint::Gauge;
                        }
                        let series = self.series(name, labels, None)?;
                        self.histograms.push((series, fh, ts));
                    }
                    if !native || (classic_histograms && !h.bucket.is_empty()) {
                        self.classic(name, labels, &h, ts)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The `_count`, `_sum` and `_bucket` samples of a histogram.
    fn classic(
        &mut self,
        name: &str,
        labels: &[proto::LabelPair],
        h: &proto::Histogram,
        ts: Option<i64>,
    ) -> Result<(), String> {
        let count = if h.sample_count_float > 0.0 {
            h.sample_count_float
        } else {
            h.sample_count as f64
        };
        self.sample(&format!("{name}_count"), labels, None, count, ts)?;
        self.sample(&format!("{name}_sum"), labels, None, h.sample_sum, ts)?;
        let bucket = format!("{name}_bucket");
        let mut has_inf = false;
        for b in &h.bucket {
            let v = if b.cumulative_count_float > 0.0 {
                b.cumulative_count_float
            } else {
                b.cumulative_count as f64
            };
            let le = ("le", format_openmetrics_float(b.upper_bound));
            self.sample(&bucket, labels, Some(le), v, ts)?;
            if let Some(e) = &b.exemplar {
                self.exemplar(e);
            }
            if b.upper_bound == f64::INFINITY {
                has_inf = true;
                break;
            }
        }
        if !has_inf {
            self.sample(&bucket, labels, Some(("le", "+Inf".into())), count, ts)?;
        }
        Ok(())
    }

    /// Writes the series `name{labels, extra}` into the text buffer: its range.
    fn series(
        &mut self,
        name: &str,
        labels: &[proto::LabelPair],
        extra: Option<(&str, String)>,
    ) -> Result<Range<usize>, String> {
        let start = self.text.len();
        self.text.push_str(name);
        self.text.push('{');
        let mut first = true;
        let extra_pair = extra.as_ref().map(|(n, v)| (*n, v.as_str()));
        for (n, v) in labels
            .iter()
            .map(|l| (l.name.as_str(), l.value.as_str()))
            .chain(extra_pair)
        {
            if !first {
                self.text.push(',');
            }
            first = false;
            let _ = write!(self.text, "{n}=\"");
            escape_into(&mut self.text, v);
            self.text.push('"');
        }
        self.text.push('}');
        let range = start..self.text.len();
        if let Some((n, _)) = &extra
            && labels.iter().any(|l| l.name == *n)
        {
            return Err(format!("duplicate label name {n:?}"));
        }
        if labels
            .iter()
            .enumerate()
            .any(|(i, l)| labels[..i].iter().any(|o| o.name == l.name))
        {
            return Err(format!("duplicate label in {}", &self.text[range]));
        }
        Ok(range)
    }

    fn sample(
        &mut self,
        name: &str,
        labels: &[proto::LabelPair],
        extra: Option<(&str, String)>,
        value: f64,
        ts: Option<i64>,
    ) -> Result<(), String> {
        let series = self.series(name, labels, extra)?;
        self.samples.push((series, value, ts));
        Ok(())
    }

    /// The exemplar of the sample just written.
    fn exemplar(&mut self, e: &proto::Exemplar) {
        self.exemplars.push(ParsedExemplar {
            sample: self.samples.len() - 1,
            labels: e
                .label
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect(),
            value: e.value,
            timestamp_ms: e.timestamp.map(|t| {
                t.seconds
                    .saturating_mul(1000)
                    .saturating_add(i64::from(t.nanos) / 1_000_000)
            }),
        });
    }
}

/// Whether a histogram has native buckets (Prometheus's `isNativeHistogram`): a span on
/// either side, a zero threshold or a zero count. (Exporters add an empty span to a
/// native histogram without observations.)
fn is_native(h: &proto::Histogram) -> bool {
    !h.positive_span.is_empty()
        || !h.negative_span.is_empty()
        || h.zero_threshold > 0.0
        || h.zero_count > 0
        || h.zero_count_float > 0.0
}

/// The native histogram of `h`: a float histogram when its count or zero count is a
/// float, else an integer one (bucket counts as deltas); checked as Prometheus checks it
/// before storing, buckets of count 0 dropped.
fn native_histogram(h: &proto::Histogram) -> Result<FloatHistogram, String> {
    let float = h.sample_count_float > 0.0 || h.zero_count_float > 0.0;
    let spans = |s: &[proto::BucketSpan]| {
        s.iter()
            .map(|s| Span {
                offset: s.offset,
                length: s.length,
            })
            .collect()
    };
    let (count, zero_count, positive, negative) = if float {
        (
            h.sample_count_float,
            h.zero_count_float,
            h.positive_count.clone(),
            h.negative_count.clone(),
        )
    } else {
        (
            h.sample_count as f64,
            h.zero_count as f64,
            absolute(&h.positive_delta)?,
            absolute(&h.negative_delta)?,
        )
    };
    let mut out = FloatHistogram {
        reset_hint: ResetHint::Unknown,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count,
        count,
        sum: h.sample_sum,
        positive_spans: spans(&h.positive_span),
        positive_buckets: positive,
        negative_spans: spans(&h.negative_span),
        negative_buckets: negative,
        custom_values: Vec::new(),
    };
    out.validate_counts(!float).map_err(|e| e.to_string())?;
    out.compact();
    Ok(out)
}

/// Absolute counts of delta-encoded buckets.
fn absolute(deltas: &[i64]) -> Result<Vec<f64>, String> {
    let mut count: i64 = 0;
    deltas
        .iter()
        .map(|d| {
            count = count
                .checked_add(*d)
                .ok_or("invalid native histogram: a bucket count overflows")?;
            Ok(count as f64)
        })
        .collect()
}

/// `\`, `"` and newlines escaped as in the text format's label values.
fn escape_into(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A float as Prometheus writes `le` and `quantile` values of the protobuf format: Go's
/// shortest `%g` form (`strconv.FormatFloat(f, 'g', -1, 64)`: an exponent from 1e6 up and
/// below 1e-4, at least two exponent digits),
/// with `.0` added when that has neither a `.` nor an exponent; `+Inf`, `-Inf`, `NaN`.
pub fn format_openmetrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return "0.0".into();
    }
    // Shortest round-trip digits and the decimal exponent, from Rust's `{:e}`.
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let sign = if f < 0.0 { "-" } else { "" };
    // Go's %g with the shortest precision switches to an exponent below 1e-4 and from
    // 1e6 up.
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}{rest}e{esign}{:02}", exp.abs());
    }
    let s = if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            format!("{digits}{}", "0".repeat(int_len - digits.len()))
        } else {
            format!("{}.{}", &digits[..int_len], &digits[int_len..])
        }
    };
    if s.contains('.') {
        format!("{sign}{s}")
    } else {
        format!("{sign}{s}.0")
    }
}

#[cfg(test)]
mod tests;
