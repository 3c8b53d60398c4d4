//! [`ScrapeTarget`]: what to scrape, how often and how.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use telltale_model::is_valid_label_name;

use crate::duration::PromDuration;
use crate::error::FieldError;
pub use crate::scrape_client::{
    Authorization, BasicAuth, OAuth2, ScrapeClient, SecretOrConfigMap, TlsConfig,
};
use crate::selection::{self, NamespaceSelector, ONE_SELECTOR_RULE, SELECTOR_NEEDED_RULE};
pub use crate::service_discovery::{HttpSd, KubernetesSd, KubernetesSdSelector};
use crate::status::ResourceStatus;

/// Endpoints to scrape and how to scrape them: in a cluster, the pods of `podSelector` or
/// the endpoints of the Services of `serviceSelector`; anywhere, `static` lists and
/// `fileSd` files.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "telltale.dev",
    version = "v1alpha1",
    kind = "ScrapeTarget",
    namespaced,
    shortname = "st",
    category = "telltale",
    status = "ResourceStatus",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Message","type":"string","jsonPath":".status.message","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[x_kube(validation = Rule::new(ONE_SELECTOR_RULE).message("set exactly one of podSelector and serviceSelector"))]
#[x_kube(validation = Rule::new(SELECTOR_NEEDED_RULE).message("namespaceSelector and port need a podSelector or serviceSelector"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScrapeTargetSpec {
    /// The `job` label of every series scraped; defaults to the resource's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    /// Scrape the pods whose labels match (one target per matching container port).
    /// Exclusive with `serviceSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// Scrape the endpoints (EndpointSlices) of the Services whose labels match (one
    /// target per endpoint and matching port). Exclusive with `podSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_selector: Option<LabelSelector>,
    /// The namespaces the selector looks in; the resource's own when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<NamespaceSelector>,
    /// The container or endpoint port, by name or number; every port when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
    /// Fixed `host:port` endpoints, each group with extra labels.
    #[serde(default, rename = "static", skip_serializing_if = "Vec::is_empty")]
    pub static_targets: Vec<StaticTargets>,
    /// HTTP path of the metrics endpoint.
    #[serde(default = "default_path")]
    pub path: String,
    /// `http` or `https`.
    #[serde(default)]
    pub scheme: Scheme,
    /// TLS of the scrapes: CA (besides the system roots), client certificate and key
    /// from Secrets or files, `serverName`, `insecureSkipVerify`, `minVersion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// An `Authorization: <type> <credentials>` header on every scrape (`Bearer` unless
    /// `type` is set), credentials from a Secret or a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// HTTP basic authentication, username and password from Secrets or files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// OAuth 2.0 client credentials: a token from `tokenUrl`, sent as a bearer token and
    /// renewed before it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// An `http://`, `https://` or `socks5://` proxy for the scrapes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Follow HTTP 3xx redirects; true unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Allow HTTP/2 over TLS; true unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
    /// Credentials written inline in prometheus.yml (its translation only): never read
    /// from a resource (an `inlineCredentials` key is an unknown field) nor written out
    /// ([`InlineCredentials::hidden`](crate::scrape_client::InlineCredentials::hidden) is
    /// always true; `skip` alone would leave the schema derive's copy of this struct with
    /// a field it never reads).
    #[serde(
        skip_deserializing,
        skip_serializing_if = "crate::scrape_client::InlineCredentials::hidden"
    )]
    #[schemars(skip)]
    pub inline_credentials: crate::scrape_client::InlineCredentials,
    /// How often to scrape.
    #[serde(default = "default_interval")]
    pub interval: PromDuration,
    /// Give up on a scrape after this long; at most `interval`. Unset: 10s, or
    /// `interval` when that is shorter (as Prometheus). See [`ScrapeTargetSpec::timeout`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<PromDuration>,
    /// URL query parameters sent with every scrape.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Vec<String>>,
    /// Files listing more static targets (Prometheus's `file_sd_configs`), re-read when
    /// they change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_sd: Vec<FileSdConfig>,
    /// Keep the scraped series' own labels when they collide with target labels (instead
    /// of renaming them `exported_<name>`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub honor_labels: bool,
    /// Use the timestamps written in the exposition (otherwise every sample gets the
    /// scrape's time).
    #[serde(default = "default_true")]
    pub honor_timestamps: bool,
    /// Relabeling of each target's labels before it is scraped; a target can be dropped
    /// here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relabelings: Vec<RelabelConfig>,
    /// Relabeling of every scraped sample before it is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_relabelings: Vec<RelabelConfig>,
    /// Fail a scrape whose body (uncompressed) is larger than this: a size in Go's
    /// base-2 units (`10MB` is 10 MiB, `512KiB`); unset or `0`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_size_limit: Option<String>,
    /// Fail a scrape with more samples than this (after metric relabeling); 0: no limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sample_limit: u64,
    /// Fail a scrape with a series of more labels than this; 0: no limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_limit: u64,
    /// Fail a scrape with a label name longer than this (bytes); 0: no limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_name_length_limit: u64,
    /// Fail a scrape with a label value longer than this (bytes); 0: no limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_value_length_limit: u64,
    /// Fail every scrape of this resource's targets while relabeling leaves more targets
    /// than this (Prometheus's `target_limit`); 0: no limit.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub target_limit: u64,
    /// Target groups fetched over HTTP (Prometheus's `http_sd_configs`): a JSON list of
    /// `{targets: [...], labels: {...}}`, re-fetched every `refreshInterval`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_sd: Vec<HttpSd>,
    /// Kubernetes objects to discover with Prometheus's roles and `__meta_kubernetes_*`
    /// labels (Prometheus's `kubernetes_sd_configs`); the way prometheus.yml files select
    /// cluster objects. Exclusive with `podSelector` and `serviceSelector`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kubernetes_sd: Vec<KubernetesSd>,
    /// Also store the classic `_bucket`/`_sum`/`_count` series of histograms that are
    /// scraped as native histograms (Prometheus's `always_scrape_classic_histograms`,
    /// prometheus-operator's `scrapeClassicHistograms`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub scrape_classic_histograms: bool,
    /// The exposition formats asked for, preferred first (`PrometheusProto`,
    /// `OpenMetricsText1.0.0`, `OpenMetricsText0.0.1`, `PrometheusText1.0.0`,
    /// `PrometheusText0.0.4`). Unset: all five in that order (protobuf first: the format
    /// of native histograms).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scrape_protocols: Vec<crate::ScrapeProtocol>,
    /// The format of a response whose Content-Type is missing or not one of the above;
    /// unset: such a scrape fails (as Prometheus).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_scrape_protocol: Option<crate::ScrapeProtocol>,
}

