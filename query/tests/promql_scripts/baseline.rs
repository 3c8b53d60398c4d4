//! `query/testdata/prometheus/BASELINE`: the Prometheus evals known to pass, one
//! `file:line` a line. `prometheus_scripts` fails when one of them stops passing;
//! `TELLTALE_BLESS=1` rewrites the file from the evals passing now.

use std::collections::BTreeSet;
use std::path::Path;

const HEADER: &str = "\
# Evals of the Prometheus scripts in this directory that pass, as file:line of the eval.
# The prometheus_scripts test fails when one of them stops passing. After making more
# pass, record them with:
#   TELLTALE_BLESS=1 cargo test -p telltale-query --test promql_scripts prometheus_scripts
";

/// The entries of the baseline at `path` (none when the file does not exist).
pub fn read(path: &Path) -> BTreeSet<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return BTreeSet::new();
    };
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Writes `passing` as the baseline at `path`.
pub fn write(path: &Path, passing: &BTreeSet<String>) {
    let mut text = HEADER.to_string();
    for p in passing {
        text.push_str(p);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Whether the environment asks to rewrite the baseline.
pub fn blessing() -> bool {
    std::env::var("TELLTALE_BLESS").is_ok_and(|v| !v.is_empty() && v != "0")
}
