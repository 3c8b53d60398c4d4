//! Target discovery: [`discover_from`] turns `ScrapeTarget` resources (their static
//! endpoints, `fileSd` and `httpSd` groups) into [`Target`]s, or [`DroppedTarget`]s
//! when target relabeling drops them. Pure (files are read by [`FileSdCache`], URLs
//! fetched into [`HttpSdCache`] beforehand).
//!
//! ```text
//!  static / fileSd / httpSd endpoint --discovered_labels--> __address__, __scheme__,
//!    __metrics_path__, __param_*, __scrape_interval__, __scrape_timeout__, job, group
//!    labels (__meta_filepath, __meta_url...) --relabelings--> dropped | URL, interval, timeout and
//!    target labels (no `__` labels, `instance` defaulting to `__address__`)
//! ```
//!
//! The sources and who scrapes what: static endpoints here, [`file_sd`], [`http_sd`],
//! Kubernetes watches ([`k8s`]), and [`membership`] (which replica owns which target).

/// Static targets from JSON/YAML files (`fileSd`).
pub mod file_sd;
/// Target groups fetched over HTTP (`httpSd`).
pub mod http_sd;
/// Kubernetes discovery: watches of ScrapeTargets, Pods, EndpointSlices, Services.
pub mod k8s;
/// Which replica scrapes which target: rendezvous hashing (pure) and the member set.
pub mod membership;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use telltale_crds::{PromDuration, Scheme, ScrapeTarget, ScrapeTargetSpec};
use telltale_model::{format_duration, parse_duration};
use tracing::warn;

use crate::discovery::file_sd::{FILEPATH_LABEL, FileSdCache};
use crate::discovery::http_sd::HttpSdCache;
use crate::pull::labels::LabelPairs;
use crate::pull::limits::Limits;
use crate::pull::target::{Target, scrape_url};
use crate::relabel::{LabelMap, Relabeler};

/// An endpoint that target relabeling dropped.
#[derive(Clone, Debug, PartialEq)]
pub struct DroppedTarget {
    pub pool: String,
    pub discovered_labels: LabelPairs,
}

/// Every endpoint of a set of resources: scraped or dropped by relabeling.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Discovery {
    pub active: Vec<Target>,
    pub dropped: Vec<DroppedTarget>,
}

/// The targets of `resources` (static endpoints only: file groups are not read), in
/// resource order.
pub fn targets_from_resources(resources: &[ScrapeTarget]) -> Vec<Target> {
    discover(resources, &FileSdCache::default()).active
}

/// [`discover_from`] without HTTP discovery.
pub fn discover(resources: &[ScrapeTarget], files: &FileSdCache) -> Discovery {
    discover_from(resources, files, &HttpSdCache::default())
}

/// Every endpoint of `resources`, static ones, then those of their `fileSd` files (as
/// last read into `files`), then those of their `httpSd` URLs (as last fetched into
/// `http`), relabeled. A resource that fails validation, or whose relabel
/// regexes do not compile, is skipped with a warning (the operator reports it on the
/// resource's status); so is an endpoint whose labels after relabeling make no valid
/// target (say, an unparsable `__scrape_interval__`).
pub fn discover_from(
    resources: &[ScrapeTarget],
    files: &FileSdCache,
    http: &HttpSdCache,
) -> Discovery {
    let mut out = Discovery::default();
    for res in resources {
        let mut endpoints: Vec<(String, LabelMap)> = Vec::new();
        for group in &res.spec.static_targets {
            for address in &group.targets {
                endpoints.push((address.clone(), group.labels.clone()));
            }
        }
        for sd in &res.spec.file_sd {
            for pattern in &sd.files {
                for (path, group) in files.groups(pattern) {
                    for address in &group.targets {
                        let mut labels = group.labels.clone();
                        labels.insert(FILEPATH_LABEL.into(), path.display().to_string());
                        endpoints.push((address.clone(), labels));
                    }
                }
            }
        }
        for sd in &res.spec.http_sd {
            for group in http.groups(&sd.url) {
                for address in &group.targets {
                    endpoints.push((address.clone(), group.labels.clone()));
                }
            }
        }
        discover_endpoints(res, endpoints, &mut out);
    }
    out
}