/// Files of target groups, each a JSON or YAML list of `{targets: [...], labels: {...}}`
/// as Prometheus's `file_sd_configs` reads them.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileSdConfig {
    /// Paths of the files (`.json`, `.yml` or `.yaml`); the last path component may hold
    /// `*` wildcards.
    pub files: Vec<String>,
    /// How often the files are checked for changes; defaults to the scrape interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<PromDuration>,
}

/// One relabeling step, as Prometheus's `relabel_config`. Unset fields take
/// Prometheus's defaults: separator `;`, regex `(.*)` (always anchored at both ends),
/// replacement `$1`, action `replace`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values, joined by `separator`, are matched against `regex`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
    /// The label written by `replace`, `hashmod`, `lowercase` and `uppercase`, compared
    /// by `keepequal` and `dropequal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_label: Option<String>,
    /// An RE2 regular expression, anchored at both ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Modulus of `hashmod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modulus: Option<u64>,
    /// What `replace` writes (`$1`, `${name}` refer to regex groups); for `labelmap`, the
    /// new label name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    #[serde(default)]
    pub action: RelabelAction,
}

/// What a relabeling step does.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RelabelAction {
    /// Writes `replacement` (expanded) to `target_label` when `regex` matches.
    #[default]
    Replace,
    /// Drops the target or sample unless `regex` matches.
    Keep,
    /// Drops the target or sample when `regex` matches.
    Drop,
    /// Drops it unless the joined source values equal the value of `target_label`.
    KeepEqual,
    /// Drops it when the joined source values equal the value of `target_label`.
    DropEqual,
    /// Writes the hash of the joined source values modulo `modulus` to `target_label`.
    HashMod,
    /// Copies every label whose name matches `regex` to the name `replacement`.
    LabelMap,
    /// Removes every label whose name matches `regex`.
    LabelDrop,
    /// Removes every label whose name does not match `regex`.
    LabelKeep,
    /// Writes the joined source values in lower case to `target_label`.
    Lowercase,
    /// Writes the joined source values in upper case to `target_label`.
    Uppercase,
}

