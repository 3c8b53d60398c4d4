//! The JSON messages of the live WebSocket (server to browser).
//!
//! ```text
//! {"type":"points","end":1700000015,"data":{"resultType":"matrix","result":[
//!     {"metric":{"__name__":"up","job":"a"},"values":[[1700000015,"1"]]},
//!     {"metric":{...},"histograms":[[1700000015,{"count":"3","sum":"1.5","buckets":[...]}]]}]},
//!  "warnings":["..."]}                                    (warnings only when any)
//! {"type":"error","errorType":"bad_data","error":"..."}
//! ```
//! `data` has the shape of a Prometheus `query_range` result, so the browser decodes
//! both with the same code.

use serde_json::{Map, Value as Json, json};
use telltale_query::api::response::{format_value, histogram_point_json};

use crate::error::Error;
use crate::live::LiveSeries;

/// Seconds as a JSON number (`1700000015` or `1700000015.5`).
fn seconds(t_ms: i64) -> Json {
    if t_ms % 1000 == 0 {
        json!(t_ms / 1000)
    } else {
        json!(t_ms as f64 / 1000.0)
    }
}

/// New points up to `end_ms`, at most `max_series` series (the rest dropped, with a
/// warning).
pub fn points(series: &[LiveSeries], end_ms: i64, max_series: usize) -> String {
    let result: Vec<Json> = series
        .iter()
        .take(max_series)
        .map(|s| {
            let metric: Map<String, Json> = s
                .metric
                .iter()
                .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                .collect();
            let values: Vec<Json> = s
                .points
                .iter()
                .map(|&(t, v)| json!([seconds(t), format_value(v)]))
                .collect();
            let mut series = json!({"metric": metric});
            if !values.is_empty() || s.histograms.is_empty() {
                series["values"] = Json::Array(values);
            }
            if !s.histograms.is_empty() {
                let histograms: Vec<Json> = s
                    .histograms
                    .iter()
                    .map(|(t, h)| {
                        serde_json::from_str(&histogram_point_json(*t, h))
                            .expect("the query API writes valid JSON")
                    })
                    .collect();
                series["histograms"] = Json::Array(histograms);
            }
            series
        })
        .collect();
    let mut msg = json!({
        "type": "points",
        "end": seconds(end_ms),
        "data": {"resultType": "matrix", "result": result},
    });
    if series.len() > max_series {
        msg["warnings"] = json!([format!(
            "live mode shows the first {max_series} of {} series",
            series.len()
        )]);
    }
    msg.to_string()
}

/// An evaluation that failed; the connection stays open.
pub fn error(e: &Error) -> String {
    json!({"type": "error", "errorType": e.error_type(), "error": e.to_string()}).to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn series(name: &str, points: Vec<(i64, f64)>) -> LiveSeries {
        LiveSeries {
            metric: BTreeMap::from([("__name__".to_string(), name.to_string())]),
            points,
            histograms: Vec::new(),
        }
    }

    #[test]
    fn histogram_points_have_the_query_range_shape() {
        let mut h = telltale_storage_api::FloatHistogram {
            count: 3.0,
            sum: 1.5,
            ..Default::default()
        };
        h.set_positive([(0, 1.0), (1, 2.0)]);
        let s = LiveSeries {
            histograms: vec![(2_000, std::sync::Arc::new(h))],
            ..series("rpc_seconds", Vec::new())
        };
        let msg: Json = serde_json::from_str(&points(&[s], 2_000, 10)).unwrap();
        let result = &msg["data"]["result"][0];
        assert!(result.get("values").is_none(), "{result}");
        assert_eq!(
            result["histograms"],
            json!([[2, {"count": "3", "sum": "1.5", "buckets": [[0, "0.5", "1", "1"], [0, "1", "2", "2"]]}]])
        );
    }

    #[test]
    fn points_have_the_query_range_shape() {
        let msg: Json = serde_json::from_str(&points(
            &[series("up", vec![(1_000, 1.0), (2_500, f64::NAN)])],
            2_500,
            10,
        ))
        .unwrap();
        assert_eq!(msg["type"], "points");
        assert_eq!(msg["end"], 2.5);
        assert_eq!(msg["data"]["resultType"], "matrix");
        assert_eq!(msg["data"]["result"][0]["metric"]["__name__"], "up");
        assert_eq!(
            msg["data"]["result"][0]["values"],
            json!([[1, "1"], [2.5, "NaN"]])
        );
        assert!(msg.get("warnings").is_none());
    }

    #[test]
    fn series_beyond_the_limit_are_dropped_with_a_warning() {
        let all: Vec<LiveSeries> = (0..5)
            .map(|i| series(&format!("m{i}"), vec![(0, 1.0)]))
            .collect();
        let msg: Json = serde_json::from_str(&points(&all, 0, 2)).unwrap();
        assert_eq!(msg["data"]["result"].as_array().unwrap().len(), 2);
        assert_eq!(
            msg["warnings"][0],
            "live mode shows the first 2 of 5 series"
        );
    }

    #[test]
    fn errors_carry_the_prometheus_error_type() {
        let msg: Json = serde_json::from_str(&error(&Error::Unsupported {
            result_type: "string",
        }))
        .unwrap();
        assert_eq!(msg["type"], "error");
        assert_eq!(msg["errorType"], "bad_data");
        assert_eq!(msg["error"], "live mode cannot graph a string result");
    }
}
