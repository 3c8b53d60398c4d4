//! Runs PromQL test scripts in Prometheus's `promqltest` format (see [`script`] for the
//! syntax, native histograms included) through the public engine API against an
//! in-memory reader:
//!
//! - `testdata_scripts`: this crate's scripts (`query/testdata/*.test`), every eval
//!   must pass;
//! - `prometheus_scripts`: Prometheus's own scripts, copied whole into
//!   `query/testdata/prometheus/`; prints `N passed, M failed, K skipped` per file and
//!   fails only when an eval listed in `BASELINE` stops passing (see [`baseline`]);
//! - `external_scripts`: the scripts of the directory `TELLTALE_PROMQL_SCRIPTS` names
//!   (e.g. a Prometheus checkout), skipping evals that need native histograms; every
//!   other eval must pass.
//!
//! Scripts run with every `--enable-feature` PromQL feature on, as Prometheus's
//! `promqltest` runs its own. Instant evals of Prometheus's scripts are also run as a
//! range query around their time, as Prometheus does; its extra `@`-modifier variants
//! are not run.

mod baseline;
mod check;
mod compare;
mod nhcb;
mod run;
mod script;
mod series;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use run::{Mode, Report, run_script};

fn scripts_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "test"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scripts in {}", dir.display());
    files
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

async fn run_file(f: &Path, mode: Mode) -> Report {
    let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    run_script(&file_name(f), &text, mode).await
}

#[tokio::test]
async fn testdata_scripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mode = Mode {
        strict: true,
        skip_histograms: false,
        range_mode: false,
    };
    for f in scripts_in(&dir) {
        let report = run_file(&f, mode).await;
        assert!(report.passed().count() > 0, "{}: no eval ran", f.display());
    }
}

/// One file's line of the summary.
fn summary(name: &str, r: &Report) -> String {
    let hist = r.evals.iter().filter(|e| e.needs_histograms).count();
    let hist_passed = r.passed().filter(|e| e.needs_histograms).count();
    format!(
        "{name}: {} passed, {} failed, {} skipped ({hist} need native histograms, {hist_passed} of them pass; {} unreadable commands)",
        r.passed().count(),
        r.failed().count(),
        r.skipped(),
        r.problems.len()
    )
}

#[tokio::test]
async fn prometheus_scripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/prometheus");
    let mode = Mode {
        strict: false,
        skip_histograms: false,
        range_mode: true,
    };
    let mut passing = BTreeSet::new();
    let (mut passed, mut failed, mut skipped, mut hist) = (0, 0, 0, 0);
    for f in scripts_in(&dir) {
        let name = file_name(&f);
        let r = run_file(&f, mode).await;
        eprintln!("{}", summary(&name, &r));
        for p in &r.problems {
            eprintln!("  unreadable: {p}");
        }
        for e in r.failed() {
            eprintln!("  FAIL {}", e.failure.as_deref().unwrap_or(""));
        }
        passing.extend(r.passed().map(|e| format!("{name}:{}", e.line)));
        passed += r.passed().count();
        failed += r.failed().count();
        skipped += r.skipped();
        hist += r.evals.iter().filter(|e| e.needs_histograms).count();
    }
    eprintln!(
        "prometheus scripts: {passed} passed, {failed} failed, {skipped} skipped ({hist} need native histograms)"
    );
    let path = dir.join("BASELINE");
    if baseline::blessing() {
        baseline::write(&path, &passing);
        eprintln!("wrote {} ({} evals)", path.display(), passing.len());
        return;
    }
    let base = baseline::read(&path);
    let new: Vec<_> = passing.difference(&base).collect();
    if !new.is_empty() {
        eprintln!(
            "{} evals pass that BASELINE does not list yet; record them with TELLTALE_BLESS=1",
            new.len()
        );
    }
    let regressions: Vec<_> = base.difference(&passing).cloned().collect();
    assert!(
        regressions.is_empty(),
        "{} evals of BASELINE no longer pass (see the FAIL lines above):\n{}\n\
         If that is intended, rewrite the baseline: \
         TELLTALE_BLESS=1 cargo test -p telltale-query --test promql_scripts prometheus_scripts",
        regressions.len(),
        regressions.join("\n")
    );
}

/// Runs the scripts of the directory named by `TELLTALE_PROMQL_SCRIPTS` (for example a
/// checkout of Prometheus' `promql/promqltest/testdata`), skipping evals that need native
/// histograms, and fails listing every differing eval. Without the variable there is
/// nothing to run.
#[tokio::test]
async fn external_scripts() {
    let Some(dir) = std::env::var_os("TELLTALE_PROMQL_SCRIPTS") else {
        return;
    };
    let mode = Mode {
        strict: false,
        skip_histograms: true,
        range_mode: true,
    };
    let mut failures = Vec::new();
    let (mut passed, mut skipped) = (0, 0);
    for f in scripts_in(Path::new(&dir)) {
        let r = run_file(&f, mode).await;
        passed += r.passed().count();
        skipped += r.skipped();
        failures.extend(r.failed().filter_map(|e| e.failure.clone()));
    }
    eprintln!(
        "external PromQL scripts: {passed} passed, {} failed, {skipped} skipped",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
