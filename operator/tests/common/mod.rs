//! Helpers shared by the operator's integration tests.
#![allow(dead_code)]

use telltale_crds::MetricCluster;

/// A MetricCluster as the API server would hand it over: namespace, uid, generation.
pub fn cluster(name: &str, spec_yaml: &str) -> MetricCluster {
    let mut mc: MetricCluster = serde_yaml::from_str(&format!(
        "apiVersion: telltale.dev/v1alpha1
kind: MetricCluster
metadata:
  name: {name}
  namespace: monitoring
  uid: 6f1c9a52-0000-4000-8000-000000000001
  generation: 1
spec:
{}",
        spec_yaml
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    ))
    .unwrap();
    mc.metadata.generation = Some(1);
    mc
}

/// The python of the test venv that `scripts/install-deps.sh` creates. Panics (the test
/// fails, it is not skipped) when the venv is missing.
pub fn venv_python() -> std::path::PathBuf {
    let home = std::env::var("HOME").expect("HOME is set");
    let python = std::path::Path::new(&home).join(".cache/telltale-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps.sh (it creates the test venv from scripts/requirements-test.txt)",
        python.display()
    );
    python
}

/// The repository root.
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}
