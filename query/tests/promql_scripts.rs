//! Runs the PromQL scripts in `query/testdata/*.test` (a subset of Prometheus'
//! `promqltest` format) through the public engine API against an in-memory reader.
//!
//! ```text
//! load 1m                                  # interval between the values below
//!   metric{job="a"} 0+10x5 _ stale 7       # 0 10 20 30 40 50, gap, stale marker, 7
//!
//! eval instant at 5m sum(metric)           # followed by expected samples (or a scalar)
//!   {} 50
//!
//! eval range from 0 to 2m step 1m metric   # expected series in the same notation
//!   metric{job="a"} 0+10x2
//!
//! eval_fail instant at 0 rate(metric)      # must fail
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, Value};

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn duration_ms(s: &str) -> i64 {
    if s == "0" {
        return 0;
    }
    let units = [
        ("ms", 1),
        ("s", 1_000),
        ("m", 60_000),
        ("h", 3_600_000),
        ("d", 86_400_000),
    ];
    let mut total = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = rest[..digits]
            .parse()
            .unwrap_or_else(|_| panic!("bad duration {s}"));
        rest = &rest[digits..];
        let (unit, ms) = units
            .iter()
            .filter(|(u, _)| rest.starts_with(u))
            .max_by_key(|(u, _)| u.len())
            .unwrap_or_else(|| panic!("bad duration {s}"));
        total += n * ms;
        rest = &rest[unit.len()..];
    }
    total
}

/// Splits `metric{a="b"} 1 2+3x4` into a label set and the value notation.
fn series_line(line: &str) -> (Vec<(String, String)>, Vec<Option<f64>>) {
    let split = match line.find('}') {
        Some(i) => i + 1,
        None => line.find(' ').unwrap_or(line.len()),
    };
    let (selector, values) = line.split_at(split);
    if selector.trim() == "{}" {
        return (Vec::new(), expand_values(values));
    }
    let labels = match parser::parse(selector.trim()) {
        Ok(Expr::VectorSelector(vs)) => {
            let mut l: Vec<(String, String)> = vs
                .matchers
                .matchers
                .iter()
                .filter(|m| m.op == MatchOp::Equal)
                .map(|m| (m.name.clone(), m.value.clone()))
                .collect();
            if let Some(name) = vs.name {
                l.push(("__name__".to_string(), name));
            }
            l.sort();
            l
        }
        other => panic!("bad series {selector:?}: {other:?}"),
    };
    (labels, expand_values(values))
}

/// `1 _ stale 0+10x3 5-1x2` -> values (None for a gap).
fn expand_values(s: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for tok in s.split_whitespace() {
        match tok {
            "_" => out.push(None),
            "stale" => out.push(Some(f64::from_bits(STALE_NAN))),
            _ => {
                if let Some((start_inc, times)) = tok.split_once('x') {
                    let sign_at = start_inc[1..].find(['+', '-']).map(|i| i + 1).unwrap();
                    let start: f64 = start_inc[..sign_at].parse().unwrap();
                    let inc: f64 = start_inc[sign_at..]
                        .trim_start_matches('+')
                        .parse()
                        .unwrap();
                    let n: usize = times.parse().unwrap();
                    out.extend((0..=n).map(|i| Some(start + inc * i as f64)));
                } else {
                    out.push(Some(parse_float(tok)));
                }
            }
        }
    }
    out
}

fn parse_float(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "Inf" | "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or_else(|_| panic!("bad number {s}")),
    }
}

fn key(labels: &[(String, String)]) -> String {
    let parts: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", parts.join(", "))
}

fn almost_equal(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || ((a - b).abs() <= 1e-6 * a.abs().max(b.abs()))
}