impl RelabelAction {
    /// The name written in configuration.
    pub fn as_str(&self) -> &'static str {
        match self {
            RelabelAction::Replace => "replace",
            RelabelAction::Keep => "keep",
            RelabelAction::Drop => "drop",
            RelabelAction::KeepEqual => "keepequal",
            RelabelAction::DropEqual => "dropequal",
            RelabelAction::HashMod => "hashmod",
            RelabelAction::LabelMap => "labelmap",
            RelabelAction::LabelDrop => "labeldrop",
            RelabelAction::LabelKeep => "labelkeep",
            RelabelAction::Lowercase => "lowercase",
            RelabelAction::Uppercase => "uppercase",
        }
    }
}

impl RelabelConfig {
    /// The separator, `;` unless set.
    pub fn separator(&self) -> &str {
        self.separator.as_deref().unwrap_or(";")
    }

    /// The regular expression as written (unanchored), `(.*)` unless set.
    pub fn regex(&self) -> &str {
        self.regex.as_deref().unwrap_or("(.*)")
    }

    /// The replacement, `$1` unless set.
    pub fn replacement(&self) -> &str {
        self.replacement.as_deref().unwrap_or("$1")
    }

    /// Checks the combination of fields each action needs (the regex itself is compiled,
    /// and checked, by the scraper). `field` is the path of this step, for errors.
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        use RelabelAction as A;
        let err = |sub: &str, m: String| FieldError::new(format!("{field}.{sub}"), m);
        for (i, name) in self.source_labels.iter().enumerate() {
            if !is_valid_label_name(name) {
                return Err(err(
                    &format!("sourceLabels[{i}]"),
                    format!("{name:?} is not a valid label name"),
                ));
            }
        }
        let action = self.action.as_str();
        let target = self.target_label.as_deref().unwrap_or("");
        match self.action {
            A::Replace | A::HashMod | A::Lowercase | A::Uppercase | A::KeepEqual | A::DropEqual
                if target.is_empty() =>
            {
                return Err(err(
                    "targetLabel",
                    format!("is required for action {action}"),
                ));
            }
            A::Replace if !is_label_name_template(target) => {
                return Err(err(
                    "targetLabel",
                    format!("{target:?} is not a valid label name (or $-template of one)"),
                ));
            }
            A::HashMod | A::Lowercase | A::Uppercase | A::KeepEqual | A::DropEqual
                if !is_valid_label_name(target) =>
            {
                return Err(err(
                    "targetLabel",
                    format!("{target:?} is not a valid label name"),
                ));
            }
            _ => {}
        }
        match self.action {
            A::HashMod if self.modulus.unwrap_or(0) == 0 => {
                return Err(err(
                    "modulus",
                    "must be set and greater than 0 for action hashmod".into(),
                ));
            }
            A::LabelDrop | A::LabelKeep
                if !self.source_labels.is_empty()
                    || self.target_label.is_some()
                    || self.modulus.is_some()
                    || self.separator.is_some()
                    || self.replacement.is_some() =>
            {
                return Err(err(
                    "action",
                    format!(
                        "{action} takes only regex (no sourceLabels, separator, targetLabel, modulus or replacement)"
                    ),
                ));
            }
            A::KeepEqual | A::DropEqual if self.regex.is_some() || self.replacement.is_some() => {
                return Err(err(
                    "action",
                    format!("{action} takes no regex or replacement"),
                ));
            }
            A::LabelMap if !is_label_name_template(self.replacement()) => {
                return Err(err(
                    "replacement",
                    format!(
                        "{:?} is not a valid label name (or $-template of one)",
                        self.replacement()
                    ),
                ));
            }
            _ => {}
        }
        Ok(())
    }
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
fn is_zero(n: &u64) -> bool {
    *n == 0
}
fn default_true() -> bool {
    true
}