/// The pool of a resource: `namespace/name`, or `name` without a namespace. A name
/// holding `/` (no Kubernetes object's can) is a generated job name, already the pool
/// Prometheus would show (`serviceMonitor/<ns>/<name>/<i>`, whose ScrapeTarget sits in
/// the monitor's namespace to read its Secrets there).
pub fn pool_name(res: &ScrapeTarget) -> String {
    let name = res.metadata.name.clone().unwrap_or_default();
    match &res.metadata.namespace {
        Some(ns) if !ns.is_empty() && !name.contains('/') => format!("{ns}/{name}"),
        _ => name,
    }
}

/// Relabels `endpoints` (address and discovered group labels, such as `__meta_*`) of
/// `res` into `out`'s active or dropped targets. A resource that fails validation, or
/// whose relabel regexes do not compile, adds nothing (with a warning).
pub fn discover_endpoints(
    res: &ScrapeTarget,
    endpoints: Vec<(String, LabelMap)>,
    out: &mut Discovery,
) {
    let name = res.metadata.name.clone().unwrap_or_default();
    let pool = pool_name(res);
    if let Err(e) = res.spec.validate() {
        warn!(pool, error = %e, "skipping invalid ScrapeTarget");
        return;
    }
    let spec = &res.spec;
    let compiled = Relabeler::new(&spec.relabelings, "spec.relabelings").and_then(|r| {
        Relabeler::new(&spec.metric_relabelings, "spec.metricRelabelings").map(|m| (r, m))
    });
    let (relabelings, metric_relabelings) = match compiled {
        Ok(c) => c,
        Err(e) => {
            warn!(pool, error = %e, "skipping ScrapeTarget with invalid relabeling");
            return;
        }
    };
    let job = spec.job.clone().unwrap_or(name);
    let first = out.active.len();
    let client = Arc::new(spec.client());
    let namespace = res.metadata.namespace.clone().filter(|n| !n.is_empty());
    for (address, group) in endpoints {
        let discovered = discovered_labels(spec, &job, &address, group);
        match finish(spec, &pool, discovered.clone(), &relabelings) {
            Ok(Some(mut target)) => {
                target.metric_relabelings = metric_relabelings.clone();
                target.client = client.clone();
                target.namespace = namespace.clone();
                target.discovered_labels = discovered.into_iter().collect();
                out.active.push(target);
            }
            Ok(None) => out.dropped.push(DroppedTarget {
                pool: pool.clone(),
                discovered_labels: discovered.into_iter().collect(),
            }),
            Err(e) => warn!(pool, address, error = %e, "skipping target"),
        }
    }
    let count = out.active.len() - first;
    if spec.target_limit > 0 && count as u64 > spec.target_limit {
        let reason = format!(
            "target_limit exceeded (number of targets: {count}, limit: {})",
            spec.target_limit
        );
        warn!(pool, error = %reason, "every target of the pool fails");
        for t in &mut out.active[first..] {
            t.forced_error = Some(reason.clone());
        }
    }
}

/// The labels of an endpoint before relabeling, as Prometheus populates them: the group's
/// labels, then `job`, `__scheme__`, `__metrics_path__`, `__scrape_interval__` and
/// `__scrape_timeout__` where the group does not set them, `__address__`, and one
/// `__param_<name>` per parameter (its first value).
pub fn discovered_labels(
    spec: &ScrapeTargetSpec,
    job: &str,
    address: &str,
    group: BTreeMap<String, String>,
) -> LabelMap {
    let mut labels: LabelMap = group.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let defaults = [
        ("job", job.to_string()),
        ("__scheme__", spec.scheme.as_str().to_string()),
        ("__metrics_path__", spec.path.clone()),
        ("__scrape_interval__", spec.interval.to_string()),
        ("__scrape_timeout__", spec.timeout().to_string()),
    ];
    for (name, value) in defaults {
        labels.entry(name.to_string()).or_insert(value);
    }
    labels.insert("__address__".into(), address.to_string());
    for (name, values) in &spec.params {
        if let Some(first) = values.first() {
            labels.insert(format!("__param_{name}"), first.clone());
        }
    }
    labels
}

