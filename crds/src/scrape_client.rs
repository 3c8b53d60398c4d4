//! How a ScrapeTarget's requests are secured, in prometheus-operator's shapes (a
//! ServiceMonitor endpoint's `tlsConfig`, `authorization`, `basicAuth`, `proxyUrl`,
//! `followRedirects`): certificates and credentials from Secrets (and ConfigMaps, for
//! CAs and certificates) in a cluster, from files in standalone.
//!
//! ```yaml
//! scheme: https
//! tlsConfig:
//!   ca: {secret: {name: metrics-tls, key: ca.crt}}      # or caFile: /etc/ca.pem
//!   cert: {secret: {name: metrics-tls, key: tls.crt}}   # or certFile
//!   keySecret: {name: metrics-tls, key: tls.key}        # or keyFile
//!   serverName: metrics.shop.svc
//! authorization: {credentials: {name: token, key: token}}  # type Bearer unless set
//! ```
//!
//! [`ScrapeClient::validate`] refuses what Prometheus's `HTTPClientConfig.Validate`
//! refuses, with its messages, the field named as written here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::scrape_target::is_false;
use crate::secret::SecretKeySelector;

/// The directory of the pod's service-account token and cluster CA: the only files a
/// ScrapeTarget may name in a cluster (kubelet, cAdvisor and API server scrapes use
/// them, as prometheus-operator's `bearerTokenFile` does).
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount/";

/// A key of a Secret or of a ConfigMap (prometheus-operator's `SecretOrConfigMap`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretOrConfigMap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<SecretKeySelector>,
}

/// TLS of the scrapes: the CA trusted besides the system's, the client certificate, the
/// name verified. Each of CA, certificate and key from an object or a file, not both.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM CA certificates trusted in addition to the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<SecretOrConfigMap>,
    /// PEM client certificate presented to the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<SecretOrConfigMap>,
    /// The client certificate's PEM key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_secret: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// The name the target's certificate must hold (instead of the scraped host).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Accept any certificate.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure_skip_verify: bool,
    /// `TLS10`, `TLS11`, `TLS12` or `TLS13` (rustls speaks 1.2 and 1.3 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
}

/// The `Authorization: <type> <credentials>` header.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authorization {
    /// `Bearer` unless set.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<SecretKeySelector>,
    /// A file holding the credentials, read at every scrape (a rotated token applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<String>,
}

impl Authorization {
    /// The scheme: `type` trimmed, `Bearer` when unset or empty.
    pub fn scheme(&self) -> &str {
        match self.type_.as_deref().map(str::trim) {
            Some(t) if !t.is_empty() => t,
            _ => "Bearer",
        }
    }
}

/// HTTP basic authentication.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretKeySelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// OAuth 2.0 client credentials (prometheus-operator's `OAuth2`): a token fetched from
/// `tokenUrl` with the client id and secret, sent as `Authorization: Bearer <token>` and
/// renewed before it expires.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OAuth2 {
    /// The client id, from a Secret or ConfigMap key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<SecretOrConfigMap>,
    /// A file holding the client id (standalone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id_file: Option<String>,
    /// The client secret, from a Secret key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<SecretKeySelector>,
    /// A file holding the client secret (standalone; read at every token request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
    /// The token endpoint.
    #[serde(default)]
    pub token_url: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// Extra form parameters of the token request (`audience`, ...).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub endpoint_params: std::collections::BTreeMap<String, String>,
    /// TLS of the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// A proxy for the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

/// A ScrapeTarget's client settings together: what a scrape's HTTP client is built from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScrapeClient {
    pub tls_config: Option<TlsConfig>,
    pub authorization: Option<Authorization>,
    pub basic_auth: Option<BasicAuth>,
    pub oauth2: Option<OAuth2>,
    pub proxy_url: Option<String>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub inline: InlineCredentials,
}

/// Credentials written in prometheus.yml itself (`authorization.credentials`,
/// `bearer_token`, `basic_auth.username` and `password`), which a resource cannot hold:
/// carried beside the ScrapeTarget translated from the file (standalone's
/// `--config.file`), never serialized — neither the CRD schema nor any YAML or JSON
/// output shows them. Each one applies where the resource sets the same setting without
/// a Secret or a file: `authorization` with no credentials source takes `credentials`,
/// `basicAuth` with no username (password) source takes `username` (`password`).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct InlineCredentials {
    pub credentials: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `oauth2.client_id` and `oauth2.client_secret` as written in prometheus.yml.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

