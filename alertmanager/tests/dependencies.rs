//! The alerting half stays apart from query evaluation: rules reach the query engine
//! through the `RuleQuerier` trait, implemented in the binary's wiring, so this crate
//! must not link `telltale-query` (directly or through another crate).

use std::collections::BTreeSet;
use std::process::Command;

/// The names of the packages `package` links (normal dependencies, this platform).
fn linked(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
        ])
        .arg(package)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

#[test]
fn alertmanager_does_not_link_the_query_crate() {
    let alerting = linked("telltale-alertmanager");
    // The check can fail: it sees the contract this crate does link, and the binary
    // that links both.
    assert!(alerting.contains("telltale-storage-api"), "{alerting:?}");
    assert!(linked("telltale").contains("telltale-query"));
    assert!(
        !alerting.contains("telltale-query"),
        "telltale-alertmanager links telltale-query"
    );
}
