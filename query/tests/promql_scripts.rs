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
//!   expected_fail_message <exact error text>   # optional
//!
//! eval_ordered instant at 0 sort(metric)   # samples must come in the listed order
//! ```
//!
//! Scripts run with every `--enable-feature` PromQL feature on, as Prometheus's
//! `promqltest` runs its own (experimental functions enabled).

use std::collections::BTreeMap;
use std::sync::Arc;

use promql_parser::label::MatchOp;
use promql_parser::parser::{self, Expr};
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, Features, Value};

fn duration_ms(s: &str) -> i64 {
    telltale_model::parse_duration(s)
        .unwrap_or_else(|e| panic!("bad duration {s}: {e}"))
        .as_millis() as i64
}

/// Splits `metric{a="b"} 1 2+3x4` into a label set and the value notation.
fn series_line(line: &str) -> (Vec<(String, String)>, Vec<Option<f64>>) {
    let split = match line.find('}') {
        Some(i) => i + 1,
        None => line.find(char::is_whitespace).unwrap_or(line.len()),
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
            l.dedup_by(|a, b| a.0 == b.0);
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
            "stale" => out.push(Some(telltale_model::STALE_NAN)),
            _ => {
                if let Some(n) = tok.strip_prefix("_x") {
                    let n: usize = n.parse().unwrap_or_else(|_| panic!("bad value {tok}"));
                    out.extend(std::iter::repeat_n(None, n));
                } else if let Some((start_inc, times)) = tok.split_once('x') {
                    // `a+bxn` / `a-bxn`: n+1 values from a by b; `axn`: a, n+1 times.
                    let sign_at = start_inc
                        .get(1..)
                        .and_then(|r| r.find(['+', '-']))
                        .map_or(start_inc.len(), |i| i + 1);
                    let start = parse_float(&start_inc[..sign_at]);
                    let inc: f64 = match &start_inc[sign_at..] {
                        "" => 0.0,
                        s => s
                            .trim_start_matches('+')
                            .parse()
                            .unwrap_or_else(|_| panic!("bad value {tok}")),
                    };
                    let n: usize = times.parse().unwrap_or_else(|_| panic!("bad value {tok}"));
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
    telltale_model::render_labels(labels.iter().map(|(n, v)| (n.as_str(), v.as_str())))
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

/// What one script run found: commands that failed, and ones skipped as unsupported.
#[derive(Default)]
struct Outcome {
    failures: Vec<String>,
    skipped: usize,
    passed: usize,
}

/// One `eval*` command and its block.
struct Eval<'a> {
    at: String,
    rest: &'a str,
    block: Vec<&'a str>,
    fail: bool,
    fail_message: Option<&'a str>,
    ordered: bool,
}

/// Runs a script. `strict` scripts (this crate's) may use only what the runner knows;
/// others (such as Prometheus' own, run with `TELLTALE_PROMQL_SCRIPTS`) skip native
/// histograms, experimental features and unknown commands.
async fn run_script(name: &str, text: &str, strict: bool) -> Outcome {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Outcome::default();
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
        while i < lines.len() && lines[i].starts_with([' ', '\t']) && !lines[i].trim().is_empty() {
            let l = lines[i].trim();
            if !l.starts_with('#') {
                block.push(l);
            }
            i += 1;
        }
        let at = format!("{name}:{block_start}: {line}");
        if line == "clear" {
            reader = Arc::new(MemoryReader::new());
            engine = None;
            continue;
        }
        if let Some(interval) = line.strip_prefix("load ") {
            let step = duration_ms(interval.trim());
            for l in block {
                if l.contains("{{") {
                    out.skipped += 1;
                    continue;
                }
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
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let (mut fail, mut ordered) = match cmd {
            "eval" | "eval_warn" | "eval_info" => (false, false),
            "eval_fail" => (true, false),
            "eval_ordered" => (false, true),
            _ if strict => panic!("{at}: unknown command"),
            _ => {
                out.skipped += 1;
                continue;
            }
        };
        let mut fail_message = None;
        let mut expected = Vec::new();
        for l in block {
            if let Some(m) = l.strip_prefix("expected_fail_message ") {
                fail_message = Some(m);
            } else if l.starts_with("expected_fail_regexp") {
            } else if let Some(x) = l.strip_prefix("expect ") {
                if let Some(f) = x.strip_prefix("fail") {
                    fail = true;
                    fail_message = f.trim().strip_prefix("msg:").map(str::trim);
                } else if x == "ordered" {
                    ordered = true;
                }
            } else {
                expected.push(l);
            }
        }
        if !strict && expected.iter().any(|l| l.contains("{{")) {
            out.skipped += 1;
            continue;
        }
        let e = engine.get_or_insert_with(|| {
            Engine::new(
                reader.clone(),
                EngineOptions {
                    features: Features::all(),
                    ..Default::default()
                },
                &prometheus::Registry::new(),
            )
        });
        let ev = Eval {
            at,
            rest,
            block: expected,
            fail,
            fail_message,
            ordered,
        };
        match run_eval(e, &ev).await {
            Ok(()) => out.passed += 1,
            Err(msg) => {
                if strict {
                    panic!("{msg}");
                }
                out.failures.push(msg);
            }
        }
    }
    out
}

async fn run_eval(e: &Engine, ev: &Eval<'_>) -> Result<(), String> {
    let at = &ev.at;
    let (result, times) = if let Some(r) = ev.rest.strip_prefix("instant at ") {
        let (t, expr) = r.split_once(' ').ok_or(format!("{at}: bad instant"))?;
        let t = duration_ms(t);
        (e.instant_query(expr, t).await, vec![t])
    } else if let Some(r) = ev.rest.strip_prefix("range from ") {
        let parts: Vec<&str> = r.splitn(6, ' ').collect();
        if parts.len() < 6 || parts[1] != "to" || parts[3] != "step" {
            return Err(format!("{at}: bad range"));
        }
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
        return Err(format!("{at}: expected `instant at` or `range from`"));
    };
    if ev.fail {
        return match result {
            Ok(v) => Err(format!("{at}: expected an error, got {v:?}")),
            Err(err) => match ev.fail_message {
                Some(msg) if err.to_string() != msg => {
                    Err(format!("{at}: wrong error message: {err}"))
                }
                _ => Ok(()),
            },
        };
    }
    let result = result.map_err(|err| format!("{at}: {err}"))?;
    if ev.ordered {
        let Value::Vector(samples) = &result else {
            return Err(format!(
                "{at}: ordered needs an instant vector, got {result:?}"
            ));
        };
        let got: Vec<String> = samples.iter().map(|s| s.metric.to_string()).collect();
        let want: Vec<String> = ev.block.iter().map(|l| key(&series_line(l).0)).collect();
        if got != want {
            return Err(format!("{at}: order differs: got {got:?}, want {want:?}"));
        }
    }
    let got = flatten(result);
    let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for l in &ev.block {
        if let Ok(v) = l.parse::<f64>().or_else(|_| match *l {
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
    if got.keys().ne(want.keys()) {
        return Err(format!("{at}: series differ: got {got:?}, want {want:?}"));
    }
    for (k, w) in &want {
        let g = &got[k];
        let same = g.len() == w.len()
            && g.iter()
                .zip(w)
                .all(|(gp, wp)| gp.0 == wp.0 && almost_equal(gp.1, wp.1));
        if !same {
            return Err(format!("{at}: {k}: got {g:?}, want {w:?}"));
        }
    }
    Ok(())
}

fn scripts_in(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scripts in {}", dir.display());
    files
}

#[tokio::test]
async fn testdata_scripts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    for f in scripts_in(&dir) {
        let text = std::fs::read_to_string(&f).unwrap();
        let out = run_script(&f.file_name().unwrap().to_string_lossy(), &text, true).await;
        assert!(out.passed > 0, "{}: no eval ran", f.display());
    }
}

/// Runs the scripts of the directory named by `TELLTALE_PROMQL_SCRIPTS` (for example a
/// checkout of Prometheus' `promql/promqltest/testdata`), skipping native histograms and
/// commands this runner does not know, and fails listing every differing eval. Without
/// the variable there is nothing to run.
#[tokio::test]
async fn external_scripts() {
    let Some(dir) = std::env::var_os("TELLTALE_PROMQL_SCRIPTS") else {
        return;
    };
    let mut failures = Vec::new();
    let (mut passed, mut skipped) = (0, 0);
    for f in scripts_in(std::path::Path::new(&dir)) {
        let text = std::fs::read_to_string(&f).unwrap();
        let out = run_script(&f.file_name().unwrap().to_string_lossy(), &text, false).await;
        passed += out.passed;
        skipped += out.skipped;
        failures.extend(out.failures);
    }
    eprintln!(
        "external PromQL scripts: {passed} passed, {} failed, {skipped} skipped",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
