//! The front end's own unit tests (`web/test/*.test.js`: URL convention, completion
//! context and ranking, durations, series merging and stacking, native histograms —
//! parsing, quantiles, heatmap cells), run with Node's test runner. Node is a build
//! dependency of this crate already.

use std::process::Command;

#[test]
fn front_end_unit_tests_pass() {
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/web");
    let out = Command::new("node")
        .args(["--test", "test/"])
        .current_dir(web)
        .output()
        .expect("node (20 or newer) runs the front end's unit tests");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "front-end unit tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("# fail 0"), "{stdout}");
    assert!(!stdout.contains("# pass 0"), "no test ran: {stdout}");
}
