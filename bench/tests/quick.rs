//! The whole harness at tiny scale (`--quick`) against the real `telltale` binary and
//! Debian's Prometheus, so the benchmark cannot rot unnoticed: every part must measure
//! something, every target must be up, and Telltale's answers (standalone and
//! dev-cluster) must agree with Prometheus's.
//!
//! The `telltale` binary is not a dependency of this crate (the harness uses only its
//! external interfaces), so `CARGO_BIN_EXE_telltale` does not exist here. The test takes
//! `$TELLTALE_BIN`, else `telltale` in the target directory this test was built into
//! (debug, then release), which `cargo test --workspace` builds; without one it says so
//! and passes without running.

use std::path::PathBuf;
use std::process::Command;

fn telltale_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("TELLTALE_BIN") {
        return Some(bin.into());
    }
    // This test runs as <target>/<profile>/deps/quick-HASH.
    let exe = std::env::current_exe().ok()?;
    let profile = exe.parent()?.parent()?;
    let target = profile.parent()?;
    [
        profile.join("telltale"),
        target.join("debug/telltale"),
        target.join("release/telltale"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn quick_run_measures_every_part_and_the_answers_agree() {
    let Some(telltale) = telltale_binary() else {
        eprintln!(
            "SKIPPED: no telltale binary in this target directory; build it \
             (cargo build --bin telltale) or set TELLTALE_BIN"
        );
        return;
    };
    let work = std::env::temp_dir().join(format!("telltale-bench-quick-{}", std::process::id()));
    let out = work.with_extension("json");
    let output = Command::new(env!("CARGO_BIN_EXE_telltale-bench"))
        .arg("--quick")
        .arg("--telltale")
        .arg(&telltale)
        .arg("--work-dir")
        .arg(&work)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("the harness runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the harness failed");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("the JSON results")).unwrap();
    let _ = std::fs::remove_file(&out);
    let rep = &json["repetitions"][0];
    assert_eq!(
        rep["errors"].as_array().map(Vec::len),
        Some(0),
        "{}",
        rep["errors"]
    );
    assert_eq!(
        rep["warnings"].as_array().map(Vec::len),
        Some(0),
        "{}",
        rep["warnings"]
    );

    let ingest = rep["ingest"].as_array().unwrap();
    assert_eq!(ingest.len(), 2);
    for i in ingest {
        assert_eq!(i["samples"], 300 * 60);
        assert_eq!(i["send"]["failed"], 0);
        assert!(f(&i["cpu_s_per_million"]) > 0.0, "{i}");
        assert!(f(&i["vm_hwm_bytes"]) > 1e6, "{i}");
    }
    for side in ["telltale", "prometheus"] {
        let runs = rep["queries"][side].as_array().unwrap();
        assert_eq!(runs.len(), 6, "{side}");
        for q in runs {
            assert!(f(&q["series"]) >= 1.0, "{side}: {q}");
            assert!(f(&q["p50_ms"]) > 0.0, "{side}: {q}");
        }
    }
    for c in rep["comparisons"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rep["cluster_comparisons"].as_array().unwrap())
    {
        assert_eq!(c["mismatches"], 0, "{c}");
    }
    assert_eq!(rep["comparisons"].as_array().unwrap().len(), 6);
    assert_eq!(rep["cluster_comparisons"].as_array().unwrap().len(), 6);

    let scrape = rep["scrape"].as_array().unwrap();
    assert_eq!(scrape.len(), 2);
    for s in scrape {
        assert_eq!(s["up_after"], serde_json::json!([3, 3]), "{s}");
        assert!(f(&s["scrapes"]) >= 6.0, "{s}");
        assert!(f(&s["cpu_s_per_million"]) > 0.0, "{s}");
    }

    let disk = rep["disk"].as_array().unwrap();
    assert_eq!(disk.len(), 2);
    for d in disk {
        assert_eq!(d["samples"], 100 * 720);
        assert!(f(&d["bytes_per_sample_after"]) > 0.1, "{d}");
        assert!(!d["top_level"].as_array().unwrap().is_empty(), "{d}");
    }

    let cluster = &rep["cluster"];
    assert_eq!(
        cluster["replicas"].as_array().unwrap().len(),
        6,
        "{cluster}"
    );
    assert!(f(&cluster["replicas_cpu_s_per_million"]) > 0.0, "{cluster}");
    assert_eq!(cluster["queries"].as_array().unwrap().len(), 6);

    assert!(!json["summary"].as_array().unwrap().is_empty());
    assert!(stdout.contains("| figure | Telltale | Prometheus 2.42 | Telltale / Prometheus |"));
}

/// The history part (`--only history`) at tiny scale: eight days of 50 series, days
/// moved to moto, the dashboards' answers equal before and after the move and from the
/// restored backup. Skipped without the tests' moto (scripts/requirements-test.txt).
#[test]
fn quick_history_moves_days_and_answers_as_before() {
    let Some(telltale) = telltale_binary() else {
        eprintln!("SKIPPED: no telltale binary in this target directory");
        return;
    };
    let moto = PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
        .join(".cache/telltale-venv/bin/moto_server");
    if !moto.is_file() {
        eprintln!("SKIPPED: no {}", moto.display());
        return;
    }
    let work = std::env::temp_dir().join(format!("telltale-bench-history-{}", std::process::id()));
    let out = work.with_extension("json");
    let output = Command::new(env!("CARGO_BIN_EXE_telltale-bench"))
        .args(["--quick", "--only", "history", "--telltale"])
        .arg(&telltale)
        .arg("--work-dir")
        .arg(&work)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("the harness runs");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the harness failed");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("the JSON results")).unwrap();
    let _ = std::fs::remove_file(&out);
    let rep = &json["repetitions"][0];
    assert_eq!(
        rep["errors"].as_array().map(Vec::len),
        Some(0),
        "{}",
        rep["errors"]
    );
    assert_eq!(
        rep["warnings"].as_array().map(Vec::len),
        Some(0),
        "{}",
        rep["warnings"]
    );
    let h = &rep["history"];
    assert_eq!(h["samples"], 50 * 8 * 8640);
    assert!(f(&h["cold"]["bytes"]) > 0.0, "{h}");
    assert!(f(&h["backup"]["bytes"]) > 0.0, "{h}");
    assert!(f(&h["restored"]["allocated"]) > 0.0, "{h}");
    // Three dashboards of three panels after the move, one from the restored backup.
    let comparisons = h["comparisons"].as_array().unwrap();
    assert_eq!(comparisons.len(), 12);
    for c in comparisons {
        assert_eq!(c["mismatches"], 0, "{c}");
        assert!(f(&c["series"][0]) >= 1.0, "{c}");
    }
}

/// The histograms part (`--only histograms`) at tiny scale: 40 native histogram series ×
/// 240 points through remote_write 1.0 into standalone and into Prometheus 2.42 with
/// native histograms on; each must take and store every sample, be measured, and the
/// sanity checks Telltale answers must agree with Prometheus's.
#[test]
fn quick_histograms_are_stored_by_both_and_measured() {
    let Some(telltale) = telltale_binary() else {
        eprintln!("SKIPPED: no telltale binary in this target directory");
        return;
    };
    let work =
        std::env::temp_dir().join(format!("telltale-bench-histograms-{}", std::process::id()));
    let out = work.with_extension("json");
    let output = Command::new(env!("CARGO_BIN_EXE_telltale-bench"))
        .args(["--quick", "--only", "histograms", "--telltale"])
        .arg(&telltale)
        .arg("--work-dir")
        .arg(&work)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("the harness runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the harness failed");
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("the JSON results")).unwrap();
    let _ = std::fs::remove_file(&out);
    let rep = &json["repetitions"][0];
    for key in ["errors", "warnings"] {
        assert_eq!(rep[key].as_array().map(Vec::len), Some(0), "{}", rep[key]);
    }
    let figures = rep["histograms"].as_array().unwrap();
    assert_eq!(figures.len(), 2);
    for h in figures {
        assert_eq!(h["samples"], 40 * 240, "{h}");
        assert_eq!(h["stored"], 40 * 240, "{h}");
        assert_eq!(h["send"]["failed"], 0, "{h}");
        assert!(f(&h["cpu_s_per_million"]) > 0.0, "{h}");
        assert!(f(&h["vm_hwm_bytes"]) > 1e6, "{h}");
        assert!(f(&h["after_stop"]["allocated"]) > 0.0, "{h}");
        assert!(!h["top_level"].as_array().unwrap().is_empty(), "{h}");
    }
    let prometheus = figures
        .iter()
        .find(|h| h["server"] == "prometheus")
        .unwrap();
    let checks = prometheus["queries"].as_array().unwrap();
    assert_eq!(checks.len(), 4, "{prometheus}");
    for q in checks {
        assert_eq!(q["series"], 1, "{q}");
    }
    for c in rep["histogram_comparisons"].as_array().unwrap() {
        assert_eq!(c["mismatches"], 0, "{c}");
    }
    assert!(stdout.contains("| histograms: bytes per sample after a clean stop |"));
}
