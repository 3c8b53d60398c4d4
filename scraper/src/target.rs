//! [`Target`]: one endpoint to scrape, as derived from `ScrapeTarget` resources, and the
//! pure decisions about it (its URL, its labels, when in each interval it is scraped).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Url;
use telltale_crds::{Scheme, ScrapeTarget};
use tracing::warn;

use crate::labels::LabelPairs;

/// One endpoint of one `ScrapeTarget` resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The scrape pool: the resource's `namespace/name` (or `name` without a namespace).
    pub pool: String,
    pub job: String,
    /// `host:port`.
    pub address: String,
    pub scheme: Scheme,
    pub path: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Labels added to every scraped series: the group's static labels, `job` and
    /// `instance` (= address) unless the group sets them. Sorted, no empty values.
    pub labels: LabelPairs,
    /// The static group's labels before `job`/`instance` are added (for discovery views).
    pub group_labels: BTreeMap<String, String>,
    /// The URL scraped.
    pub url: Url,
}

/// What identifies a target across reconciliations: a change to anything else (interval,
/// timeout) updates the running loop in place.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey {
    pub pool: String,
    pub url: String,
    pub labels: LabelPairs,
}

impl Target {
    /// Its identity.
    pub fn key(&self) -> TargetKey {
        TargetKey {
            pool: self.pool.clone(),
            url: self.url.to_string(),
            labels: self.labels.clone(),
        }
    }

    /// A stable 64-bit hash of the target's identity (FNV-1a): the same on every replica
    /// and every run, so scrapes of one target keep their phase within the interval.
    pub fn stable_hash(&self) -> u64 {
        let mut h = Fnv::default();
        h.write(self.pool.as_bytes());
        h.write(self.url.as_str().as_bytes());
        for (n, v) in &self.labels {
            h.write(n.as_bytes());
            h.write(v.as_bytes());
        }
        h.0
    }
}

#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes.iter().chain(std::iter::once(&0xff)) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// How long to wait before the first scrape so that scrapes happen when
/// `now % interval == hash % interval`: loops of different targets spread over the
/// interval, and a restarted loop keeps its phase.
pub fn first_scrape_delay(hash: u64, interval: Duration, now_ms: i64) -> Duration {
    let interval_ms = interval.as_millis().max(1) as i64;
    let offset = (hash % interval_ms as u64) as i64;
    let delay = (offset - now_ms.rem_euclid(interval_ms)).rem_euclid(interval_ms);
    Duration::from_millis(delay as u64)
}

/// The scrape URL `scheme://address/path?params`.
pub fn scrape_url(
    scheme: Scheme,
    address: &str,
    path: &str,
    params: &BTreeMap<String, Vec<String>>,
) -> Result<Url, String> {
    let mut url = Url::parse(&format!("{}://{address}{path}", scheme.as_str()))
        .map_err(|e| format!("invalid scrape URL for {address:?}{path:?}: {e}"))?;
    if !params.is_empty() {
        let mut q = url.query_pairs_mut();
        for (name, values) in params {
            for v in values {
                q.append_pair(name, v);
            }
        }
    }
    Ok(url)
}

/// The targets of `resources`, in resource order. A resource that fails validation is
/// skipped with a warning (the operator reports it on the resource's status).
pub fn targets_from_resources(resources: &[ScrapeTarget]) -> Vec<Target> {
    let mut out = Vec::new();
    for res in resources {
        let name = res.metadata.name.clone().unwrap_or_default();
        let pool = match &res.metadata.namespace {
            Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
            _ => name.clone(),
        };
        if let Err(e) = res.spec.validate() {
            warn!(pool, error = %e, "skipping invalid ScrapeTarget");
            continue;
        }
        let spec = &res.spec;
        let job = spec.job.clone().unwrap_or(name);
        for group in &spec.static_targets {
            for address in &group.targets {
                let url = match scrape_url(spec.scheme, address, &spec.path, &spec.params) {
                    Ok(u) => u,
                    Err(e) => {
                        warn!(pool, error = %e, "skipping target");
                        continue;
                    }
                };
                out.push(Target {
                    pool: pool.clone(),
                    job: job.clone(),
                    address: address.clone(),
                    scheme: spec.scheme,
                    path: spec.path.clone(),
                    params: spec.params.clone(),
                    interval: spec.interval.as_duration(),
                    timeout: spec.scrape_timeout.as_duration(),
                    labels: target_labels(&job, address, &group.labels),
                    group_labels: group.labels.clone(),
                    url,
                });
            }
        }
    }
    out
}

/// Static labels (without `__` meta labels or empty values), then `job` and `instance`
/// where the group does not set them. Sorted by name.
pub fn target_labels(job: &str, address: &str, group: &BTreeMap<String, String>) -> LabelPairs {
    let mut labels: BTreeMap<String, String> = group
        .iter()
        .filter(|(n, v)| !n.starts_with("__") && !v.is_empty())
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    labels
        .entry("job".into())
        .or_insert_with(|| job.to_string());
    labels
        .entry("instance".into())
        .or_insert_with(|| address.to_string());
    labels.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(yaml: &str) -> Vec<ScrapeTarget> {
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
    fn first_delay_aligns_to_the_hash_phase() {
        let interval = Duration::from_secs(10);
        // hash % 10_000 = 2_500
        let hash = 12_500;
        assert_eq!(
            first_scrape_delay(hash, interval, 1_000_000),
            Duration::from_millis(2_500)
        );
        assert_eq!(
            first_scrape_delay(hash, interval, 1_003_000),
            Duration::from_millis(9_500)
        );
        assert_eq!(
            first_scrape_delay(hash, interval, 1_002_500),
            Duration::ZERO
        );
        for now in [0, 7, 123_456_789, -5] {
            let d = first_scrape_delay(hash, interval, now).as_millis() as i64;
            assert!(d < 10_000);
            assert_eq!((now + d).rem_euclid(10_000), 2_500);
        }
    }

    #[test]
    fn stable_hash_depends_on_identity_only() {
        let t = targets_from_resources(&resources(
            "apiVersion: telltale.dev/v1alpha1\nkind: ScrapeTarget\nmetadata: {name: a}\nspec: {static: [{targets: ['x:1', 'x:2']}]}\n",
        ));
        assert_ne!(t[0].stable_hash(), t[1].stable_hash());
        let mut slower = t[0].clone();
        slower.interval = Duration::from_secs(99);
        assert_eq!(slower.stable_hash(), t[0].stable_hash());
        assert_eq!(slower.key(), t[0].key());
    }
}
