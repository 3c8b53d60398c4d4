//! The discovery sections of a ScrapeTarget in Prometheus's terms: [`HttpSd`]
//! (`http_sd_configs`) and [`KubernetesSd`] (`kubernetes_sd_configs`), the way
//! prometheus.yml files reach the scraper.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::duration::PromDuration;
use crate::scrape_target::is_false;

/// An HTTP endpoint serving target groups.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSd {
    /// `http://` or `https://` URL answering `GET` with a JSON list of target groups.
    pub url: String,
    /// How often the URL is fetched; 60s unless set (as Prometheus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<PromDuration>,
}

impl HttpSd {
    /// The refresh interval, 60s unless set.
    pub fn refresh(&self) -> PromDuration {
        self.refresh_interval
            .unwrap_or(crate::prometheus::scrape::HTTP_SD_REFRESH)
    }
}

/// One Kubernetes discovery: a role, the namespaces and selectors, as Prometheus's
/// `kubernetes_sd_configs` entry (without API server or client settings: the scraper
/// uses its own in-cluster or kubeconfig credentials).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesSd {
    pub role: crate::prometheus::KubernetesRole,
    /// The namespaces to look in; every namespace when empty (and `ownNamespace` unset).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Also the namespace the scraper runs in.
    #[serde(default, skip_serializing_if = "is_false")]
    pub own_namespace: bool,
    /// Label and field selectors per role, in Kubernetes' selector syntax.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<KubernetesSdSelector>,
}

/// Label (`app=web,tier!=db`) and field selectors applied to the objects of `role`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesSdSelector {
    pub role: crate::prometheus::KubernetesRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