/// Results of a query as label-key -> points.
fn flatten(v: Value) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut out = BTreeMap::new();
    match v {
        Value::Scalar { t_ms, value } => {
            out.insert("scalar".to_string(), vec![(t_ms, value)]);
        }
        Value::String { .. } => panic!("string results are not supported in scripts"),
        Value::Vector(samples) => {
            for s in samples {
                out.insert(s.metric.to_string(), vec![(s.t_ms, s.value)]);
            }
        }
        Value::Matrix(series) => {
            for s in series {
                out.insert(s.metric.to_string(), s.points);
            }
        }
    }
    out
}

async fn run_script(name: &str, text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    let mut reader = Arc::new(MemoryReader::new());
    let mut engine: Option<Engine> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let block_start = i;
        let mut block = Vec::new();
        while i < lines.len() && lines[i].starts_with(' ') && !lines[i].trim().is_empty() {
            block.push(lines[i].trim());
            i += 1;
        }
        let at = format!("{name}:{block_start}: {line}");
        if let Some(interval) = line.strip_prefix("load ") {
            if engine.is_some() {
                reader = Arc::new(MemoryReader::new());
                engine = None;
            }
            let step = duration_ms(interval.trim());
            for l in block {
                let (labels, values) = series_line(l);
                let refs: Vec<(&str, &str)> = labels
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let pts: Vec<(i64, f64)> = values
                    .iter()
                    .enumerate()
                    .filter_map(|(k, v)| v.map(|v| (k as i64 * step, v)))
                    .collect();
                reader.add(&refs, &pts);
            }
            continue;
        }
        let e = engine.get_or_insert_with(|| {
            Engine::new(
                reader.clone(),
                EngineOptions::default(),
                &prometheus::Registry::new(),
            )
        });
        let (fail, rest) = if let Some(r) = line.strip_prefix("eval_fail ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("eval ") {
            (false, r)
        } else {
            panic!("{at}: unknown command");
        };
        let (result, times) = if let Some(r) = rest.strip_prefix("instant at ") {
            let (t, expr) = r.split_once(' ').unwrap();
            let t = duration_ms(t);
            (e.instant_query(expr, t).await, vec![t])
        } else if let Some(r) = rest.strip_prefix("range from ") {
            let parts: Vec<&str> = r.splitn(6, ' ').collect();
            assert!(parts[1] == "to" && parts[3] == "step", "{at}: bad range");
            let (start, end, step) = (
                duration_ms(parts[0]),
                duration_ms(parts[2]),
                duration_ms(parts[4]),
            );
            let times = (0..)
                .map(|k| start + k * step)
                .take_while(|t| *t <= end)
                .collect();
            (e.range_query(parts[5], start, end, step).await, times)
        } else {
            panic!("{at}: expected `instant at` or `range from`");
        };
        if fail {
            assert!(result.is_err(), "{at}: expected an error, got {result:?}");
            continue;
        }
        let got = flatten(result.unwrap_or_else(|err| panic!("{at}: {err}")));
        let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        for l in block {
            if let Ok(v) = l.parse::<f64>().or_else(|_| match l {
                "NaN" | "Inf" | "+Inf" | "-Inf" => Ok(parse_float(l)),
                _ => Err(()),
            }) {
                want.insert("scalar".to_string(), vec![(times[0], v)]);
                continue;
            }
            let (labels, values) = series_line(l);
            let pts = values
                .iter()
                .zip(&times)
                .filter_map(|(v, t)| v.map(|v| (*t, v)))
                .collect();
            want.insert(key(&labels), pts);
        }
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{at}: series differ (got {got:?})"
        );
        for (k, w) in &want {
            let g = &got[k];
            assert_eq!(g.len(), w.len(), "{at}: {k}: got {g:?}, want {w:?}");
            for (gp, wp) in g.iter().zip(w) {
                assert!(
                    gp.0 == wp.0 && almost_equal(gp.1, wp.1),
                    "{at}: {k}: got {g:?}, want {w:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn testdata_scripts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scripts in {}", dir.display());
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        run_script(&f.file_name().unwrap().to_string_lossy(), &text).await;
    }
}
