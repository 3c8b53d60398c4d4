//! Running unit-test files: the evaluation loop of promtool's `test rules` and its report.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use telltale_crds::{PromDuration, Rule, RuleGroup};
use telltale_model::{go_quote, render_labels};
use telltale_storage_api::{Label, Sample, SampleWriter, TimeSeries};

use crate::labels::{ALERT_NAME, LabelSet};
use crate::rules::evaluation::{StepInput, step};
use crate::rules::querier::{BlockingQuerier, RuleQuerier};
use crate::rules::rule_file::load_prometheus_rule_file;
use crate::rules::state::{AlertSet, AlertState, RuleTemplates};
use crate::rules::unittest::file::{TestFile, TestGroup};
use crate::rules::unittest::series::{SeriesValue, parse_series, parse_values};
use crate::rules::validate::ExprCheck;
use crate::template::gofloat::format_float;
use crate::template::gotime::duration_string;

/// A fresh, empty store for one test group: the engine over it and where samples go.
pub struct Store {
    pub querier: Arc<dyn RuleQuerier>,
    pub writer: Arc<dyn SampleWriter>,
}

/// Makes a [`Store`] per test group.
pub type StoreFactory = dyn Fn() -> Store + Send + Sync;

/// Runs every file as `promtool test rules` does, writing its report to `out` and `err`;
/// returns promtool's exit code (0 when every file passed, 1 otherwise).
pub async fn run_files(
    files: &[PathBuf],
    stores: &StoreFactory,
    check: ExprCheck,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut failed = false;
    for f in files {
        let _ = writeln!(out, "Unit Testing:  {}", f.display());
        match test_file(f, stores, check).await {
            Ok(()) => {
                let _ = writeln!(out, "  SUCCESS");
            }
            Err(errors) => {
                let _ = writeln!(err, "  FAILED:");
                for e in errors {
                    let _ = writeln!(err, "{e}");
                    let _ = writeln!(out);
                }
                failed = true;
            }
        }
        let _ = writeln!(out);
    }
    i32::from(failed)
}

/// Runs one unit-test file; the errors are promtool's lines.
pub async fn test_file(
    path: &Path,
    stores: &StoreFactory,
    check: ExprCheck,
) -> Result<(), Vec<String>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| vec![format!("open {}: {e}", path.display())])?;
    let file: TestFile = serde_yaml::from_str(&text).map_err(|e| vec![e.to_string()])?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut rule_files = Vec::new();
    for pattern in &file.rule_files {
        rule_files.extend(glob(&dir.join(pattern)).map_err(|e| vec![e])?);
    }
    let eval_interval = file
        .evaluation_interval
        .filter(|d| !d.as_duration().is_zero())
        .unwrap_or(PromDuration::from_secs(60));
    let mut order = BTreeMap::new();
    for (i, g) in file.group_eval_order.iter().enumerate() {
        if order.insert(g.clone(), i).is_some() {
            return Err(vec![format!(
                "group name repeated in evaluation order: {g}"
            )]);
        }
    }
    let mut groups: Vec<RuleGroup> = Vec::new();
    for f in &rule_files {
        let spec = load_prometheus_rule_file(f, check).map_err(|e| vec![e.to_string()])?;
        groups.extend(spec.groups);
    }
    groups.sort_by_key(|g| order.get(&g.name).copied().unwrap_or(0));
    let mut errors = Vec::new();
    for t in &file.tests {
        errors.extend(test_group(t, &groups, eval_interval, stores).await);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The files a pattern names (`*` and `?` in the last component), sorted.
fn glob(pattern: &Path) -> Result<Vec<PathBuf>, String> {
    let name = pattern
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return Ok(vec![pattern.to_path_buf()]);
    }
    let dir = pattern.parent().unwrap_or(Path::new("."));
    let re = regex::Regex::new(&format!(
        "^{}$",
        regex::escape(name).replace("\\*", ".*").replace("\\?", ".")
    ))
    .map_err(|e| e.to_string())?;
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(|n| re.is_match(n)))
        .map(|e| e.path())
        .collect();
    out.sort();
    Ok(out)
}

fn ms(d: PromDuration) -> i64 {
    i64::try_from(d.as_duration().as_millis()).unwrap_or(i64::MAX)
}

