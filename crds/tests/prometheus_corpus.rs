//! The prometheus.yml corpus under `tests/prometheus/`: `ok-*.yml` must load and check
//! (rule files included), `bad-*.yml` must not; Debian's `promtool check config` (2.42)
//! must give the same verdict on each; every good file's scrape configs must translate
//! into ScrapeTargets that pass their own checks.

use std::path::{Path, PathBuf};
use std::process::Command;

use telltale_crds::FieldError;
use telltale_crds::alert_rule::AlertRuleSpec;
use telltale_crds::prometheus::{PrometheusConfig, check_file_with};

const PROMTOOL: &str = "/usr/bin/promtool";

fn corpus() -> Vec<(PathBuf, bool)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prometheus");
    let mut files: Vec<(PathBuf, bool)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let ok = name.starts_with("ok-");
            assert!(
                ok || name.starts_with("bad-"),
                "{name}: name it ok-* or bad-*"
            );
            (p, ok)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 15, "the corpus has {} files", files.len());
    files
}

/// The PromQL check promtool runs on every rule (the binary passes the rule
/// evaluator's fuller check).
fn promql(spec: &AlertRuleSpec) -> Result<(), FieldError> {
    for (g, group) in spec.groups.iter().enumerate() {
        for (r, rule) in group.rules.iter().enumerate() {
            promql_parser::parser::parse(&rule.expr)
                .map_err(|e| FieldError::new(format!("groups[{g}].rules[{r}].expr"), e))?;
        }
    }
    Ok(())
}

