//! Running a parsed script against the public engine API over a
//! [`MemoryReader`], eval by eval, with Prometheus's `promqltest` semantics
//! (`execInstantEval`, `execRangeEval`, `checkAnnotations`, `checkExpectedFailure`).

use std::sync::Arc;

use promql_parser::parser::{self as pp, Expr};
use telltale_query::testing::MemoryReader;
use telltale_query::{Engine, EngineOptions, Features, QueryOutput, QueryRequest};
use telltale_storage_api::FloatHistogram;

use crate::check::{check_annotations, check_failure, compare_result};
use crate::compare::{self, Outcome};
use crate::script::{self, Command, Eval, Load, Timing};
use crate::series::{Labels, Point};

/// How a script is run.
#[derive(Clone, Copy)]
pub struct Mode {
    /// Panic at the first failing eval or unknown command (this crate's own scripts).
    pub strict: bool,
    /// Skip evals that need native histograms (`external_scripts`, as before).
    pub skip_histograms: bool,
    /// Also run instant evals as a range query around their time (Prometheus does; this
    /// crate's own scripts were not written for it).
    pub range_mode: bool,
}

/// What became of one eval.
pub struct EvalOutcome {
    pub line: usize,
    /// None: passed; Some(reason): failed.
    pub failure: Option<String>,
    pub skipped: bool,
    /// Its query reads series holding native histograms, or it expects histograms.
    pub needs_histograms: bool,
}

#[derive(Default)]
pub struct Report {
    pub evals: Vec<EvalOutcome>,
    /// Commands and load lines that could not be read.
    pub problems: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> impl Iterator<Item = &EvalOutcome> {
        self.evals
            .iter()
            .filter(|e| !e.skipped && e.failure.is_none())
    }

    pub fn failed(&self) -> impl Iterator<Item = &EvalOutcome> {
        self.evals.iter().filter(|e| e.failure.is_some())
    }

    pub fn skipped(&self) -> usize {
        self.evals.iter().filter(|e| e.skipped).count()
    }
}

/// The storage and engine of a script between `clear`s.
struct State {
    reader: Arc<MemoryReader>,
    engine: Engine,
    /// Every series loaded, and whether it holds histogram samples.
    loaded: Vec<(Labels, bool)>,
}

impl State {
    fn new() -> Self {
        let reader = Arc::new(MemoryReader::new());
        let engine = Engine::new(
            reader.clone(),
            EngineOptions {
                features: Features::all(),
                ..Default::default()
            },
            &prometheus::Registry::new(),
        );
        State {
            reader,
            engine,
            loaded: Vec::new(),
        }
    }

    fn load(&mut self, load: &Load) {
        for (labels, values) in &load.series {
            let floats: Vec<(i64, f64)> = timed(values, load.step_ms)
                .filter_map(|(t, p)| match p {
                    Point::Float(v) => Some((t, *v)),
                    _ => None,
                })
                .collect();
            let hists: Vec<(i64, FloatHistogram)> = timed(values, load.step_ms)
                .filter_map(|(t, p)| match p {
                    Point::Histogram(h) => Some((t, h.clone())),
                    _ => None,
                })
                .collect();
            self.add(labels, &floats, &hists);
        }
        if load.with_nhcb {
            for (labels, hists) in crate::nhcb::convert(&load.series, load.step_ms) {
                self.add(&labels, &[], &hists);
            }
        }
    }

    fn add(&mut self, labels: &Labels, floats: &[(i64, f64)], hists: &[(i64, FloatHistogram)]) {
        let refs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        self.reader.add(&refs, floats);
        if !hists.is_empty() {
            self.reader.add_histograms(&refs, hists);
        }
        self.loaded.push((labels.clone(), !hists.is_empty()));
    }

    /// Whether `expr` selects a series holding histograms (when it cannot be parsed here:
    /// whether any loaded series does).
    fn selects_histograms(&self, expr: &str) -> bool {
        let with_histograms = || self.loaded.iter().filter(|s| s.1).map(|s| &s.0);
        let Ok(e) = pp::parse(expr) else {
            return with_histograms().next().is_some();
        };
        let mut selectors = Vec::new();
        selectors_of(&e, &mut selectors);
        selectors
            .iter()
            .any(|vs| with_histograms().any(|l| selects(vs, l)))
    }

    /// Runs a query on its own task, so an engine panic fails the eval, not the run.
    async fn query(&self, expr: &str, start_ms: i64, end_ms: i64, step_ms: i64) -> Answer {
        let engine = self.engine.clone();
        let req = QueryRequest {
            expr: expr.to_string(),
            start_ms,
            end_ms,
            step_ms,
            ..Default::default()
        };
        match tokio::spawn(async move { engine.query(req).await }).await {
            Ok(Ok(out)) => Answer::Ok(Box::new(out)),
            Ok(Err(e)) => Answer::Err(e.to_string()),
            Err(e) => Answer::Panic(e.to_string()),
        }
    }
}

enum Answer {
    Ok(Box<QueryOutput>),
    Err(String),
    Panic(String),
}

/// `(t, value)` of a series description's positions, `step_ms` apart from 0, gaps left out.
fn timed(values: &[Point], step_ms: i64) -> impl Iterator<Item = (i64, &Point)> {
    values
        .iter()
        .enumerate()
        .filter(|(_, p)| !matches!(p, Point::Omitted))
        .map(move |(k, p)| (k as i64 * step_ms, p))
}

