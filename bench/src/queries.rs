//! The six dashboard queries of issue 15 over `/api/v1/query_range`, timed, and the
//! answers of two servers compared point by point.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::error::{Error, Result};

/// A query of the benchmark: a short name for tables and its PromQL.
#[derive(Clone, Debug)]
pub struct Query {
    pub name: &'static str,
    pub promql: String,
}

/// The six queries; `instance` picks the one series of the last.
pub fn queries(instance: &str) -> Vec<Query> {
    let q = |name, promql: &str| Query {
        name,
        promql: promql.to_string(),
    };
    vec![
        q(
            "cpu rate by job",
            r#"sum by (job) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))"#,
        ),
        q(
            "fs avail by instance",
            "avg by (instance) (node_filesystem_avail_bytes)",
        ),
        q(
            "histogram p99",
            "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        ),
        q("topk heap", "topk(10, go_memstats_heap_alloc_bytes)"),
        q(
            "network rate",
            "sum(rate(node_network_receive_bytes_total[5m]))",
        ),
        Query {
            name: "one series",
            promql: format!(r#"node_load1{{instance="{instance}"}}"#),
        },
    ]
}

/// A range query's window (seconds since the epoch) and step.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Range {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

/// A range-query answer: label set (as canonical JSON) -> (time, value) points.
pub type Matrix = BTreeMap<String, Vec<(f64, f64)>>;

/// One query's timings on one server.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QueryRun {
    pub name: &'static str,
    pub promql: String,
    pub runs_ms: Vec<f64>,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub series: usize,
    pub points: usize,
    #[serde(skip)]
    pub answer: Matrix,
}

/// The nearest-rank percentile of `values`.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn parse_value(v: &serde_json::Value) -> Option<f64> {
    match v.as_str()? {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        s => s.parse().ok(),
    }
}

/// Parses a `query_range` response body into a [`Matrix`].
pub fn parse_matrix(body: &serde_json::Value) -> Result<Matrix> {
    let invalid = |detail: String| Error::Invalid {
        what: "query_range answer",
        detail,
    };
    if body["status"] != "success" {
        return Err(invalid(format!("status {}", body["status"])));
    }
    let result = body["data"]["result"]
        .as_array()
        .ok_or_else(|| invalid("no data.result".into()))?;
    let mut out = Matrix::new();
    for series in result {
        let key = serde_json::to_string(&series["metric"]).unwrap_or_default();
        let values = series["values"]
            .as_array()
            .ok_or_else(|| invalid(format!("{key}: no values")))?;
        let points = values
            .iter()
            .map(|p| Some((p.get(0)?.as_f64()?, parse_value(p.get(1)?)?)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid(format!("{key}: a point is not [time, \"value\"]")))?;
        out.insert(key, points);
    }
    Ok(out)
}

pub async fn query_range(
    client: &reqwest::Client,
    base: &str,
    promql: &str,
    range: Range,
) -> Result<serde_json::Value> {
    let url = format!("{base}/api/v1/query_range");
    let form = [
        ("query", promql.to_string()),
        ("start", range.start.to_string()),
        ("end", range.end.to_string()),
        ("step", range.step.to_string()),
    ];
    let r = client
        .post(&url)
        .form(&form)
        .send()
        .await
        .map_err(Error::http(&url))?;
    let status = r.status();
    let text = r.text().await.map_err(Error::http(&url))?;
    if !status.is_success() {
        return Err(Error::Status {
            url,
            status: status.as_u16(),
            body: format!("{promql}: {}", text.chars().take(500).collect::<String>()),
        });
    }
    serde_json::from_str(&text).map_err(|e| Error::Invalid {
        what: "query_range answer",
        detail: format!("{promql}: {e}"),
    })
}

/// Runs each query once to warm up (its answer is kept), then `runs` times timed, one
/// after the other.
pub async fn run_all(
    client: &reqwest::Client,
    base: &str,
    queries: &[Query],
    range: Range,
    runs: usize,
) -> Result<Vec<QueryRun>> {
    let mut out = Vec::new();
    for q in queries {
        let answer = parse_matrix(&query_range(client, base, &q.promql, range).await?)?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let body = query_range(client, base, &q.promql, range).await?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(body);
        }
        out.push(QueryRun {
            name: q.name,
            promql: q.promql.clone(),
            p50_ms: percentile(&times, 0.5),
            p90_ms: percentile(&times, 0.9),
            runs_ms: times,
            series: answer.len(),
            points: answer.values().map(Vec::len).sum(),
            answer,
        });
    }
    Ok(out)
}