#[test]
fn our_verdicts_match_the_file_names() {
    let mut wrong = Vec::new();
    for (path, ok) in corpus() {
        let got = check_file_with(&path, &promql);
        match (&got, ok) {
            (Ok(_), true) => {}
            (Err(e), false) => {
                let text = e.to_string();
                // One line naming the file (the config or its rule file) and a field.
                assert!(!text.contains('\n'), "{text}");
                assert!(text.contains(".yml: "), "{text}");
            }
            (Ok(_), false) => wrong.push(format!("{}: accepted", path.display())),
            (Err(e), true) => wrong.push(format!("{e}")),
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// Debian's Prometheus is built without Kubernetes discovery, so its promtool rejects
/// every `kubernetes_sd_configs` ("field kubernetes_sd_configs not found"); for those
/// files only that message is checked, the verdict comes from the file name.
#[test]
fn promtool_agrees() {
    assert!(
        Path::new(PROMTOOL).exists(),
        "{PROMTOOL} is missing: scripts/install-deps.sh installs the prometheus package"
    );
    let mut disagreements = Vec::new();
    let mut compared = 0;
    for (path, _) in corpus() {
        let out = Command::new(PROMTOOL)
            .args(["check", "config"])
            .arg(&path)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let ours = check_file_with(&path, &promql);
        if std::fs::read_to_string(&path)
            .unwrap()
            .contains("kubernetes_sd_configs")
        {
            assert!(
                text.contains("field kubernetes_sd_configs not found"),
                "{}: {text}",
                path.display()
            );
            continue;
        }
        compared += 1;
        if out.status.success() != ours.is_ok() {
            disagreements.push(format!(
                "{}: promtool {} / telltale {:?}",
                path.display(),
                text.trim(),
                ours.map(|_| "ok").map_err(|e| e.to_string())
            ));
        }
    }
    assert!(compared >= 15, "only {compared} files compared");
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn good_files_translate_into_valid_scrape_targets() {
    for (path, ok) in corpus() {
        if !ok {
            continue;
        }
        let config = PrometheusConfig::load_file(&path).unwrap();
        let targets = config.scrape_targets();
        assert_eq!(targets.len(), config.scrape_configs.len());
        for (t, sc) in targets.iter().zip(&config.scrape_configs) {
            t.spec
                .validate()
                .unwrap_or_else(|e| panic!("{}: job {}: {e}", path.display(), sc.job_name));
            assert_eq!(t.spec.job.as_deref(), Some(sc.job_name.as_str()));
            assert!(t.spec.timeout() <= t.spec.interval);
        }
    }
}

/// Figures of particular files, as Prometheus reads them.
#[test]
fn translation_of_corpus_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prometheus");
    let load = |name: &str| PrometheusConfig::load_file(&dir.join(name)).unwrap();

    let c = load("ok-debian-default.yml");
    let t = c.scrape_targets();
    let jobs: Vec<_> = t.iter().map(|t| t.spec.job.clone().unwrap()).collect();
    assert_eq!(jobs, ["prometheus", "node"]);
    assert_eq!(t[0].spec.interval.to_string(), "5s");
    assert_eq!(t[1].spec.interval.to_string(), "15s");
    assert_eq!(t[1].spec.timeout().to_string(), "10s");
    assert_eq!(c.external_labels()["monitor"], "example");
    assert_eq!(
        c.alertmanagers()[0].static_targets().collect::<Vec<_>>(),
        ["localhost:9093"]
    );

    let c = load("ok-timeout-capped.yml");
    let timeouts: Vec<_> = c
        .scrape_targets()
        .iter()
        .map(|t| t.spec.timeout().to_string())
        .collect();
    assert_eq!(timeouts, ["5s", "2s"]);

    let c = load("ok-everything.yml");
    assert_eq!(c.evaluation_interval().to_string(), "1m");
    assert_eq!(c.rule_file_patterns().len(), 2);
    assert!(c.rule_file_patterns()[1].ends_with("tests/prometheus/rules/*.alerts.yml"));
    let rw = &c.remote_writes()[0];
    assert_eq!(rw.name.as_deref(), Some("mimir"));
    assert_eq!(rw.queue().capacity(), 10000);
    assert_eq!(rw.queue().max_backoff().to_string(), "5s");
    assert_eq!(c.alert_relabelings()[0].regex(), "replica");
    let node = &c.scrape_targets()[0].spec;
    assert_eq!(
        (node.interval.to_string(), node.timeout().to_string()),
        ("15s".into(), "15s".into())
    );
    assert!(node.honor_labels && !node.honor_timestamps);
    assert_eq!(node.target_limit, 100);
    // Inline credentials are carried beside the ScrapeTarget, not reported.
    assert!(node.inline_credentials.credentials.is_some());
    assert!(
        !c.not_translated()
            .iter()
            .any(|f| f.starts_with("scrape_configs[0].authorization"))
    );

    let c = load("ok-relabel-every-action.yml");
    let steps = &c.scrape_targets()[0].spec.relabelings;
    assert_eq!(steps.len(), 13);
    let mut actions: Vec<_> = steps.iter().map(|s| s.action.as_str()).collect();
    actions.sort();
    actions.dedup();
    assert_eq!(actions.len(), 11, "every action: {actions:?}");

    let c = load("ok-kubernetes-endpoints.yml");
    let t = c.scrape_targets();
    let sd = &t[1].spec.kubernetes_sd[0];
    assert_eq!(sd.role.as_str(), "endpointslice");
    assert_eq!(sd.namespaces, ["monitoring", "web"]);
    assert_eq!(
        sd.selectors[0].label.as_deref(),
        Some("app.kubernetes.io/part-of=shop")
    );
    assert_eq!(t[2].spec.kubernetes_sd[0].role.as_str(), "node");
}

/// Bad files name the file, the field path and the reason.
#[test]
fn errors_name_the_field() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/prometheus");
    for (file, expected) in [
        (
            "bad-regex.yml",
            "bad-regex.yml: scrape_configs[0].relabel_configs[0].regex: invalid regular expression \"(unclosed\"",
        ),
        (
            "bad-duplicate-job.yml",
            "bad-duplicate-job.yml: scrape_configs[1].job_name: found multiple scrape configs with job name \"node\"",
        ),
        (
            "bad-timeout-over-interval.yml",
            "bad-timeout-over-interval.yml: scrape_configs[0].scrape_timeout: scrape timeout greater than scrape interval",
        ),
        (
            "bad-unknown-field.yml",
            "bad-unknown-field.yml: scrape_configs[0].scrape_intreval: unknown field `scrape_intreval`",
        ),
        (
            "bad-unknown-nested-field.yml",
            "bad-unknown-nested-field.yml: scrape_configs[0].static_configs[0].label: unknown field `label`",
        ),
        (
            "bad-duration.yml",
            "bad-duration.yml: global.evaluation_interval: ",
        ),
        (
            "bad-missing-rule-file.yml",
            "bad-missing-rule-file.yml: rule_files[0]: ",
        ),
        (
            "bad-rule-file-expr.yml",
            "rules/badexpr.yml: groups[0].rules[0].expr: ",
        ),
        (
            "bad-rule-file-duplicate-group.yml",
            "rules/dupgroup.yml: groups[1].name: group \"a\" is defined twice",
        ),
        (
            "bad-relabel-action.yml",
            "bad-relabel-action.yml: scrape_configs[0].relabel_configs[0].action: unknown relabel action \"explode\"",
        ),
        (
            "bad-kubernetes-selector-role.yml",
            "bad-kubernetes-selector-role.yml: scrape_configs[0].kubernetes_sd_configs[0].selectors[0].role: pod role supports only pod selectors",
        ),
        (
            "bad-global-limits-are-2.45.yml",
            "bad-global-limits-are-2.45.yml: global.sample_limit: unknown field `sample_limit`",
        ),
    ] {
        let e = check_file_with(&dir.join(file), &promql)
            .unwrap_err()
            .to_string();
        assert!(e.contains(expected), "{file}: {e}");
    }
}

/// What `/api/v1/status/config` would show: every good file written back as YAML reads
/// as the same configuration.
#[test]
fn good_files_round_trip_through_yaml() {
    for (path, ok) in corpus() {
        if !ok {
            continue;
        }
        let config = PrometheusConfig::load_file(&path).unwrap();
        let yaml = serde_yaml::to_string(&config).unwrap();
        let again = PrometheusConfig::from_str(&path, &yaml)
            .unwrap_or_else(|e| panic!("{}: {e}\n{yaml}", path.display()));
        assert_eq!(again, config, "{}", path.display());
    }
}