/// Prometheus's `labels.Labels.String()`: `{a="1", b="x"}`.
fn labels_text(l: &LabelSet) -> String {
    render_labels(l.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// promtool's `indentLines`.
fn indent(lines: &str, prefix: &str) -> String {
    lines
        .split('\n')
        .collect::<Vec<_>>()
        .join(&format!("\n{prefix}"))
}

/// promtool's `labelsAndAnnotations.String()`.
fn alerts_text(alerts: &[(LabelSet, LabelSet)]) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[");
    for (i, (l, a)) in alerts.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let one = format!(
            "\nLabels:{}\nAnnotations:{}",
            labels_text(l),
            labels_text(a)
        );
        s.push_str(&format!("\n{i}:{}", indent(&one, "  ")));
    }
    s.push_str("\n]");
    s
}

fn samples_text(samples: &[(LabelSet, f64)]) -> String {
    if samples.is_empty() {
        return "nil".into();
    }
    samples
        .iter()
        .map(|(l, v)| format!("{} {}", labels_text(l), format_float(*v, 'E', None)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The state of one rule during a test.
struct RuleRun {
    rule: Rule,
    templates: Arc<RuleTemplates>,
    alerts: AlertSet,
    written: Arc<BTreeSet<LabelSet>>,
}

async fn test_group(
    t: &TestGroup,
    groups: &[RuleGroup],
    eval_interval: PromDuration,
    stores: &StoreFactory,
) -> Vec<String> {
    let store = stores();
    let interval_ms = ms(t
        .interval
        .filter(|d| !d.as_duration().is_zero())
        .unwrap_or(eval_interval));
    let eval_ms = ms(eval_interval).max(1);
    let test_name = if t.name.is_empty() {
        String::new()
    } else {
        format!("    name: {},\n", t.name)
    };
    // Input series.
    let mut batch = Vec::new();
    for s in &t.input_series {
        let labels = match parse_series(&s.series) {
            Ok(l) => l,
            Err(e) => return vec![e],
        };
        let values = match parse_values(&s.values) {
            Ok(v) => v,
            Err(e) => return vec![format!("{}: {e}", s.series)],
        };
        let samples: Vec<Sample> = values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                SeriesValue::Sample(x) => Some(Sample {
                    timestamp_ms: i as i64 * interval_ms,
                    value: *x,
                }),
                SeriesValue::Omitted => None,
            })
            .collect();
        batch.push(TimeSeries {
            labels: labels.iter().map(|(k, v)| Label::new(k, v)).collect(),
            samples,
            exemplars: Vec::new(),
            histograms: Vec::new(),
        });
    }
    if let Err(e) = store.writer.write(batch).await {
        return vec![e.to_string()];
    }
    for a in &t.alert_rule_test {
        if a.alertname.is_empty() {
            let in_group = if t.name.is_empty() {
                String::new()
            } else {
                format!(" (in TestGroup {})", t.name)
            };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                a.eval_time
            )];
        }
    }
    let mut runs: Vec<Vec<RuleRun>> = groups
        .iter()
        .map(|g| {
            g.rules
                .iter()
                .map(|r| RuleRun {
                    rule: r.clone(),
                    templates: Arc::new(RuleTemplates::new(r)),
                    alerts: AlertSet::new(),
                    written: Arc::default(),
                })
                .collect()
        })
        .collect();
    let mut alert_times: Vec<i64> = t.alert_rule_test.iter().map(|a| ms(a.eval_time)).collect();
    alert_times.sort_unstable();
    alert_times.dedup();
    let max_t = t
        .alert_rule_test
        .iter()
        .map(|a| ms(a.eval_time))
        .chain(t.promql_expr_test.iter().map(|p| ms(p.eval_time)))
        .max()
        .unwrap_or(0);
    let mut errors = Vec::new();
    let mut curr = 0;
    let mut ts = 0;
    while ts <= max_t {
        let mut eval_errors = Vec::new();
        for group in runs.iter_mut() {
            for run in group.iter_mut() {
                let samples = store.querier.query(&run.rule.expr, ts).await;
                let input = StepInput {
                    rule: run.rule.clone(),
                    templates: run.templates.clone(),
                    alerts: run.alerts.clone(),
                    written: run.written.clone(),
                    samples,
                    ts,
                    external_url: t.external_url.clone(),
                    external_labels: t.external_labels.clone(),
                    querier: BlockingQuerier {
                        querier: store.querier.clone(),
                        runtime: tokio::runtime::Handle::current(),
                    },
                };
                let outcome = match tokio::task::spawn_blocking(move || step(input)).await {
                    Ok(o) => o,
                    Err(e) => return vec![format!("evaluation panicked: {e}")],
                };
                match outcome.result {
                    Ok(s) => {
                        if let Some(a) = s.alerts {
                            run.alerts = a;
                        }
                        run.written = s.written;
                        if !s.writes.is_empty()
                            && let Err(e) = store.writer.write(s.writes).await
                        {
                            return vec![e.to_string()];
                        }
                    }
                    Err(e) => eval_errors.push(format!(
                        "    rule: {}, time: {}, err: {e}",
                        run.rule.name(),
                        duration_string(ts * 1_000_000)
                    )),
                }
            }
        }
        if !eval_errors.is_empty() {
            errors.extend(eval_errors);
            return errors;
        }
        while curr < alert_times.len()
            && ts <= alert_times[curr]
            && alert_times[curr] < ts + eval_ms
        {
            let at = alert_times[curr];
            for case in t.alert_rule_test.iter().filter(|a| ms(a.eval_time) == at) {
                let mut got: Vec<(LabelSet, LabelSet)> = runs
                    .iter()
                    .flatten()
                    .filter(|r| !r.rule.is_recording() && r.rule.alert == case.alertname)
                    .flat_map(|r| r.alerts.iter().filter(|a| a.state == AlertState::Firing))
                    .map(|a| (a.labels.clone(), a.annotations.clone()))
                    .collect();
                let mut exp: Vec<(LabelSet, LabelSet)> = case
                    .exp_alerts
                    .iter()
                    .map(|e| {
                        let mut l = e.exp_labels.clone();
                        l.insert(ALERT_NAME.to_string(), case.alertname.clone());
                        (l, e.exp_annotations.clone())
                    })
                    .collect();
                got.sort();
                exp.sort();
                if got != exp {
                    errors.push(format!(
                        "{test_name}    alertname: {}, time: {}, \n        exp:{}, \n        got:{}",
                        case.alertname,
                        case.eval_time,
                        indent(&alerts_text(&exp), "            "),
                        indent(&alerts_text(&got), "            ")
                    ));
                }
            }
            curr += 1;
        }
        ts += eval_ms;
    }
    'cases: for case in &t.promql_expr_test {
        let at = ms(case.eval_time);
        let got = match store.querier.query(&case.expr, at).await {
            Ok(g) => g,
            Err(e) => {
                errors.push(format!(
                    "    expr: {}, time: {}, err: {e}",
                    go_quote(&case.expr),
                    case.eval_time
                ));
                continue;
            }
        };
        let mut got: Vec<(LabelSet, f64)> = got.into_iter().map(|s| (s.labels, s.value)).collect();
        let mut exp = Vec::new();
        for s in &case.exp_samples {
            match parse_series(&s.labels) {
                Ok(l) => exp.push((l, s.value)),
                Err(e) => {
                    errors.push(format!(
                        "    expr: {}, time: {}, err: labels {}: {e}",
                        go_quote(&case.expr),
                        case.eval_time,
                        go_quote(&s.labels)
                    ));
                    continue 'cases;
                }
            }
        }
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let equal =
            exp.len() == got.len() && exp.iter().zip(&got).all(|(e, g)| e.0 == g.0 && e.1 == g.1);
        if !equal {
            errors.push(format!(
                "    expr: {}, time: {},\n        exp: {}\n        got: {}",
                go_quote(&case.expr),
                case.eval_time,
                samples_text(&exp),
                samples_text(&got)
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_as_promtool() {
        let l: LabelSet = [
            ("alertname".to_string(), "A".to_string()),
            ("x".to_string(), "é\"".to_string()),
        ]
        .into();
        assert_eq!(labels_text(&l), r#"{alertname="A", x="é\""}"#);
        assert_eq!(
            alerts_text(&[(l.clone(), LabelSet::new())]),
            "[\n0:\n  Labels:{alertname=\"A\", x=\"é\\\"\"}\n  Annotations:{}\n]"
        );
        assert_eq!(samples_text(&[(LabelSet::new(), 1.5)]), "{} 1.5E+00");
        assert_eq!(samples_text(&[]), "nil");
    }
}
