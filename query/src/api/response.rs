//! JSON encoding of API responses, byte-for-byte in Prometheus' shapes.

use std::fmt::Write;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::labels::Labels;
use crate::value::{FloatHistogram, Value};

/// A float as Prometheus writes sample values: `NaN`, `+Inf`, `-Inf`, or Go's
/// `strconv.FormatFloat(v, 'f', -1, 64)` (shortest digits, never an exponent).
pub fn format_value(v: f64) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v == f64::INFINITY {
        out.push_str("+Inf");
    } else if v == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else {
        // Rust's Display is also the shortest round-trip form without an exponent.
        let _ = write!(out, "{v}");
    }
}

/// A millisecond timestamp as Prometheus' `MarshalTimestamp` writes it: seconds, and
/// when there are milliseconds a three-digit fraction.
pub fn format_time(t_ms: i64) -> String {
    let mut out = String::new();
    write_time(&mut out, t_ms);
    out
}

fn write_time(out: &mut String, t_ms: i64) {
    if t_ms < 0 {
        out.push('-');
    }
    let abs = t_ms.unsigned_abs();
    let (secs, frac) = (abs / 1000, abs % 1000);
    let _ = if frac == 0 {
        write!(out, "{secs}")
    } else {
        write!(out, "{secs}.{frac:03}")
    };
}

/// `[{"seriesLabels":{...},"exemplars":[{"labels":{...},"value":"v","timestamp":t}]}]`,
/// as Prometheus's `exemplar.QueryResult` marshals.
pub fn exemplars_json(found: &[crate::engine::SeriesExemplars]) -> String {
    let mut out = String::from("[");
    for (i, s) in found.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"seriesLabels\":");
        write_labels(&mut out, &s.series);
        out.push_str(",\"exemplars\":[");
        for (j, (labels, value, t_ms)) in s.exemplars.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str("{\"labels\":");
            write_labels(&mut out, labels);
            out.push_str(",\"value\":\"");
            write_value(&mut out, *value);
            out.push_str("\",\"timestamp\":");
            write_time(&mut out, *t_ms);
            out.push('}');
        }
        out.push_str("]}");
    }
    out.push(']');
    out
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `{"name":"value",...}`.
pub fn labels_json(l: &Labels) -> String {
    let mut out = String::new();
    write_labels(&mut out, l);
    out
}

fn write_labels(out: &mut String, l: &Labels) {
    out.push('{');
    for (i, (n, v)) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(n));
        out.push(':');
        out.push_str(&json_string(v));
    }
    out.push('}');
}

/// `[time,"value"]`.
fn write_point(out: &mut String, t_ms: i64, v: f64) {
    out.push('[');
    write_time(out, t_ms);
    out.push_str(",\"");
    write_value(out, v);
    out.push_str("\"]");
}

/// `[time,{"count":"c","sum":"s","buckets":[[boundaries,"lower","upper","count"],...]}]`:
/// a native histogram point as Prometheus's `jsonutil.MarshalHistogram` writes it.
/// Buckets of count 0 are left out (and `buckets` when none is left); `boundaries` says
/// which ends are inclusive: 0 the upper, 1 the lower, 2 neither, 3 both.
fn write_histogram_point(out: &mut String, t_ms: i64, h: &FloatHistogram) {
    out.push('[');
    write_time(out, t_ms);
    out.push_str(",{\"count\":\"");
    write_value(out, h.count);
    out.push_str("\",\"sum\":\"");
    write_value(out, h.sum);
    out.push('"');
    let mut first = true;
    for b in h.buckets() {
        if b.count == 0.0 {
            continue;
        }
        out.push_str(if first { ",\"buckets\":[" } else { "," });
        first = false;
        let boundaries = match (b.lower_inclusive, b.upper_inclusive) {
            (false, true) => 0,
            (true, false) => 1,
            (false, false) => 2,
            (true, true) => 3,
        };
        let _ = write!(out, "[{boundaries},\"");
        write_value(out, b.lower);
        out.push_str("\",\"");
        write_value(out, b.upper);
        out.push_str("\",\"");
        write_value(out, b.count);
        out.push_str("\"]");
    }
    if !first {
        out.push(']');
    }
    out.push_str("}]");
}

/// A native histogram point's JSON, `[time,{"count":…,"sum":…,"buckets":[…]}]`, as
/// `query_range` writes it (for other writers of the same shape: the UI's live mode).
pub fn histogram_point_json(t_ms: i64, h: &FloatHistogram) -> String {
    let mut out = String::new();
    write_histogram_point(&mut out, t_ms, h);
    out
}

