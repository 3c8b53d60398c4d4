//! The HTTP client fields Prometheus inlines in scrape configs, service discovery,
//! Alertmanager and remote read/write sections (`common/config.HTTPClientConfig` as
//! Prometheus 2.42 reads it): parsed, checked and kept; what Telltale honours of them is
//! up to the component that makes the requests.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::de::nullable;
use crate::error::FieldError;

/// `basic_auth`, `authorization`, `oauth2`, `bearer_token[_file]`, `tls_config`,
/// `proxy_url`, `follow_redirects` and `enable_http2`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct HttpClientConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// Deprecated by Prometheus for `authorization`; kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// Follow HTTP 3xx redirects; true unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Allow HTTP/2; true unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_http2: Option<bool>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    #[serde(default)]
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
}

/// The `Authorization` header: `type` (Bearer unless set) and its credentials.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<String>,
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

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    #[serde(default)]
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub token_url: String,
    #[serde(default, deserialize_with = "nullable")]
    pub endpoint_params: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// `TLS10`, `TLS11`, `TLS12` or `TLS13`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
}

const TLS_VERSIONS: [&str; 4] = ["TLS10", "TLS11", "TLS12", "TLS13"];

impl TlsConfig {
    fn validate(&self, at: &str) -> Result<(), FieldError> {
        if let Some(v) = &self.min_version
            && !TLS_VERSIONS.contains(&v.as_str())
        {
            return Err(FieldError::new(
                format!("{at}.min_version"),
                format!("unknown TLS version: {v}"),
            ));
        }
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(FieldError::new(
                at,
                "client cert file and client key file must both be set",
            ));
        }
        Ok(())
    }

    /// The files it names, relative ones joined to `dir`.
    fn resolve(&mut self, dir: &std::path::Path) {
        for f in [&mut self.ca_file, &mut self.cert_file, &mut self.key_file]
            .into_iter()
            .flatten()
        {
            *f = super::resolve_path(dir, f);
        }
    }
}

fn set(s: &Option<String>) -> bool {
    s.as_deref().is_some_and(|s| !s.is_empty())
}

