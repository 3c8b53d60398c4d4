//! [`HttpSdCache`]: target groups fetched over HTTP, Prometheus's `http_sd_configs`.
//!
//! ```text
//!  GET url (X-Prometheus-Refresh-Interval-Seconds) every refreshInterval
//!    --200, application/json--> [{targets: [...], labels: {...}}, ...]
//!    --parse_response--> groups, each with __meta_url = url --> HttpSdCache
//!  (a failed fetch keeps the URL's last good groups, as Prometheus keeps its targets)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tracing::{info, warn};

use crate::discovery::file_sd::{TargetGroup, check_groups};
use crate::error::{Error, Result};

/// The label naming the URL a target came from.
pub const URL_LABEL: &str = "__meta_url";
/// The header telling the endpoint how often it is asked.
pub const REFRESH_HEADER: &str = "X-Prometheus-Refresh-Interval-Seconds";

/// Parses an answer of `url` as Prometheus does: status 200, content type
/// `application/json` (optionally with `charset=utf-8`), a JSON list of groups; each
/// group gets `__meta_url`.
pub fn parse_response(
    url: &str,
    status: u16,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Vec<TargetGroup>> {
    let err = |message: String| Error::HttpSd {
        url: url.to_string(),
        message,
    };
    if status != 200 {
        return Err(err(format!("server returned HTTP status {status}")));
    }
    let ct = content_type.unwrap_or("");
    if !is_json_content_type(ct) {
        return Err(err(format!("unsupported content type {ct:?}")));
    }
    let mut groups: Vec<TargetGroup> =
        serde_json::from_slice(body).map_err(|e| err(e.to_string()))?;
    check_groups(&groups).map_err(err)?;
    for g in &mut groups {
        g.labels.insert(URL_LABEL.into(), url.to_string());
    }
    Ok(groups)
}

/// Prometheus's `^application/json;?\s*(charset=utf-8)?$`, case-insensitive.
fn is_json_content_type(ct: &str) -> bool {
    let ct = ct.to_ascii_lowercase();
    let Some(rest) = ct.strip_prefix("application/json") else {
        return false;
    };
    let rest = rest.strip_prefix(';').unwrap_or(rest).trim_start();
    rest.is_empty() || rest == "charset=utf-8"
}

/// Fetches `url` once (within `timeout`) and parses the answer.
pub async fn fetch(
    client: &reqwest::Client,
    url: &str,
    refresh: Duration,
    timeout: Duration,
) -> Result<Vec<TargetGroup>> {
    let http = |e: reqwest::Error| Error::HttpSd {
        url: url.to_string(),
        message: e.to_string(),
    };
    let resp = client
        .get(url)
        .header(
            REFRESH_HEADER,
            HeaderValue::from_str(&refresh.as_secs_f64().to_string())
                .unwrap_or(HeaderValue::from_static("60")),
        )
        .timeout(timeout)
        .send()
        .await
        .map_err(http)?;
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.bytes().await.map_err(http)?;
    parse_response(url, status, ct.as_deref(), &body)
}

/// The last good groups of every URL.
#[derive(Clone, Debug, Default)]
pub struct HttpSdCache {
    groups: BTreeMap<String, Vec<TargetGroup>>,
}

impl HttpSdCache {
    /// The groups `url` answered with last (none before its first good answer).
    pub fn groups(&self, url: &str) -> &[TargetGroup] {
        self.groups.get(url).map(Vec::as_slice).unwrap_or_default()
    }

    /// Records the outcome of a fetch of `url`; true when its groups changed. A failed
    /// fetch keeps the last good groups.
    pub fn update(&mut self, url: &str, fetched: Result<Vec<TargetGroup>>) -> bool {
        match fetched {
            Ok(groups) => {
                if self.groups.get(url) == Some(&groups) {
                    return false;
                }
                info!(url, groups = groups.len(), "http_sd targets loaded");
                self.groups.insert(url.to_string(), groups);
                true
            }
            Err(e) => {
                warn!(error = %e, "http_sd refresh failed; keeping the last good targets");
                false
            }
        }
    }

    /// Forgets the URLs not in `urls`; true when any was forgotten.
    pub fn retain(&mut self, urls: &BTreeSet<String>) -> bool {
        let before = self.groups.len();
        self.groups.retain(|u, _| urls.contains(u));
        self.groups.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_as_prometheus_checks_them() {
        let body = br#"[{"targets": ["a:1"], "labels": {"env": "prod"}}, {"targets": []}]"#;
        let g = parse_response("http://sd/t", 200, Some("application/json"), body).unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].labels["__meta_url"], "http://sd/t");
        assert_eq!(g[1].labels["__meta_url"], "http://sd/t");
        for ct in [
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
        ] {
            parse_response("u", 200, Some(ct), b"[]").unwrap();
        }
        let e = parse_response("u", 500, Some("application/json"), b"[]").unwrap_err();
        assert_eq!(e.to_string(), "http_sd u: server returned HTTP status 500");
        let e = parse_response("u", 200, Some("text/plain"), b"[]").unwrap_err();
        assert!(e.to_string().contains("unsupported content type"), "{e}");
        assert!(parse_response("u", 200, Some("application/json"), b"{").is_err());
        let bad = br#"[{"targets": ["http://a/b"]}]"#;
        assert!(parse_response("u", 200, Some("application/json"), bad).is_err());
    }

    proptest::proptest! {
        /// Whatever an endpoint answers, parsing never panics.
        #[test]
        fn any_answer_is_handled(
            status in 0u16..600,
            ct in proptest::option::of("[a-z/;= -]{0,40}"),
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let _ = parse_response("http://sd/", status, ct.as_deref(), &body);
        }

        /// Groups served as JSON come back as served, each with `__meta_url`.
        #[test]
        fn served_groups_come_back(
            groups in proptest::collection::vec(
                (
                    proptest::collection::vec("[a-z]{1,8}:[0-9]{1,5}", 0..4),
                    proptest::collection::btree_map("[a-z_][a-z0-9_]{0,8}", "\\PC{0,8}", 0..3),
                ),
                0..4,
            ),
        ) {
            let json: Vec<serde_json::Value> = groups
                .iter()
                .map(|(t, l)| serde_json::json!({"targets": t, "labels": l}))
                .collect();
            let body = serde_json::to_vec(&json).unwrap();
            let got = parse_response("http://sd/", 200, Some("application/json"), &body).unwrap();
            proptest::prop_assert_eq!(got.len(), groups.len());
            for (g, (targets, labels)) in got.iter().zip(&groups) {
                proptest::prop_assert_eq!(&g.targets, targets);
                proptest::prop_assert_eq!(g.labels.get(URL_LABEL).map(String::as_str), Some("http://sd/"));
                for (k, v) in labels {
                    if k != URL_LABEL {
                        proptest::prop_assert_eq!(g.labels.get(k), Some(v));
                    }
                }
            }
        }
    }

    #[test]
    fn a_failed_fetch_keeps_the_last_good_groups() {
        let mut cache = HttpSdCache::default();
        let body = br#"[{"targets": ["a:1"]}]"#;
        let fetch = || parse_response("u", 200, Some("application/json"), body);
        assert!(cache.update("u", fetch()));
        assert!(!cache.update("u", fetch()));
        assert!(!cache.update("u", parse_response("u", 503, None, b"")));
        assert_eq!(cache.groups("u")[0].targets, ["a:1"]);
        assert!(cache.retain(&BTreeSet::new()));
        assert!(cache.groups("u").is_empty());
    }
}