impl InlineCredentials {
    /// Always true: inline credentials are never serialized.
    pub fn hidden(&self) -> bool {
        true
    }
}

/// Serializes as nothing (never reached: see [`InlineCredentials::hidden`]).
impl Serialize for InlineCredentials {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl std::fmt::Debug for InlineCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |v: &Option<String>| v.as_ref().map(|_| "<secret>");
        f.debug_struct("InlineCredentials")
            .field("credentials", &secret(&self.credentials))
            .field("username", &self.username)
            .field("password", &secret(&self.password))
            .field("client_id", &self.client_id)
            .field("client_secret", &secret(&self.client_secret))
            .finish()
    }
}

fn set(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

fn selector(s: &SecretKeySelector, at: &str) -> Result<(), FieldError> {
    if s.name.is_empty() {
        return Err(FieldError::new(format!("{at}.name"), "must not be empty"));
    }
    if s.key.is_empty() {
        return Err(FieldError::new(format!("{at}.key"), "must not be empty"));
    }
    Ok(())
}

fn object(o: &SecretOrConfigMap, at: &str) -> Result<(), FieldError> {
    match (&o.secret, &o.config_map) {
        (Some(s), None) => selector(s, &format!("{at}.secret")),
        (None, Some(c)) => selector(c, &format!("{at}.configMap")),
        (Some(_), Some(_)) => Err(FieldError::new(
            at,
            "SecretOrConfigMap can not specify both Secret and ConfigMap",
        )),
        (None, None) => Err(FieldError::new(at, "set secret or configMap")),
    }
}

impl TlsConfig {
    /// Prometheus's `TLSConfig.Validate`, with its messages; `at` is the section's path.
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        if self.ca.is_some() && set(&self.ca_file) {
            return Err(FieldError::new(
                at,
                "at most one of ca and ca_file must be configured",
            ));
        }
        if self.cert.is_some() && set(&self.cert_file) {
            return Err(FieldError::new(
                at,
                "at most one of cert and cert_file must be configured",
            ));
        }
        if self.key_secret.is_some() && set(&self.key_file) {
            return Err(FieldError::new(
                at,
                "at most one of key and key_file must be configured",
            ));
        }
        let cert = self.cert.is_some() || set(&self.cert_file);
        let key = self.key_secret.is_some() || set(&self.key_file);
        if cert && !key {
            return Err(FieldError::new(
                at,
                "exactly one of key or key_file must be configured when a client certificate is configured",
            ));
        }
        if key && !cert {
            return Err(FieldError::new(
                at,
                "exactly one of cert or cert_file must be configured when a client key is configured",
            ));
        }
        for (o, name) in [(&self.ca, "ca"), (&self.cert, "cert")] {
            if let Some(o) = o {
                object(o, &format!("{at}.{name}"))?;
            }
        }
        if let Some(k) = &self.key_secret {
            selector(k, &format!("{at}.keySecret"))?;
        }
        if let Some(v) = &self.min_version
            && !TLS_VERSIONS.contains(&v.as_str())
        {
            return Err(FieldError::new(
                format!("{at}.minVersion"),
                format!("unknown TLS version: {v}"),
            ));
        }
        Ok(())
    }
}

const TLS_VERSIONS: [&str; 4] = ["TLS10", "TLS11", "TLS12", "TLS13"];

impl ScrapeClient {
    /// True when nothing is set (Prometheus's default client).
    pub fn is_default(&self) -> bool {
        *self == ScrapeClient::default()
    }