impl HttpClientConfig {
    /// Prometheus's checks (`HTTPClientConfig.Validate`): one way to authenticate, no
    /// Basic `authorization` type, known TLS versions. `at` is the path of the section.
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        let err = |m: &str| Err(FieldError::new(at, m));
        let bearer = set(&self.bearer_token) || set(&self.bearer_token_file);
        if set(&self.bearer_token) && set(&self.bearer_token_file) {
            return err("at most one of bearer_token & bearer_token_file must be configured");
        }
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && bearer {
            return err(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
            );
        }
        if let Some(b) = &self.basic_auth
            && set(&b.password)
            && set(&b.password_file)
        {
            return err("at most one of basic_auth password & password_file must be configured");
        }
        if let Some(a) = &self.authorization {
            if bearer {
                return err(
                    "authorization is not compatible with bearer_token & bearer_token_file",
                );
            }
            if set(&a.credentials) && set(&a.credentials_file) {
                return err(
                    "at most one of authorization credentials & credentials_file must be configured",
                );
            }
            if a.scheme().eq_ignore_ascii_case("basic") {
                return Err(FieldError::new(
                    format!("{at}.authorization.type"),
                    "authorization type cannot be set to \"basic\", use \"basic_auth\" instead",
                ));
            }
            if self.basic_auth.is_some() || self.oauth2.is_some() {
                return err("at most one of basic_auth, oauth2 & authorization must be configured");
            }
        }
        if self.basic_auth.is_some() && self.oauth2.is_some() {
            return err("at most one of basic_auth, oauth2 & authorization must be configured");
        }
        if let Some(o) = &self.oauth2 {
            if o.client_id.is_empty() {
                return Err(FieldError::new(
                    format!("{at}.oauth2.client_id"),
                    "oauth2 client_id must be configured",
                ));
            }
            if o.token_url.is_empty() {
                return Err(FieldError::new(
                    format!("{at}.oauth2.token_url"),
                    "oauth2 token_url must be configured",
                ));
            }
            if set(&o.client_secret) && set(&o.client_secret_file) {
                return Err(FieldError::new(
                    format!("{at}.oauth2"),
                    "at most one of oauth2 client_secret & client_secret_file must be configured",
                ));
            }
            if let Some(t) = &o.tls_config {
                t.validate(&format!("{at}.oauth2.tls_config"))?;
            }
        }
        if let Some(t) = &self.tls_config {
            t.validate(&format!("{at}.tls_config"))?;
        }
        if let Some(p) = &self.proxy_url {
            super::de::check_url(p)
                .map_err(|m| FieldError::new(format!("{at}.proxy_url"), format!("{p:?}: {m}")))?;
        }
        Ok(())
    }

    /// True when nothing is set (Prometheus's default client).
    pub fn is_default(&self) -> bool {
        *self == HttpClientConfig::default()
    }

    /// Makes the files it names absolute against `dir` (the config file's directory).
    pub fn resolve(&mut self, dir: &std::path::Path) {
        let files = [
            self.bearer_token_file.as_mut(),
            self.basic_auth
                .as_mut()
                .and_then(|b| b.password_file.as_mut()),
            self.authorization
                .as_mut()
                .and_then(|a| a.credentials_file.as_mut()),
            self.oauth2
                .as_mut()
                .and_then(|o| o.client_secret_file.as_mut()),
        ];
        for f in files.into_iter().flatten() {
            *f = super::resolve_path(dir, f);
        }
        if let Some(t) = &mut self.tls_config {
            t.resolve(dir);
        }
        if let Some(t) = self.oauth2.as_mut().and_then(|o| o.tls_config.as_mut()) {
            t.resolve(dir);
        }
    }

    /// The names of the fields set, for reporting what a consumer does not honour.
    pub fn fields_set(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (name, on) in [
            ("basic_auth", self.basic_auth.is_some()),
            ("authorization", self.authorization.is_some()),
            ("oauth2", self.oauth2.is_some()),
            ("bearer_token", self.bearer_token.is_some()),
            ("bearer_token_file", self.bearer_token_file.is_some()),
            ("tls_config", self.tls_config.is_some()),
            ("proxy_url", self.proxy_url.is_some()),
            ("follow_redirects", self.follow_redirects == Some(false)),
            ("enable_http2", self.enable_http2 == Some(false)),
        ] {
            if on {
                out.push(name);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(yaml: &str) -> HttpClientConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn one_way_to_authenticate() {
        let field = |yaml: &str| client(yaml).validate("x").unwrap_err().to_string();
        assert!(field("{bearer_token: a, basic_auth: {username: u}}").contains("at most one"));
        assert!(field("{authorization: {type: basic}}").starts_with("x.authorization.type:"));
        assert!(
            field("{authorization: {credentials: a}, basic_auth: {username: u}}")
                .contains("authorization must be configured")
        );
        assert!(field("{tls_config: {min_version: TLS99}}").contains("unknown TLS version"));
        assert!(field("{oauth2: {client_id: a}}").contains("token_url"));
        client("{authorization: {credentials: a}, tls_config: {min_version: TLS12}}")
            .validate("x")
            .unwrap();
        assert_eq!(
            client("{authorization: {type: ' '}}")
                .authorization
                .unwrap()
                .scheme(),
            "Bearer"
        );
    }

    #[test]
    fn relative_files_are_resolved() {
        let mut c = client("{tls_config: {ca_file: ca.pem, cert_file: /abs.pem, key_file: k}}");
        c.resolve(std::path::Path::new("/etc/prom"));
        let t = c.tls_config.unwrap();
        assert_eq!(t.ca_file.as_deref(), Some("/etc/prom/ca.pem"));
        assert_eq!(t.cert_file.as_deref(), Some("/abs.pem"));
    }
}