/// How one query's answers on two servers compare.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Comparison {
    pub name: &'static str,
    pub series: (usize, usize),
    pub points: (usize, usize),
    /// Points missing on one side or differing by more than the tolerance.
    pub mismatches: usize,
    pub max_relative_difference: f64,
    pub first_difference: Option<String>,
}

fn relative_difference(a: f64, b: f64) -> f64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0.0;
    }
    let scale = a.abs().max(b.abs());
    if !scale.is_finite() {
        return f64::INFINITY;
    }
    (a - b).abs() / scale
}

/// Compares `a` with `b` (e.g. Telltale's answer with Prometheus's), each point within a
/// relative `tolerance`.
pub fn compare(a: &QueryRun, b: &QueryRun, tolerance: f64) -> Comparison {
    let mut mismatches = 0;
    let mut max_rel: f64 = 0.0;
    let mut first = None::<String>;
    let mut note = |m: &mut usize, what: String| {
        *m += 1;
        first.get_or_insert(what);
    };
    let keys: std::collections::BTreeSet<&String> =
        a.answer.keys().chain(b.answer.keys()).collect();
    let millis = |t: f64| (t * 1e3).round() as i64;
    for key in keys {
        let (Some(pa), Some(pb)) = (a.answer.get(key), b.answer.get(key)) else {
            note(&mut mismatches, format!("series {key} only on one side"));
            continue;
        };
        let by_time = |ps: &[(f64, f64)]| -> BTreeMap<i64, f64> {
            ps.iter().map(|(t, v)| (millis(*t), *v)).collect()
        };
        let (ta, tb) = (by_time(pa), by_time(pb));
        for (t, va) in &ta {
            match tb.get(t) {
                Some(vb) => {
                    let d = relative_difference(*va, *vb);
                    max_rel = max_rel.max(d);
                    if d > tolerance {
                        note(&mut mismatches, format!("{key} at {t} ms: {va} vs {vb}"));
                    }
                }
                None => note(
                    &mut mismatches,
                    format!("{key} at {t} ms: {va} vs no point"),
                ),
            }
        }
        for (t, vb) in &tb {
            if !ta.contains_key(t) {
                note(
                    &mut mismatches,
                    format!("{key} at {t} ms: no point vs {vb}"),
                );
            }
        }
    }
    Comparison {
        name: a.name,
        series: (a.series, b.series),
        points: (a.points, b.points),
        mismatches,
        max_relative_difference: max_rel,
        first_difference: first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: serde_json::Value) -> QueryRun {
        let answer = parse_matrix(&body).unwrap();
        QueryRun {
            name: "q",
            promql: String::new(),
            runs_ms: vec![],
            p50_ms: 0.0,
            p90_ms: 0.0,
            series: answer.len(),
            points: answer.values().map(Vec::len).sum(),
            answer,
        }
    }

    fn matrix(points: &[(&str, &[(f64, &str)])]) -> serde_json::Value {
        let result: Vec<_> = points
            .iter()
            .map(|(job, ps)| {
                serde_json::json!({
                    "metric": {"job": job},
                    "values": ps.iter().map(|(t, v)| serde_json::json!([t, v])).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::json!({"status": "success", "data": {"resultType": "matrix", "result": result}})
    }

    #[test]
    fn equal_answers_compare_clean_and_differences_are_counted() {
        let a = run(matrix(&[
            ("a", &[(1.0, "1"), (2.0, "NaN")]),
            ("b", &[(1.0, "+Inf")]),
        ]));
        let same = compare(&a, &a.clone(), 1e-6);
        assert_eq!(same.mismatches, 0, "{same:?}");
        let near = run(matrix(&[
            ("a", &[(1.0, "1.0000000001"), (2.0, "NaN")]),
            ("b", &[(1.0, "+Inf")]),
        ]));
        assert_eq!(compare(&a, &near, 1e-6).mismatches, 0);
        let off = run(matrix(&[("a", &[(1.0, "1.1")]), ("c", &[(1.0, "2")])]));
        let c = compare(&a, &off, 1e-6);
        // a@1 differs, a@2 missing, b only in a, c only in off.
        assert_eq!(c.mismatches, 4, "{c:?}");
        assert!(c.first_difference.is_some());
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 5.0);
        assert_eq!(percentile(&v, 0.9), 9.0);
        assert_eq!(percentile(&[3.0], 0.9), 3.0);
    }
}
