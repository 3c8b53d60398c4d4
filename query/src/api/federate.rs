//! `GET /federate`: the latest sample of every series matching any `match[]`, in the
//! text exposition format (0.0.4), as Prometheus serves a federating Prometheus: grouped
//! by metric name, each group under `# TYPE <name> untyped`, every sample with its own
//! timestamp, series ordered by labels. A series whose latest sample within the lookback
//! (5 m by default) is a staleness marker is left out. Errors are plain text with 400.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promql_parser::parser::{self, Expr};
use telltale_model::now_ms;

use super::request_params;
use super::response::format_value;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::value::Value;

/// A series' latest sample: (timestamp in ms, value).
type Point = (i64, f64);

/// The text format's content type.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The axum handler.
pub async fn federate(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
    body: Body,
) -> Response {
    let started = std::time::Instant::now();
    let resp = match latest(&engine, &headers, q, body).await {
        Ok(samples) => {
            ([(header::CONTENT_TYPE, TEXT_FORMAT)], exposition(&samples)).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    engine
        .metrics()
        .observe_request("federate", started.elapsed().as_secs_f64());
    resp
}

/// Labels -> (timestamp, value) of the latest sample of every matching series.
async fn latest(
    engine: &Engine,
    headers: &HeaderMap,
    q: Option<String>,
    body: Body,
) -> Result<BTreeMap<Labels, Point>> {
    let p = request_params(engine, headers, q, body).await?;
    let matches = p.get_all("match[]");
    if matches.is_empty() {
        return Err(Error::bad_data("no match[] parameter provided"));
    }
    let now = now_ms();
    let lookback = engine.options().lookback_ms;
    let mut out = BTreeMap::new();
    for m in matches {
        let selector = plain_selector(m)?;
        // The instant vector says which series have a live sample (staleness applied);
        // the range over the lookback gives that sample's own timestamp.
        let live = engine.instant_query(&selector, now).await?;
        let window = engine
            .instant_query(&format!("{selector}[{lookback}ms]"), now)
            .await?;
        let (Value::Vector(live), Value::Matrix(window)) = (live, window) else {
            return Err(Error::internal("a selector did not evaluate to a vector"));
        };
        let last: BTreeMap<&Labels, Point> = window
            .iter()
            .filter_map(|s| Some((&s.metric, *s.points.last()?)))
            .collect();
        for s in &live {
            if let Some(point) = last.get(&s.metric) {
                out.insert(s.metric.clone(), *point);
            }
        }
    }
    Ok(out)
}

/// `m` if it is a vector selector without `offset` or `@` (what federation takes).
fn plain_selector(m: &str) -> Result<String> {
    let bad = |why: String| Error::bad_data(format!("invalid parameter \"match[]\": {why}"));
    match parser::parse(m).map_err(bad)? {
        Expr::VectorSelector(vs) if vs.offset.is_none() && vs.at.is_none() => Ok(m.to_string()),
        _ => Err(bad(format!("{m:?} is not a series selector"))),
    }
}

/// A label value in the text format: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The samples as a text exposition (pure).
fn exposition(samples: &BTreeMap<Labels, Point>) -> String {
    let mut by_name: BTreeMap<&str, Vec<(&Labels, Point)>> = BTreeMap::new();
    for (labels, point) in samples {
        let name = labels.get("__name__").unwrap_or_default();
        by_name.entry(name).or_default().push((labels, *point));
    }
    let mut out = String::new();
    for (name, series) in by_name {
        out.push_str(&format!("# TYPE {name} untyped\n"));
        for (labels, (t, v)) in series {
            let pairs: Vec<String> = labels
                .iter()
                .filter(|(n, _)| *n != "__name__")
                .map(|(n, v)| format!("{n}=\"{}\"", escape(v)))
                .collect();
            out.push_str(name);
            if !pairs.is_empty() {
                out.push('{');
                out.push_str(&pairs.join(","));
                out.push('}');
            }
            out.push_str(&format!(" {} {t}\n", format_value(v)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from(
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn grouped_by_name_with_own_timestamps() {
        let samples = BTreeMap::from([
            (labels(&[("__name__", "up"), ("job", "b")]), (2_000, 1.0)),
            (labels(&[("__name__", "up"), ("job", "a")]), (1_500, 0.0)),
            (
                labels(&[("__name__", "x_total"), ("path", "a\"b\\c\nd")]),
                (3_000, f64::INFINITY),
            ),
        ]);
        assert_eq!(
            exposition(&samples),
            "# TYPE up untyped\nup{job=\"a\"} 0 1500\nup{job=\"b\"} 1 2000\n\
             # TYPE x_total untyped\nx_total{path=\"a\\\"b\\\\c\\nd\"} +Inf 3000\n"
        );
    }

    #[test]
    fn only_plain_selectors() {
        assert!(plain_selector("up{job=\"a\"}").is_ok());
        assert!(plain_selector("{__name__=~\"node_.*\"}").is_ok());
        for bad in ["rate(x[5m])", "x offset 5m", "x[5m]", "x @ 100", "1"] {
            assert!(plain_selector(bad).is_err(), "{bad}");
        }
    }
}