    /// Prometheus's checks (`HTTPClientConfig.Validate`, `TLSConfig.Validate`) with its
    /// messages; `at` is the path of the section holding the fields (`spec`).
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        if let Some(a) = &self.authorization {
            let at = format!("{at}.authorization");
            if a.credentials.is_some() && set(&a.credentials_file) {
                return Err(FieldError::new(
                    at,
                    "at most one of authorization credentials & credentials_file must be configured",
                ));
            }
            if a.scheme().eq_ignore_ascii_case("basic") {
                return Err(FieldError::new(
                    format!("{at}.type"),
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
                ));
            }
            if let Some(c) = &a.credentials {
                selector(c, &format!("{at}.credentials"))?;
            }
            if self.basic_auth.is_some() {
                return Err(FieldError::new(
                    at,
                    "at most one of basic_auth, oauth2 & authorization must be configured",
                ));
            }
        }
        if let Some(o) = &self.oauth2 {
            let at = format!("{at}.oauth2");
            if self.basic_auth.is_some() || self.authorization.is_some() {
                return Err(FieldError::new(
                    at,
                    "at most one of basic_auth, oauth2 & authorization must be configured",
                ));
            }
            if o.client_id.is_some() && set(&o.client_id_file) {
                return Err(FieldError::new(
                    at,
                    "at most one of oauth2 clientId & clientIdFile must be configured",
                ));
            }
            if o.client_id.is_none() && !set(&o.client_id_file) && !set(&self.inline.client_id) {
                return Err(FieldError::new(
                    format!("{at}.clientId"),
                    "oauth2 client_id must be configured",
                ));
            }
            if o.token_url.is_empty() {
                return Err(FieldError::new(
                    format!("{at}.tokenUrl"),
                    "oauth2 token_url must be configured",
                ));
            }
            if let Err(e) = url::Url::parse(&o.token_url) {
                return Err(FieldError::new(
                    format!("{at}.tokenUrl"),
                    format!("{:?}: {e}", o.token_url),
                ));
            }
            if o.client_secret.is_some() && set(&o.client_secret_file) {
                return Err(FieldError::new(
                    at,
                    "at most one of oauth2 client_secret & client_secret_file must be configured",
                ));
            }
            if let Some(c) = &o.client_id {
                object(c, &format!("{at}.clientId"))?;
            }
            if let Some(c) = &o.client_secret {
                selector(c, &format!("{at}.clientSecret"))?;
            }
            if let Some(t) = &o.tls_config {
                t.validate(&format!("{at}.tlsConfig"))?;
            }
        }
        if let Some(b) = &self.basic_auth {
            let at = format!("{at}.basicAuth");
            if b.username.is_some() && set(&b.username_file) {
                return Err(FieldError::new(
                    at,
                    "at most one of basic_auth username & username_file must be configured",
                ));
            }
            if b.password.is_some() && set(&b.password_file) {
                return Err(FieldError::new(
                    at,
                    "at most one of basic_auth password & password_file must be configured",
                ));
            }
            if b.username.is_none() && !set(&b.username_file) {
                return Err(FieldError::new(
                    format!("{at}.username"),
                    "set username or usernameFile",
                ));
            }
            for (s, name) in [(&b.username, "username"), (&b.password, "password")] {
                if let Some(s) = s {
                    selector(s, &format!("{at}.{name}"))?;
                }
            }
        }
        if let Some(t) = &self.tls_config {
            t.validate(&format!("{at}.tlsConfig"))?;
        }
        if let Some(p) = &self.proxy_url {
            let url = url::Url::parse(p)
                .map_err(|e| FieldError::new(format!("{at}.proxyUrl"), format!("{p:?}: {e}")))?;
            if !matches!(url.scheme(), "http" | "https" | "socks5" | "socks5h") {
                return Err(FieldError::new(
                    format!("{at}.proxyUrl"),
                    format!("{p:?}: scheme must be http, https or socks5"),
                ));
            }
        }
        Ok(())
    }

    /// Every file it names, with the field (`tlsConfig.caFile`), in field order.
    pub fn files(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        if let Some(t) = &self.tls_config {
            for (f, name) in [
                (&t.ca_file, "tlsConfig.caFile"),
                (&t.cert_file, "tlsConfig.certFile"),
                (&t.key_file, "tlsConfig.keyFile"),
            ] {
                if let Some(f) = f.as_deref().filter(|f| !f.is_empty()) {
                    out.push((name, f));
                }
            }
        }
        if let Some(f) = self
            .authorization
            .as_ref()
            .and_then(|a| a.credentials_file.as_deref())
            .filter(|f| !f.is_empty())
        {
            out.push(("authorization.credentialsFile", f));
        }
        if let Some(b) = &self.basic_auth {
            for (f, name) in [
                (&b.username_file, "basicAuth.usernameFile"),
                (&b.password_file, "basicAuth.passwordFile"),
            ] {
                if let Some(f) = f.as_deref().filter(|f| !f.is_empty()) {
                    out.push((name, f));
                }
            }
        }
        if let Some(o) = &self.oauth2 {
            if let Some(f) = o.client_id_file.as_deref().filter(|f| !f.is_empty()) {
                out.push(("oauth2.clientIdFile", f));
            }
            if let Some(f) = o.client_secret_file.as_deref().filter(|f| !f.is_empty()) {
                out.push(("oauth2.clientSecretFile", f));
            }
            if let Some(t) = &o.tls_config {
                for (f, name) in [
                    (&t.ca_file, "oauth2.tlsConfig.caFile"),
                    (&t.cert_file, "oauth2.tlsConfig.certFile"),
                    (&t.key_file, "oauth2.tlsConfig.keyFile"),
                ] {
                    if let Some(f) = f.as_deref().filter(|f| !f.is_empty()) {
                        out.push((name, f));
                    }
                }
            }
        }
        out
    }

    /// Every Secret or ConfigMap key it names: (field, the file field to use instead).
    pub fn object_references(&self) -> Vec<(&'static str, &'static str)> {
        let mut out = Vec::new();
        if let Some(t) = &self.tls_config {
            for (on, field, instead) in [
                (t.ca.is_some(), "tlsConfig.ca", "tlsConfig.caFile"),
                (t.cert.is_some(), "tlsConfig.cert", "tlsConfig.certFile"),
                (
                    t.key_secret.is_some(),
                    "tlsConfig.keySecret",
                    "tlsConfig.keyFile",
                ),
            ] {
                if on {
                    out.push((field, instead));
                }
            }
        }
        if self
            .authorization
            .as_ref()
            .is_some_and(|a| a.credentials.is_some())
        {
            out.push(("authorization.credentials", "authorization.credentialsFile"));
        }
        if let Some(b) = &self.basic_auth {
            if b.username.is_some() {
                out.push(("basicAuth.username", "basicAuth.usernameFile"));
            }
            if b.password.is_some() {
                out.push(("basicAuth.password", "basicAuth.passwordFile"));
            }
        }
        if let Some(o) = &self.oauth2 {
            if o.client_id.is_some() {
                out.push((
                    "oauth2.clientId",
                    "oauth2.clientId (inline, prometheus.yml)",
                ));
            }
            if o.client_secret.is_some() {
                out.push(("oauth2.clientSecret", "oauth2.clientSecretFile"));
            }
            if let Some(t) = &o.tls_config {
                for (on, field, instead) in [
                    (
                        t.ca.is_some(),
                        "oauth2.tlsConfig.ca",
                        "oauth2.tlsConfig.caFile",
                    ),
                    (
                        t.cert.is_some(),
                        "oauth2.tlsConfig.cert",
                        "oauth2.tlsConfig.certFile",
                    ),
                    (
                        t.key_secret.is_some(),
                        "oauth2.tlsConfig.keySecret",
                        "oauth2.tlsConfig.keyFile",
                    ),
                ] {
                    if on {
                        out.push((field, instead));
                    }
                }
            }
        }
        out
    }

    /// Whether it names a Secret or ConfigMap key.
    pub fn references_objects(&self) -> bool {
        let tls = self
            .tls_config
            .as_ref()
            .is_some_and(|t| t.ca.is_some() || t.cert.is_some() || t.key_secret.is_some());
        let auth = self
            .authorization
            .as_ref()
            .is_some_and(|a| a.credentials.is_some());
        let basic = self
            .basic_auth
            .as_ref()
            .is_some_and(|b| b.username.is_some() || b.password.is_some());
        let oauth2 = self.oauth2.as_ref().is_some_and(|o| {
            o.client_id.is_some()
                || o.client_secret.is_some()
                || o.tls_config
                    .as_ref()
                    .is_some_and(|t| t.ca.is_some() || t.cert.is_some() || t.key_secret.is_some())
        });
        tls || auth || basic || oauth2
    }
}