/// Relabels one endpoint and builds its target; `Ok(None)` when relabeling drops it.
fn finish(
    spec: &ScrapeTargetSpec,
    pool: &str,
    discovered: LabelMap,
    relabelings: &Relabeler,
) -> Result<Option<Target>, String> {
    let Some(mut labels) = relabelings.process(discovered) else {
        return Ok(None);
    };
    let address = labels
        .get("__address__")
        .cloned()
        .ok_or("no __address__ label after relabeling")?;
    if address.contains('/') {
        return Err(format!("__address__ {address:?} contains a '/'"));
    }
    let scheme = match labels.get("__scheme__").map(String::as_str) {
        Some("https") => Scheme::Https,
        Some("http") | None => Scheme::Http,
        Some(other) => return Err(format!("invalid __scheme__ {other:?}")),
    };
    let address = with_default_port(&address, scheme);
    let path = labels
        .get("__metrics_path__")
        .cloned()
        .unwrap_or_else(|| "/metrics".into());
    let duration = |name: &str, default: PromDuration| -> Result<Duration, String> {
        match labels.get(name) {
            None => Ok(default.0),
            Some(v) => parse_duration(v).map_err(|e| format!("invalid {name} {v:?}: {e}")),
        }
    };
    let interval = duration("__scrape_interval__", spec.interval)?;
    let timeout = duration("__scrape_timeout__", spec.timeout())?;
    if interval.is_zero() || timeout.is_zero() {
        return Err("scrape interval and timeout must be greater than 0".into());
    }
    if timeout > interval {
        return Err(format!(
            "scrape timeout {} is longer than the interval {}",
            format_duration(timeout),
            format_duration(interval)
        ));
    }
    let mut params = spec.params.clone();
    for (name, value) in &labels {
        if let Some(param) = name.strip_prefix("__param_") {
            match params.get_mut(param) {
                Some(values) if !values.is_empty() => values[0] = value.clone(),
                _ => {
                    params.insert(param.to_string(), vec![value.clone()]);
                }
            }
        }
    }
    let url = scrape_url(scheme, &address, &path, &params)?;
    labels
        .entry("instance".into())
        .or_insert_with(|| address.clone());
    let labels: LabelPairs = labels
        .into_iter()
        .filter(|(n, v)| !n.starts_with("__") && !v.is_empty())
        .collect();
    let job = labels
        .iter()
        .find(|(n, _)| n == "job")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Ok(Some(Target {
        pool: pool.to_string(),
        job,
        address,
        scheme,
        path,
        params,
        interval,
        timeout,
        labels,
        discovered_labels: Vec::new(),
        url,
        honor_labels: spec.honor_labels,
        honor_timestamps: spec.honor_timestamps,
        limits: Limits::from_spec(spec),
        metric_relabelings: Relabeler::default(),
        forced_error: None,
        client: Arc::default(),
        namespace: None,
        formats: crate::pull::fetch::ScrapeFormats::from_spec(spec),
    }))
}

