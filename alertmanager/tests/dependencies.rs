//! The alerting half stays apart from query evaluation: rules reach the query engine
//! through the `RuleQuerier` trait, implemented in the binary's wiring, so this crate
//! must not link `telltale-query` (directly or through another crate).

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

#[test]
fn alertmanager_does_not_link_the_query_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: HashMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    // Normal (non-dev) dependency edges of the resolved graph.
    let edges: HashMap<&str, Vec<&str>> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| d["pkg"].as_str().unwrap())
                .collect();
            (n["id"].as_str().unwrap(), deps)
        })
        .collect();
    let root = names
        .iter()
        .find(|(_, name)| **name == "telltale-alertmanager")
        .map(|(id, _)| *id)
        .expect("telltale-alertmanager in the workspace");
    let mut seen = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if seen.insert(id) {
            stack.extend(edges.get(id).into_iter().flatten().copied());
        }
    }
    let linked: BTreeSet<&str> = seen.iter().map(|id| names[id]).collect();
    // The check itself can fail: the crate does link the storage API.
    assert!(linked.contains("telltale-storage-api"), "{linked:?}");
    assert!(
        !linked.contains("telltale-query"),
        "telltale-alertmanager links telltale-query"
    );
}
