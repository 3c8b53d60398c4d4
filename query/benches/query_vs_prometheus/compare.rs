//! Timing one range query over HTTP against a Prometheus-compatible API, and comparing
//! two answers.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value as Json;

use crate::Error;

/// One range query of the benchmark.
#[derive(Debug, Clone)]
pub struct Query {
    pub name: &'static str,
    pub expr: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// A matrix answer: points per label set (labels rendered sorted).
pub type Matrix = BTreeMap<String, Vec<(i64, f64)>>;

/// The answer, and the `X-Telltale-Tier` header when present.
pub async fn run(
    http: &reqwest::Client,
    base: &str,
    q: &Query,
) -> Result<(Matrix, Option<String>), Error> {
    let secs = |ms: i64| format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
    let resp = http
        .get(format!("{base}/api/v1/query_range"))
        .query(&[
            ("query", q.expr.as_str()),
            ("start", &secs(q.start_ms)),
            ("end", &secs(q.end_ms)),
            ("step", &secs(q.step_ms)),
        ])
        .send()
        .await?;
    let tier = resp
        .headers()
        .get("x-telltale-tier")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let status = resp.status();
    let body: Json = resp.json().await?;
    if !status.is_success() || body["status"] != "success" {
        return Err(format!("{base}: {} -> {status} {body}", q.expr).into());
    }
    let mut out = Matrix::new();
    for s in body["data"]["result"].as_array().ok_or("no result array")? {
        let labels: BTreeMap<String, String> = serde_json::from_value(s["metric"].clone())?;
        let key = labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut points = Vec::new();
        for p in s["values"].as_array().ok_or("no values")? {
            let t = p[0].as_f64().ok_or("bad timestamp")?;
            let v: f64 = match p[1].as_str().ok_or("bad value")? {
                "NaN" => f64::NAN,
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                x => x.parse()?,
            };
            points.push(((t * 1000.0).round() as i64, v));
        }
        out.insert(key, points);
    }
    Ok((out, tier))
}

/// Telltale's own split of one run (the `stats` block): milliseconds reading storage and
/// evaluating.
pub async fn split(http: &reqwest::Client, base: &str, q: &Query) -> Result<(f64, f64), Error> {
    let secs = |ms: i64| format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
    let body: Json = http
        .get(format!("{base}/api/v1/query_range"))
        .query(&[
            ("query", q.expr.as_str()),
            ("start", &secs(q.start_ms)),
            ("end", &secs(q.end_ms)),
            ("step", &secs(q.step_ms)),
            ("stats", "all"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let timings = &body["data"]["stats"]["timings"];
    let ms = |name: &str| timings[name].as_f64().unwrap_or(f64::NAN) * 1000.0;
    Ok((ms("queryPreparationTime"), ms("innerEvalTime")))
}

/// Wall times of `n` runs, in milliseconds, sorted.
pub async fn time(
    http: &reqwest::Client,
    base: &str,
    q: &Query,
    n: usize,
) -> Result<Vec<f64>, Error> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        run(http, base, q).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    Ok(times)
}

/// The `p`-quantile (0..1) of sorted times (nearest rank).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// How two answers differ: series only in one, points at different times, and the
/// largest relative difference of values at the same time.
#[derive(Debug, Default)]
pub struct Diff {
    pub only_in_one: usize,
    pub point_count_mismatch: usize,
    pub points: usize,
    pub max_rel: f64,
    /// Where the largest difference is: series, time (ms), ours, theirs.
    pub worst: Option<(String, i64, f64, f64)>,
    /// The first point in one answer and not the other: series, time (ms), in ours.
    pub missing: Option<(String, i64, bool)>,
    /// The latest time (ms) at which the answers differ at all.
    pub latest: Option<i64>,
}

impl Diff {
    pub fn agrees(&self, tolerance: f64) -> bool {
        self.only_in_one == 0 && self.point_count_mismatch == 0 && self.max_rel <= tolerance
    }
}

pub fn diff(a: &Matrix, b: &Matrix) -> Diff {
    let mut d = Diff::default();
    d.only_in_one = a.keys().filter(|k| !b.contains_key(*k)).count()
        + b.keys().filter(|k| !a.contains_key(*k)).count();
    for (k, pa) in a {
        let Some(pb) = b.get(k) else { continue };
        let tb: BTreeMap<i64, f64> = pb.iter().copied().collect();
        if pa.len() != pb.len() {
            d.point_count_mismatch += 1;
            let ta: BTreeMap<i64, f64> = pa.iter().copied().collect();
            let first = pa
                .iter()
                .find(|p| !tb.contains_key(&p.0))
                .map(|p| (p.0, true))
                .or_else(|| {
                    pb.iter()
                        .find(|p| !ta.contains_key(&p.0))
                        .map(|p| (p.0, false))
                });
            if d.missing.is_none() {
                d.missing = first.map(|(t, ours)| (k.clone(), t, ours));
            }
            let ta_keys = pa.iter().map(|p| p.0).filter(|t| !tb.contains_key(t));
            let tb_keys = pb.iter().map(|p| p.0).filter(|t| !ta.contains_key(t));
            d.latest = ta_keys.chain(tb_keys).chain(d.latest).max();
        }
        for (t, va) in pa {
            let Some(vb) = tb.get(t) else { continue };
            d.points += 1;
            let rel = if (va.is_nan() && vb.is_nan()) || va == vb {
                0.0
            } else {
                (va - vb).abs() / va.abs().max(vb.abs()).max(1e-300)
            };
            if rel > 1e-9 {
                d.latest = d.latest.max(Some(*t));
            }
            if rel > d.max_rel {
                d.max_rel = rel;
                d.worst = Some((k.clone(), *t, *va, *vb));
            }
        }
    }
    d
}
