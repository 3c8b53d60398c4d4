//! [`Target`]: one endpoint to scrape, after target relabeling (see [`crate::discovery`]
//! for how it is derived), and the pure decisions about it: its identity and the hashes
//! replicas agree on, its URL, when in each interval it is scraped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;
use telltale_crds::Scheme;
use telltale_crds::scrape_client::ScrapeClient;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::pull::fetch::ScrapeFormats;
use crate::pull::labels::LabelPairs;
use crate::pull::limits::Limits;
use crate::pull::scrape_batch::SampleRules;
use crate::relabel::Relabeler;

/// The seed of [`Target::identity_hash`]; changing it reassigns every target.
pub const IDENTITY_SEED: u64 = 0x7e11_7a1e_5c4a_9e01;

/// One endpoint of one `ScrapeTarget` resource, after target relabeling.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The scrape pool: the resource's `namespace/name` (or `name` without a namespace).
    pub pool: String,
    /// The `job` label (empty if relabeling removed it).
    pub job: String,
    /// `host:port`.
    pub address: String,
    pub scheme: Scheme,
    pub path: String,
    pub params: BTreeMap<String, Vec<String>>,
    pub interval: Duration,
    pub timeout: Duration,
    /// Labels added to every scraped series: what relabeling left, without `__` labels,
    /// with `instance` defaulting to the address. Sorted, no empty values.
    pub labels: LabelPairs,
    /// The labels before relabeling (`__address__`, `__meta_*`...), sorted.
    pub discovered_labels: LabelPairs,
    /// The URL scraped.
    pub url: Url,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub limits: Limits,
    /// `metricRelabelings`, compiled.
    pub metric_relabelings: Relabeler,
    /// Set while its pool has more targets than its `targetLimit`: every scrape fails
    /// with this reason, without a request (Prometheus's `target_limit`).
    pub forced_error: Option<String>,
    /// Its resource's TLS and auth settings (`tlsConfig`, `authorization`, ...), shared
    /// by the targets of the resource.
    pub client: Arc<ScrapeClient>,
    /// The resource's namespace, where its Secrets are read.
    pub namespace: Option<String>,
    /// The formats asked for and read (scrape protocols, classic histograms).
    pub formats: ScrapeFormats,
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

    /// The identity scraper replicas agree on to share targets: XXH3 (seeded with
    /// [`IDENTITY_SEED`]) of the scrape URL and the labels after relabeling. The same in
    /// every process and version.
    pub fn identity_hash(&self) -> u64 {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(self.url.as_str().as_bytes());
        bytes.push(0xff);
        for (n, v) in &self.labels {
            bytes.extend_from_slice(n.as_bytes());
            bytes.push(0xfe);
            bytes.extend_from_slice(v.as_bytes());
            bytes.push(0xff);
        }
        xxh3_64_with_seed(&bytes, IDENTITY_SEED)
    }

    /// How its scraped samples become series.
    pub fn sample_rules(&self) -> SampleRules<'_> {
        SampleRules {
            target_labels: &self.labels,
            honor_labels: self.honor_labels,
            honor_timestamps: self.honor_timestamps,
            metric_relabelings: &self.metric_relabelings,
            limits: self.limits,
        }
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

/// A target of pool `p`, job `j`, scraped at `address` every `interval` (for tests).
#[cfg(test)]
pub(crate) fn test_target(address: &str, interval: Duration) -> Target {
    crate::discovery::tests::test_target(address, interval)
}

#[cfg(test)]
mod tests {

    use super::*;
    use crate::discovery::targets_from_resources;
    use crate::discovery::tests::resources;

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

    const GOLDEN: u64 = 17_777_269_874_512_205_173;

    #[test]
    fn identity_hash_is_fixed_across_versions() {
        let t = test_target("h:1", Duration::from_secs(10));
        // A change of this value moves targets between replicas: keep it stable.
        assert_eq!(t.identity_hash(), t.clone().identity_hash());
        let mut other = t.clone();
        other.interval = Duration::from_secs(99);
        assert_eq!(other.identity_hash(), t.identity_hash());
        assert_ne!(
            test_target("h:2", Duration::from_secs(10)).identity_hash(),
            t.identity_hash()
        );
        assert_eq!(xxh3_64_with_seed(b"telltale", IDENTITY_SEED), GOLDEN);
    }
}