/// `{"resultType":...,"result":...}` of a query result, written into one buffer (a
/// range query's answer is thousands of points).
pub fn value_json(v: &Value) -> String {
    let mut out = format!("{{\"resultType\":\"{}\",\"result\":", v.result_type());
    match v {
        Value::Scalar { t_ms, value } => write_point(&mut out, *t_ms, *value),
        Value::String { t_ms, value } => {
            out.push('[');
            write_time(&mut out, *t_ms);
            out.push(',');
            out.push_str(&json_string(value));
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.metric);
                match &s.histogram {
                    Some(h) => {
                        out.push_str(",\"histogram\":");
                        write_histogram_point(&mut out, s.t_ms, h);
                    }
                    None => {
                        out.push_str(",\"value\":");
                        write_point(&mut out, s.t_ms, s.value);
                    }
                }
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            let points: usize = series.iter().map(|s| s.points.len()).sum();
            out.reserve(points * 28 + series.len() * 64);
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.metric);
                // Each array only when it has points, as Prometheus writes a series.
                if !s.points.is_empty() || s.histograms.is_empty() {
                    out.push_str(",\"values\":[");
                    for (j, &(t, v)) in s.points.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_point(&mut out, t, v);
                    }
                    out.push(']');
                }
                if !s.histograms.is_empty() {
                    out.push_str(",\"histograms\":[");
                    for (j, (t, h)) in s.histograms.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_histogram_point(&mut out, *t, h);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `{"status":"success","data":<data>}` with optional warnings.
pub fn success(data_json: String, warnings: &[String]) -> Response {
    success_annotated(data_json, warnings, &[])
}

/// `{"status":"success","data":<data>,"warnings":[...],"infos":[...]}`, each array only
/// when not empty (as Prometheus 3 answers queries).
pub fn success_annotated(data_json: String, warnings: &[String], infos: &[String]) -> Response {
    let mut body = format!("{{\"status\":\"success\",\"data\":{data_json}");
    for (field, notes) in [("warnings", warnings), ("infos", infos)] {
        if !notes.is_empty() {
            body.push_str(&format!(",\"{field}\":{}", strings_json(notes)));
        }
    }
    body.push('}');
    json_response(StatusCode::OK, body)
}

/// `{"status":"error","errorType":...,"error":...}` with the error's HTTP status.
pub fn error(e: &Error) -> Response {
    let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = format!(
        "{{\"status\":\"error\",\"errorType\":\"{}\",\"error\":{}}}",
        e.error_type(),
        json_string(&e.to_string())
    );
    json_response(status, body)
}

/// A JSON array of strings.
pub fn strings_json(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| json_string(v)).collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Sample, Series};

    #[test]
    fn floats_format_like_go() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.1), "0.1");
        assert_eq!(format_value(-2.5), "-2.5");
        assert_eq!(format_value(1e21), "1000000000000000000000");
        assert_eq!(format_value(1e-7), "0.0000001");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn times_format_like_prometheus() {
        assert_eq!(format_time(1_435_781_451_781), "1435781451.781");
        assert_eq!(format_time(1_435_781_451_000), "1435781451");
        assert_eq!(format_time(1_500), "1.500");
        assert_eq!(format_time(5), "0.005");
        assert_eq!(format_time(-1_500), "-1.500");
    }

    /// count 5, sum 10: two in [-1, -0.5), one in the zero bucket, two in (1, 2], an
    /// empty (2, 4].
    fn histogram() -> std::sync::Arc<FloatHistogram> {
        let mut h = FloatHistogram {
            zero_threshold: 0.001,
            zero_count: 1.0,
            count: 5.0,
            sum: 10.0,
            ..FloatHistogram::default()
        };
        h.set_positive([(1, 2.0), (2, 0.0)]);
        h.set_negative([(0, 2.0)]);
        std::sync::Arc::new(h)
    }

    #[test]
    fn histograms_as_prometheus_writes_them() {
        let l = Labels::from(vec![("__name__".to_string(), "h".to_string())]);
        let json = r#"{"count":"5","sum":"10","buckets":[[1,"-1","-0.5","2"],[3,"-0.001","0.001","1"],[0,"1","2","2"]]}"#;
        let v = Value::Vector(vec![Sample::histogram(l.clone(), 1_500, histogram())]);
        assert_eq!(
            value_json(&v),
            format!(
                r#"{{"resultType":"vector","result":[{{"metric":{{"__name__":"h"}},"histogram":[1.500,{json}]}}]}}"#
            )
        );
        let m = Value::Matrix(vec![Series {
            metric: l.clone(),
            points: vec![(1_000, 1.0)],
            histograms: vec![(2_000, histogram())],
        }]);
        assert_eq!(
            value_json(&m),
            format!(
                r#"{{"resultType":"matrix","result":[{{"metric":{{"__name__":"h"}},"values":[[1,"1"]],"histograms":[[2,{json}]]}}]}}"#
            )
        );
        let only = Value::Matrix(vec![Series {
            metric: l,
            points: vec![],
            histograms: vec![(2_000, histogram())],
        }]);
        assert!(value_json(&only).contains(r#""metric":{"__name__":"h"},"histograms":[[2,"#));
        // No bucket with a count: no `buckets`; infinities as Prometheus spells them.
        let empty = FloatHistogram {
            count: 0.0,
            sum: f64::INFINITY,
            ..FloatHistogram::default()
        };
        let mut out = String::new();
        write_histogram_point(&mut out, 0, &empty);
        assert_eq!(out, r#"[0,{"count":"0","sum":"+Inf"}]"#);
    }

    #[test]
    fn result_shapes() {
        let l = Labels::from(vec![("job".to_string(), "a\"b".to_string())]);
        let v = Value::Vector(vec![Sample::float(l.clone(), 1_000, 2.0)]);
        assert_eq!(
            value_json(&v),
            r#"{"resultType":"vector","result":[{"metric":{"job":"a\"b"},"value":[1,"2"]}]}"#
        );
        let m = Value::Matrix(vec![Series::floats(
            l,
            vec![(1_000, 1.0), (2_000, f64::NAN)],
        )]);
        assert_eq!(
            value_json(&m),
            r#"{"resultType":"matrix","result":[{"metric":{"job":"a\"b"},"values":[[1,"1"],[2,"NaN"]]}]}"#
        );
        let s = Value::Scalar {
            t_ms: 1_500,
            value: 3.0,
        };
        assert_eq!(
            value_json(&s),
            r#"{"resultType":"scalar","result":[1.500,"3"]}"#
        );
    }
}