fn selectors_of<'a>(e: &'a Expr, out: &mut Vec<&'a pp::VectorSelector>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Aggregate(a) => {
            selectors_of(&a.expr, out);
            if let Some(p) = &a.param {
                selectors_of(p, out);
            }
        }
        Expr::Unary(u) => selectors_of(&u.expr, out),
        Expr::Binary(b) => {
            selectors_of(&b.lhs, out);
            selectors_of(&b.rhs, out);
        }
        Expr::Paren(p) => selectors_of(&p.expr, out),
        Expr::Subquery(s) => selectors_of(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors_of(a, out)),
        _ => {}
    }
}

fn selects(vs: &pp::VectorSelector, labels: &Labels) -> bool {
    let get = |name: &str| {
        labels
            .iter()
            .find(|l| l.0 == name)
            .map_or("", |l| l.1.as_str())
    };
    if vs.name.as_deref().is_some_and(|n| n != get("__name__")) {
        return false;
    }
    let all = |ms: &[promql_parser::label::Matcher]| ms.iter().all(|m| m.is_match(get(&m.name)));
    all(&vs.matchers.matchers) || vs.matchers.or_matchers.iter().any(|ms| all(ms))
}

/// Runs a script; in strict mode the first failure panics.
pub async fn run_script(name: &str, text: &str, mode: Mode) -> Report {
    let mut report = Report::default();
    let mut state = State::new();
    for cmd in script::parse(text) {
        match cmd {
            Command::Clear => state = State::new(),
            Command::Load(load) => {
                for e in &load.errors {
                    assert!(!mode.strict, "{name}:{}: {e}", load.line);
                    report
                        .problems
                        .push(format!("{name}:{}: load: {e}", load.line));
                }
                state.load(&load);
            }
            Command::Unknown { line, text } => {
                assert!(!mode.strict, "{name}:{line}: unknown command {text:?}");
                report
                    .problems
                    .push(format!("{name}:{line}: unknown command {text:?}"));
            }
            Command::Eval(ev) => {
                let needs_histograms =
                    ev.expects_histograms() || state.selects_histograms(&ev.expr);
                let skipped = mode.skip_histograms && needs_histograms;
                let failure = if skipped {
                    None
                } else {
                    exec(&state, &ev, mode.range_mode)
                        .await
                        .err()
                        .map(|e| format!("{name}:{}: {}: {e}", ev.line, ev.expr))
                };
                if let (true, Some(f)) = (mode.strict, &failure) {
                    panic!("{f}");
                }
                report.evals.push(EvalOutcome {
                    line: ev.line,
                    failure,
                    skipped,
                    needs_histograms,
                });
            }
        }
    }
    report
}

async fn exec(state: &State, ev: &Eval, range_mode: bool) -> Result<(), String> {
    if let Some(e) = &ev.error {
        return Err(format!("cannot read the eval: {e}"));
    }
    match ev.timing {
        Timing::Range {
            start_ms,
            end_ms,
            step_ms,
        } => {
            let Some(out) = answered(ev, state.query(&ev.expr, start_ms, end_ms, step_ms).await)?
            else {
                return Ok(());
            };
            check_annotations(ev, &out)?;
            compare_result(ev, compare::adapt(out.value), start_ms, step_ms, end_ms)
        }
        Timing::Instant { at_ms } => {
            let Some(out) = answered(ev, state.query(&ev.expr, at_ms, at_ms, 0).await)? else {
                return Ok(());
            };
            check_annotations(ev, &out)?;
            let (start, step, end) = ev.range_vector.unwrap_or((at_ms, 0, at_ms));
            let instant = compare::adapt(out.value);
            let was_scalar = matches!(instant, Outcome::Scalar(_));
            compare_result(ev, instant, start, step, end)?;
            if !range_mode || ev.exclude_from_range || ev.expr.contains("range()") {
                return Ok(());
            }
            // As Prometheus: the same query in range mode must agree at the middle step.
            let out = match state
                .query(&ev.expr, at_ms - 60_000, at_ms + 60_000, 60_000)
                .await
            {
                Answer::Ok(out) => out,
                Answer::Err(e) => return Err(format!("in range mode: {e}")),
                Answer::Panic(e) => return Err(format!("engine panicked in range mode: {e}")),
            };
            if ev.is_ordered() {
                return Ok(());
            }
            let Outcome::Matrix(series) = compare::adapt(out.value) else {
                return Err("range mode did not return a matrix".to_string());
            };
            let vector: Vec<(String, Point)> = series
                .into_iter()
                .filter_map(|(k, pts)| pts.into_iter().find(|p| p.0 == at_ms).map(|p| (k, p.1)))
                .collect();
            let at_middle = if was_scalar {
                match vector.first() {
                    Some((_, Point::Float(v))) => Outcome::Scalar(*v),
                    _ => return Err("range mode: no scalar at the middle step".to_string()),
                }
            } else {
                Outcome::Vector(vector)
            };
            compare_result(ev, at_middle, at_ms, 0, at_ms).map_err(|e| format!("range mode: {e}"))
        }
    }
}

/// The query's output, or None when it failed as the eval expected.
fn answered(ev: &Eval, a: Answer) -> Result<Option<Box<QueryOutput>>, String> {
    match a {
        Answer::Panic(e) => Err(format!("engine panicked: {e}")),
        Answer::Err(e) if ev.is_fail() => check_failure(ev, &e).map(|()| None),
        Answer::Err(e) => Err(format!("error evaluating query: {e}")),
        Answer::Ok(_) if ev.is_fail() => {
            Err("expected error evaluating query but got none".to_string())
        }
        Answer::Ok(out) => Ok(Some(out)),
    }
}
