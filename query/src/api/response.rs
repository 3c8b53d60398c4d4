//! JSON encoding of API responses, byte-for-byte in Prometheus' shapes.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::Error;
use crate::labels::Labels;
use crate::value::Value;

/// A float as Prometheus writes sample values: `NaN`, `+Inf`, `-Inf`, or Go's
/// `strconv.FormatFloat(v, 'f', -1, 64)` (shortest digits, never an exponent).
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        // Rust's Display is also the shortest round-trip form without an exponent.
        format!("{v}")
    }
}

/// A millisecond timestamp as Prometheus' `MarshalTimestamp` writes it: seconds, and
/// when there are milliseconds a three-digit fraction.
pub fn format_time(t_ms: i64) -> String {
    let sign = if t_ms < 0 { "-" } else { "" };
    let abs = t_ms.unsigned_abs();
    let (secs, frac) = (abs / 1000, abs % 1000);
    if frac == 0 {
        format!("{sign}{secs}")
    } else {
        format!("{sign}{secs}.{frac:03}")
    }
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// `{"name":"value",...}`.
pub fn labels_json(l: &Labels) -> String {
    let mut out = String::from("{");
    for (i, (n, v)) in l.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&json_string(n));
        out.push(':');
        out.push_str(&json_string(v));
    }
    out.push('}');
    out
}

fn point_json(t_ms: i64, v: f64) -> String {
    format!("[{},\"{}\"]", format_time(t_ms), format_value(v))
}

/// `{"resultType":...,"result":...}` of a query result.
pub fn value_json(v: &Value) -> String {
    let result = match v {
        Value::Scalar { t_ms, value } => point_json(*t_ms, *value),
        Value::String { t_ms, value } => format!("[{},{}]", format_time(*t_ms), json_string(value)),
        Value::Vector(samples) => {
            let items: Vec<String> = samples
                .iter()
                .map(|s| {
                    format!(
                        "{{\"metric\":{},\"value\":{}}}",
                        labels_json(&s.metric),
                        point_json(s.t_ms, s.value)
                    )
                })
                .collect();
            format!("[{}]", items.join(","))
        }
        Value::Matrix(series) => {
            let items: Vec<String> = series
                .iter()
                .map(|s| {
                    let points: Vec<String> =
                        s.points.iter().map(|&(t, v)| point_json(t, v)).collect();
                    format!(
                        "{{\"metric\":{},\"values\":[{}]}}",
                        labels_json(&s.metric),
                        points.join(",")
                    )
                })
                .collect();
            format!("[{}]", items.join(","))
        }
    };
    format!(
        "{{\"resultType\":\"{}\",\"result\":{}}}",
        v.result_type(),
        result
    )
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// `{"status":"success","data":<data>}` with optional warnings.
pub fn success(data_json: String, warnings: &[String]) -> Response {
    let mut body = format!("{{\"status\":\"success\",\"data\":{data_json}");
    if !warnings.is_empty() {
        let w: Vec<String> = warnings.iter().map(|w| json_string(w)).collect();
        body.push_str(&format!(",\"warnings\":[{}]", w.join(",")));
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

    #[test]
    fn result_shapes() {
        let l = Labels::from(vec![("job".to_string(), "a\"b".to_string())]);
        let v = Value::Vector(vec![Sample {
            metric: l.clone(),
            t_ms: 1_000,
            value: 2.0,
        }]);
        assert_eq!(
            value_json(&v),
            r#"{"resultType":"vector","result":[{"metric":{"job":"a\"b"},"value":[1,"2"]}]}"#
        );
        let m = Value::Matrix(vec![Series {
            metric: l,
            points: vec![(1_000, 1.0), (2_000, f64::NAN)],
        }]);
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