/// A group of fixed endpoints sharing extra labels.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticTargets {
    /// `host:port` of each endpoint.
    pub targets: Vec<String>,
    /// Labels added to every series of these endpoints.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    #[default]
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(&self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

fn default_path() -> String {
    "/metrics".into()
}
fn default_interval() -> PromDuration {
    PromDuration::from_secs(30)
}
/// Prometheus's `scrape_timeout` default, capped at the interval.
const DEFAULT_TIMEOUT_SECS: u64 = 10;

impl Default for ScrapeTargetSpec {
    /// The spec of an empty YAML `spec: {}`: no endpoints, Prometheus's defaults.
    fn default() -> Self {
        ScrapeTargetSpec {
            job: None,
            pod_selector: None,
            service_selector: None,
            namespace_selector: None,
            port: None,
            static_targets: Vec::new(),
            path: default_path(),
            scheme: Scheme::default(),
            tls_config: None,
            authorization: None,
            basic_auth: None,
            oauth2: None,
            proxy_url: None,
            follow_redirects: None,
            enable_http2: None,
            inline_credentials: Default::default(),
            interval: default_interval(),
            scrape_timeout: None,
            params: BTreeMap::new(),
            file_sd: Vec::new(),
            honor_labels: false,
            honor_timestamps: true,
            relabelings: Vec::new(),
            metric_relabelings: Vec::new(),
            body_size_limit: None,
            sample_limit: 0,
            label_limit: 0,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
            target_limit: 0,
            http_sd: Vec::new(),
            kubernetes_sd: Vec::new(),
            scrape_classic_histograms: false,
            scrape_protocols: Vec::new(),
            fallback_scrape_protocol: None,
        }
    }
}

impl ScrapeTargetSpec {
    /// Whether the spec selects cluster objects (pods or Services).
    pub fn selects_cluster_objects(&self) -> bool {
        self.pod_selector.is_some()
            || self.service_selector.is_some()
            || !self.kubernetes_sd.is_empty()
    }

    /// Its HTTP client settings together (`tlsConfig`, `authorization`, `basicAuth`,
    /// `proxyUrl`, `followRedirects`, `enableHttp2`).
    pub fn client(&self) -> ScrapeClient {
        ScrapeClient {
            tls_config: self.tls_config.clone(),
            authorization: self.authorization.clone(),
            basic_auth: self.basic_auth.clone(),
            oauth2: self.oauth2.clone(),
            proxy_url: self.proxy_url.clone(),
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
            inline: self.inline_credentials.clone(),
        }
    }

    /// `bodySizeLimit` in bytes; 0: no limit.
    pub fn body_size_limit_bytes(&self) -> Result<u64, FieldError> {
        match &self.body_size_limit {
            None => Ok(0),
            Some(b) => telltale_model::parse_base2_bytes(b)
                .map_err(|e| FieldError::new("spec.bodySizeLimit", e.to_string())),
        }
    }

    /// The scrape timeout: `scrapeTimeout`, or 10s capped at the interval.
    pub fn timeout(&self) -> PromDuration {
        self.scrape_timeout
            .unwrap_or_else(|| PromDuration::from_secs(DEFAULT_TIMEOUT_SECS).min(self.interval))
    }

    /// Checks what the schema cannot: endpoint syntax, path, timeout within interval,
    /// one selector at most and well-formed selectors.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(job) = &self.job
            && job.is_empty()
        {
            return Err(FieldError::new("spec.job", "must not be empty"));
        }
        selection::validate(
            self.pod_selector.as_ref(),
            self.service_selector.as_ref(),
            self.namespace_selector.as_ref(),
            self.port.as_ref(),
        )?;
        self.body_size_limit_bytes()?;
        if let Some((i, p)) = self
            .scrape_protocols
            .iter()
            .enumerate()
            .find(|(i, p)| self.scrape_protocols[..*i].contains(p))
        {
            // Prometheus's check of `scrape_protocols`.
            return Err(FieldError::new(
                format!("spec.scrapeProtocols[{i}]"),
                format!("duplicated protocol in scrape_protocols, got {}", p.name()),
            ));
        }
        if !self.path.starts_with('/') {
            return Err(FieldError::new(
                "spec.path",
                format!("{:?} must start with '/'", self.path),
            ));
        }
        if self.interval.0.is_zero() {
            return Err(FieldError::new("spec.interval", "must be greater than 0"));
        }
        if let Some(timeout) = self.scrape_timeout {
            if timeout.0.is_zero() {
                return Err(FieldError::new(
                    "spec.scrapeTimeout",
                    "must be greater than 0",
                ));
            }
            if timeout > self.interval {
                return Err(FieldError::new(
                    "spec.scrapeTimeout",
                    format!("{timeout} is longer than spec.interval {}", self.interval),
                ));
            }
        }
        self.client().validate("spec")?;
        for (i, r) in self.relabelings.iter().enumerate() {
            r.validate(&format!("spec.relabelings[{i}]"))?;
        }
        for (i, r) in self.metric_relabelings.iter().enumerate() {
            r.validate(&format!("spec.metricRelabelings[{i}]"))?;
        }
        for (i, f) in self.file_sd.iter().enumerate() {
            if f.files.is_empty() {
                return Err(FieldError::new(
                    format!("spec.fileSd[{i}].files"),
                    "must list at least one file",
                ));
            }
            if let Some(r) = f.refresh_interval
                && r.0.is_zero()
            {
                return Err(FieldError::new(
                    format!("spec.fileSd[{i}].refreshInterval"),
                    "must be greater than 0",
                ));
            }
        }
        if !self.kubernetes_sd.is_empty()
            && (self.pod_selector.is_some() || self.service_selector.is_some())
        {
            return Err(FieldError::new(
                "spec.kubernetesSd",
                "set kubernetesSd or podSelector/serviceSelector, not both",
            ));
        }
        for (i, sd) in self.kubernetes_sd.iter().enumerate() {
            for (j, sel) in sd.selectors.iter().enumerate() {
                if let Some(label) = &sel.label {
                    selection::parse_label_selector(label).map_err(|m| {
                        FieldError::new(format!("spec.kubernetesSd[{i}].selectors[{j}].label"), m)
                    })?;
                }
            }
        }
        for (i, h) in self.http_sd.iter().enumerate() {
            let url = url::Url::parse(&h.url).map_err(|e| {
                FieldError::new(format!("spec.httpSd[{i}].url"), format!("{:?}: {e}", h.url))
            })?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(FieldError::new(
                    format!("spec.httpSd[{i}].url"),
                    "URL scheme must be 'http' or 'https'",
                ));
            }
            if h.refresh().0.is_zero() {
                return Err(FieldError::new(
                    format!("spec.httpSd[{i}].refreshInterval"),
                    "must be greater than 0",
                ));
            }
        }
        for (g, group) in self.static_targets.iter().enumerate() {
            for (t, target) in group.targets.iter().enumerate() {
                validate_endpoint(target, !self.relabelings.is_empty())
                    .map_err(|m| FieldError::new(format!("spec.static[{g}].targets[{t}]"), m))?;
            }
            for name in group.labels.keys() {
                if !is_valid_label_name(name) {
                    return Err(FieldError::new(
                        format!("spec.static[{g}].labels.{name}"),
                        format!("{name:?} is not a valid label name"),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// True for a label name that may contain `$1` / `${name}` references to regex groups
/// (the target label of `replace`, the replacement of `labelmap`).
fn is_label_name_template(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '{' | '}'))
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// A static endpoint: `host` or `host:port` (the scheme's port is added when missing).
/// With relabelings any non-empty string is accepted (say, a URL a prober takes as
/// `__param_target`); the address left after relabeling is checked by the scraper.
fn validate_endpoint(s: &str, relabeled: bool) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if relabeled {
        return Ok(());
    }
    if s.contains('/') || s.contains(char::is_whitespace) {
        return Err(format!(
            "{s:?} is not host:port (use relabelings to turn other strings into an address)"
        ));
    }
    if let Some((host, port)) = s.rsplit_once(':')
        && !host.ends_with(':')
    {
        if host.is_empty() {
            return Err(format!("{s:?} is not host:port"));
        }
        port.parse::<u16>()
            .map_err(|_| format!("{s:?} has no valid port"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> ScrapeTargetSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn defaults_apply() {
        let s = spec("static: [{targets: ['127.0.0.1:9100']}]");
        assert_eq!(s.path, "/metrics");
        assert_eq!(s.interval, PromDuration::from_secs(30));
        assert_eq!(s.scheme, Scheme::Http);
        s.validate().unwrap();
    }

    #[test]
    fn default_is_the_empty_spec() {
        assert_eq!(ScrapeTargetSpec::default(), spec("{}"));
    }

    #[test]
    fn timeout_longer_than_interval_is_rejected() {
        let s = spec("interval: 5s\nscrapeTimeout: 10s");
        assert_eq!(s.validate().unwrap_err().field, "spec.scrapeTimeout");
    }

    /// As Prometheus: an unset timeout is 10s, or the interval when that is shorter.
    #[test]
    fn the_default_timeout_is_capped_at_the_interval() {
        let s = spec("interval: 5s\nstatic: [{targets: ['a:1']}]");
        s.validate().unwrap();
        assert_eq!(s.timeout(), PromDuration::from_secs(5));
        assert_eq!(spec("interval: 1m").timeout(), PromDuration::from_secs(10));
        assert_eq!(spec("{}").timeout(), PromDuration::from_secs(10));
        assert_eq!(
            spec("interval: 1m\nscrapeTimeout: 30s").timeout(),
            PromDuration::from_secs(30)
        );
    }

    #[test]
    fn scrape_semantics_fields_parse_with_defaults() {
        let s = spec("static: [{targets: ['a:1']}]");
        assert!(!s.honor_labels);
        assert!(s.honor_timestamps);
        assert_eq!(s.sample_limit, 0);
        let s = spec(
            r#"
honorLabels: true
honorTimestamps: false
sampleLimit: 100
labelLimit: 5
labelNameLengthLimit: 10
labelValueLengthLimit: 20
fileSd: [{files: [targets/*.json], refreshInterval: 1m}]
relabelings:
  - {sourceLabels: [__address__], regex: '(.*):\d+', targetLabel: host}
  - {action: labeldrop, regex: tmp_.*}
metricRelabelings:
  - {action: hashmod, sourceLabels: [a], modulus: 4, targetLabel: shard}
"#,
        );
        s.validate().unwrap();
        assert!(s.honor_labels && !s.honor_timestamps);

        let formats: ScrapeTargetSpec = serde_yaml::from_str(
            "static: [{targets: [a:1]}]\nscrapeClassicHistograms: true\n\
             scrapeProtocols: [PrometheusText0.0.4, PrometheusProto]\n\
             fallbackScrapeProtocol: PrometheusText0.0.4\n",
        )
        .unwrap();
        assert!(formats.scrape_classic_histograms);
        assert_eq!(
            formats.scrape_protocols,
            [
                crate::ScrapeProtocol::PrometheusText0_0_4,
                crate::ScrapeProtocol::PrometheusProto
            ]
        );
        assert_eq!(
            formats.fallback_scrape_protocol,
            Some(crate::ScrapeProtocol::PrometheusText0_0_4)
        );
        formats.validate().unwrap();
        let dup = ScrapeTargetSpec {
            scrape_protocols: vec![crate::ScrapeProtocol::PrometheusProto; 2],
            ..formats
        };
        let e = dup.validate().unwrap_err().to_string();
        assert!(e.contains("spec.scrapeProtocols[1]"), "{e}");
        assert_eq!(
            (
                s.sample_limit,
                s.label_limit,
                s.label_name_length_limit,
                s.label_value_length_limit
            ),
            (100, 5, 10, 20)
        );
        let r = &s.relabelings[0];
        assert_eq!(r.action, RelabelAction::Replace);
        assert_eq!((r.separator(), r.replacement()), (";", "$1"));
        assert_eq!(s.relabelings[1].action, RelabelAction::LabelDrop);
        assert_eq!(s.relabelings[1].regex(), "tmp_.*");
        assert_eq!(s.metric_relabelings[0].modulus, Some(4));
        assert_eq!(
            s.file_sd[0].refresh_interval,
            Some(PromDuration::from_secs(60))
        );
        // Defaults are not written back.
        let yaml = serde_yaml::to_string(&spec("static: [{targets: ['a:1']}]")).unwrap();
        assert!(
            !yaml.contains("honorLabels") && !yaml.contains("sampleLimit"),
            "{yaml}"
        );
    }

    #[test]
    fn relabel_steps_are_checked_per_action() {
        let field = |yaml: &str| spec(yaml).validate().unwrap_err().field;
        assert_eq!(
            field("relabelings: [{sourceLabels: [a]}]"),
            "spec.relabelings[0].targetLabel"
        );
        assert_eq!(
            field("metricRelabelings: [{action: hashmod, sourceLabels: [a], targetLabel: b}]"),
            "spec.metricRelabelings[0].modulus"
        );
        assert_eq!(
            field("relabelings: [{action: labeldrop, regex: a, targetLabel: b}]"),
            "spec.relabelings[0].action"
        );
        assert_eq!(
            field("relabelings: [{action: keep, sourceLabels: ['bad-name']}]"),
            "spec.relabelings[0].sourceLabels[0]"
        );
        assert_eq!(
            field("relabelings: [{action: lowercase, sourceLabels: [a], targetLabel: '${1}'}]"),
            "spec.relabelings[0].targetLabel"
        );
        assert_eq!(field("fileSd: [{files: []}]"), "spec.fileSd[0].files");
        // A $-template is a fine target label for replace.
        spec("relabelings: [{sourceLabels: [a], regex: '(.+)', targetLabel: 'x_${1}'}]")
            .validate()
            .unwrap();
        assert!(serde_yaml::from_str::<ScrapeTargetSpec>("relabelings: [{action: nope}]").is_err());
    }

    #[test]
    fn discovery_fields_are_checked() {
        let field = |yaml: &str| spec(yaml).validate().unwrap_err().field;
        assert_eq!(
            field("kubernetesSd: [{role: pod, selectors: [{role: pod, label: 'a b'}]}]"),
            "spec.kubernetesSd[0].selectors[0].label"
        );
        assert_eq!(
            field("kubernetesSd: [{role: pod}]\npodSelector: {}"),
            "spec.kubernetesSd"
        );
        assert_eq!(field("httpSd: [{url: 'ftp://x/'}]"), "spec.httpSd[0].url");
        assert_eq!(
            field("httpSd: [{url: 'http://x/', refreshInterval: 0}]"),
            "spec.httpSd[0].refreshInterval"
        );
        spec("httpSd: [{url: 'http://x/sd'}]\nkubernetesSd: [{role: endpoints, namespaces: [a]}]\ntargetLimit: 3")
            .validate()
            .unwrap();
    }

    #[test]
    fn bad_endpoint_names_its_index() {
        let s = spec("static: [{targets: ['a:1', 'a/b']}]");
        assert_eq!(s.validate().unwrap_err().field, "spec.static[0].targets[1]");
        let s = spec("static: [{targets: ['a:1', 'h:port']}]");
        assert_eq!(s.validate().unwrap_err().field, "spec.static[0].targets[1]");
        // A missing port is the scheme's; with relabelings anything goes.
        spec("static: [{targets: ['example.org']}]")
            .validate()
            .unwrap();
        spec(
            "static: [{targets: ['https://x/y']}]\nrelabelings: [{targetLabel: a, replacement: b}]",
        )
        .validate()
        .unwrap();
    }
}