/// Whether `path` is one of the pod's service-account files (the only files allowed in
/// a cluster): under [`SERVICE_ACCOUNT_DIR`], without `..`.
pub fn is_service_account_file(path: &str) -> bool {
    path.strip_prefix(SERVICE_ACCOUNT_DIR)
        .is_some_and(|rest| !rest.is_empty() && !rest.split('/').any(|c| c == ".." || c.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(yaml: &str) -> ScrapeClient {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Fields {
            tls_config: Option<TlsConfig>,
            authorization: Option<Authorization>,
            basic_auth: Option<BasicAuth>,
            proxy_url: Option<String>,
        }
        let f: Fields = serde_yaml::from_str(yaml).unwrap();
        ScrapeClient {
            tls_config: f.tls_config,
            authorization: f.authorization,
            basic_auth: f.basic_auth,
            proxy_url: f.proxy_url,
            ..ScrapeClient::default()
        }
    }

    fn error(yaml: &str) -> String {
        client(yaml).validate("spec").unwrap_err().to_string()
    }

    #[test]
    fn prometheus_conflicts_with_its_messages() {
        assert_eq!(
            error("{authorization: {credentialsFile: /t}, basicAuth: {usernameFile: /u}}"),
            "spec.authorization: at most one of basic_auth, oauth2 & authorization must be configured"
        );
        assert_eq!(
            error("{authorization: {credentials: {name: a, key: b}, credentialsFile: /t}}"),
            "spec.authorization: at most one of authorization credentials & credentials_file must be configured"
        );
        assert_eq!(
            error("{authorization: {type: Basic, credentialsFile: /t}}"),
            "spec.authorization.type: authorization type cannot be set to \"basic\", use \"basic_auth\" instead"
        );
        assert_eq!(
            error("{tlsConfig: {ca: {secret: {name: a, key: b}}, caFile: /ca}}"),
            "spec.tlsConfig: at most one of ca and ca_file must be configured"
        );
        assert_eq!(
            error("{tlsConfig: {certFile: /c}}"),
            "spec.tlsConfig: exactly one of key or key_file must be configured when a client certificate is configured"
        );
        assert_eq!(
            error("{tlsConfig: {ca: {secret: {name: a, key: b}, configMap: {name: a, key: b}}}}"),
            "spec.tlsConfig.ca: SecretOrConfigMap can not specify both Secret and ConfigMap"
        );
        assert_eq!(
            error("{tlsConfig: {minVersion: TLS99}}"),
            "spec.tlsConfig.minVersion: unknown TLS version: TLS99"
        );
        assert_eq!(
            error("{basicAuth: {password: {name: a, key: b}}}"),
            "spec.basicAuth.username: set username or usernameFile"
        );
        assert!(error("{proxyUrl: 'ftp://x'}").starts_with("spec.proxyUrl:"));
        assert_eq!(
            error("{authorization: {credentials: {name: '', key: b}}}"),
            "spec.authorization.credentials.name: must not be empty"
        );
        client(
            "{tlsConfig: {ca: {configMap: {name: a, key: b}}, cert: {secret: {name: c, key: d}},
              keySecret: {name: c, key: e}, serverName: x, minVersion: TLS13},
              authorization: {credentials: {name: t, key: t}}, proxyUrl: 'http://p:3128'}",
        )
        .validate("spec")
        .unwrap();
    }

    #[test]
    fn files_and_references_are_listed() {
        let c = client(
            "{tlsConfig: {caFile: /ca, certFile: /c, keyFile: /k}, authorization: {credentialsFile: /t}}",
        );
        assert_eq!(
            c.files(),
            [
                ("tlsConfig.caFile", "/ca"),
                ("tlsConfig.certFile", "/c"),
                ("tlsConfig.keyFile", "/k"),
                ("authorization.credentialsFile", "/t")
            ]
        );
        assert!(!c.references_objects());
        let b = client("{basicAuth: {username: {name: a, key: b}}}");
        assert!(b.references_objects());
        assert_eq!(
            b.object_references(),
            [("basicAuth.username", "basicAuth.usernameFile")]
        );
        assert_eq!(
            client("{authorization: {type: ' '}}")
                .authorization
                .unwrap()
                .scheme(),
            "Bearer"
        );
    }

    #[test]
    fn only_service_account_files_are_the_pods_own() {
        assert!(is_service_account_file(
            "/var/run/secrets/kubernetes.io/serviceaccount/token"
        ));
        assert!(is_service_account_file(
            "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
        ));
        assert!(!is_service_account_file(
            "/var/run/secrets/kubernetes.io/serviceaccount/../../../../etc/shadow"
        ));
        assert!(!is_service_account_file(
            "/var/run/secrets/kubernetes.io/serviceaccount/"
        ));
        assert!(!is_service_account_file("/etc/telltale/token"));
    }
}