/// `host` gets the scheme's default port (80 or 443), as Prometheus 2.x adds it.
fn with_default_port(address: &str, scheme: Scheme) -> String {
    let has_port = match address.rsplit_once(':') {
        Some((host, port)) => {
            !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
                && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    };
    if has_port {
        return address.to_string();
    }
    let port = match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    };
    format!("{address}:{port}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A target of pool `p`, job `j`, scraped at `address` every `interval`.
    pub(crate) fn test_target(address: &str, interval: Duration) -> Target {
        let mut res = ScrapeTarget::new(
            "j",
            serde_yaml::from_str(&format!(
                "{{interval: {}, scrapeTimeout: 1s, static: [{{targets: ['{address}']}}]}}",
                format_duration(interval)
            ))
            .expect("valid test spec"),
        );
        res.metadata.name = Some("p".into());
        res.spec.job = Some("j".into());
        discover(&[res], &FileSdCache::default())
            .active
            .pop()
            .expect("one target")
    }

    /// The ScrapeTargets of a YAML text (the pull tests use it too).
    pub(crate) fn resources(yaml: &str) -> Vec<ScrapeTarget> {
        telltale_crds::load_str(std::path::Path::new("t.yaml"), yaml)
            .unwrap()
            .into_iter()
            .filter_map(|d| match d.resource {
                telltale_crds::Resource::ScrapeTarget(t) => Some(*t),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn target_limit_fails_every_target_of_the_pool() {
        let yaml = |limit: u64| {
            format!(
                "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: a}}\nspec:\n  targetLimit: {limit}\n  static: [{{targets: ['a:1', 'b:1']}}]\n---\napiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: b}}\nspec:\n  static: [{{targets: ['c:1']}}]\n"
            )
        };
        let d = discover(&resources(&yaml(1)), &FileSdCache::default());
        let errors: Vec<_> = d.active.iter().map(|t| t.forced_error.as_deref()).collect();
        let reason = "target_limit exceeded (number of targets: 2, limit: 1)";
        assert_eq!(errors, [Some(reason), Some(reason), None]);
        let d = discover(&resources(&yaml(2)), &FileSdCache::default());
        assert!(d.active.iter().all(|t| t.forced_error.is_none()));
    }

    #[test]
    fn one_target_per_static_address() {
        let ts = resources(
            r#"
apiVersion: telltale.dev/v1alpha1
kind: ScrapeTarget
metadata: {name: node, namespace: mon}
spec:
  interval: 15s
  scrapeTimeout: 5s
  path: /probe
  params: {module: [http_2xx], target: ["a b"]}
  static:
    - targets: ["h1:9100", "h2:9100"]
      labels: {env: prod, __meta: x}
    - targets: ["h3:9100"]
      labels: {job: custom}
"#,
        );
        let targets = targets_from_resources(&ts);
        assert_eq!(targets.len(), 3);
        let t = &targets[0];
        assert_eq!(t.pool, "mon/node");
        assert_eq!(t.job, "node");
        assert_eq!(t.interval, Duration::from_secs(15));
        assert_eq!(t.timeout, Duration::from_secs(5));
        assert_eq!(
            t.url.as_str(),
            "http://h1:9100/probe?module=http_2xx&target=a+b"
        );
        let l = |v: &[(&str, &str)]| -> LabelPairs {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        assert_eq!(
            t.labels,
            l(&[("env", "prod"), ("instance", "h1:9100"), ("job", "node")])
        );
        assert_eq!(
            targets[2].labels,
            l(&[("instance", "h3:9100"), ("job", "custom")])
        );
    }

    #[test]
    fn job_field_wins_over_name_and_invalid_resources_are_skipped() {
        let ts = resources(
            r#"
apiVersion: telltale.dev/v1alpha1
kind: ScrapeTarget
metadata: {name: a}
spec: {job: j, scheme: https, static: [{targets: ["x:1"]}]}
"#,
        );
        let mut bad = ts[0].clone();
        bad.spec.path = "nopath".into();
        let targets = targets_from_resources(&[ts[0].clone(), bad]);
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].job, "j");
        assert_eq!(targets[0].pool, "a");
        assert_eq!(targets[0].url.as_str(), "https://x:1/metrics");
    }

    #[test]
    fn relabeling_rewrites_and_drops_targets() {
        let ts = resources(
            r#"
apiVersion: telltale.dev/v1alpha1
kind: ScrapeTarget
metadata: {name: probe}
spec:
  params: {module: [http_2xx]}
  static:
    - targets: ["example.org", "drop.me:1"]
      labels: {__meta_zone: eu, team: a}
  relabelings:
    - {action: drop, sourceLabels: [__address__], regex: 'drop\..*'}
    - {sourceLabels: [__address__], targetLabel: __param_target}
    - {sourceLabels: [__param_target], targetLabel: instance}
    - {targetLabel: __address__, replacement: 'prober:9115'}
    - {targetLabel: __metrics_path__, replacement: /probe}
    - {sourceLabels: [__meta_zone], targetLabel: zone}
    - {targetLabel: __scrape_interval__, replacement: 1m}
"#,
        );
        let d = discover(&ts, &FileSdCache::default());
        assert_eq!(d.active.len(), 1);
        assert_eq!(d.dropped.len(), 1);
        let dropped = &d.dropped[0].discovered_labels;
        assert!(dropped.contains(&("__address__".into(), "drop.me:1".into())));
        let t = &d.active[0];
        assert_eq!(
            t.url.as_str(),
            "http://prober:9115/probe?module=http_2xx&target=example.org"
        );
        assert_eq!(t.address, "prober:9115");
        assert_eq!(t.interval, Duration::from_secs(60));
        assert_eq!(t.job, "probe");
        let names: Vec<&str> = t.labels.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["instance", "job", "team", "zone"]);
        assert_eq!(t.labels[0].1, "example.org");
        let discovered: BTreeMap<_, _> = t.discovered_labels.iter().cloned().collect();
        assert_eq!(discovered["__address__"], "example.org");
        assert_eq!(discovered["__param_module"], "http_2xx");
        assert_eq!(discovered["__scrape_interval__"], "30s");
        assert_eq!(discovered["__meta_zone"], "eu");
        assert_eq!(discovered["job"], "probe");
    }

    #[test]
    fn addresses_without_port_get_the_scheme_default() {
        assert_eq!(with_default_port("h", Scheme::Http), "h:80");
        assert_eq!(with_default_port("h", Scheme::Https), "h:443");
        assert_eq!(with_default_port("h:9", Scheme::Https), "h:9");
        assert_eq!(with_default_port("[::1]:9", Scheme::Http), "[::1]:9");
        assert_eq!(with_default_port("[::1]", Scheme::Http), "[::1]:80");
    }

    #[test]
    fn bad_relabel_results_skip_the_target_and_bad_regex_the_resource() {
        let ts = resources(
            r#"
apiVersion: telltale.dev/v1alpha1
kind: ScrapeTarget
metadata: {name: a}
spec:
  static: [{targets: ["x:1"]}]
  relabelings: [{targetLabel: __scrape_timeout__, replacement: 1h}]
---
apiVersion: telltale.dev/v1alpha1
kind: ScrapeTarget
metadata: {name: b}
spec:
  static: [{targets: ["x:1"]}]
  metricRelabelings: [{action: keep, sourceLabels: [a], regex: '(('}]
"#,
        );
        let d = discover(&ts, &FileSdCache::default());
        assert!(d.active.is_empty() && d.dropped.is_empty(), "{d:?}");
    }

    #[test]
    fn file_sd_groups_become_targets() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.json");
        std::fs::write(
            &file,
            r#"[{"targets": ["f1:9", "f2:9"], "labels": {"rack": "r1"}}]"#,
        )
        .unwrap();
        let pattern = dir.path().join("*.json").display().to_string();
        let ts = resources(&format!(
            "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {{name: f}}\n\
             spec: {{fileSd: [{{files: ['{pattern}']}}], static: [{{targets: ['s:1']}}]}}\n"
        ));
        let mut cache = FileSdCache::default();
        cache.refresh([pattern.as_str()]);
        let d = discover(&ts, &cache);
        let addrs: Vec<&str> = d.active.iter().map(|t| t.address.as_str()).collect();
        assert_eq!(addrs, vec!["s:1", "f1:9", "f2:9"]);
        let f1 = &d.active[1];
        assert!(f1.labels.contains(&("rack".into(), "r1".into())));
        assert!(
            f1.discovered_labels
                .contains(&(FILEPATH_LABEL.into(), file.display().to_string()))
        );
    }
}
