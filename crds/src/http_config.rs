//! [`HttpConfig`]: Alertmanager's `http_config` of an integration (webhook, Slack,
//! PagerDuty, SMS, voice) and of `global`, with Alertmanager's keys:
//!
//! ```yaml
//! httpConfig:                       # or http_config
//!   authorization: {type: Bearer, credentials_file: /var/run/secrets/token}
//!   basic_auth: {username: am, password_file: /etc/am/password}
//!   tls_config: {ca_file: /etc/am/ca.pem, cert_file: ..., key_file: ..., server_name: hooks.internal}
//!   proxy_url: http://proxy:3128
//!   follow_redirects: true
//! ```
//!
//! Checked as Alertmanager checks it (`common/config.HTTPClientConfig.Validate`);
//! `oauth2` is not supported (refused as an unknown field).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::prometheus::http_client::{Authorization, BasicAuth, HttpClientConfig, TlsConfig};

/// An integration's HTTP client settings; unset, `global.http_config` applies (as a
/// whole, as in Alertmanager).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization: <type> <credentials>`, `Bearer` unless `type` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// Deprecated by Alertmanager for `authorization`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_file: Option<String>,
    /// CA (besides the system roots), client certificate, `server_name`,
    /// `insecure_skip_verify`, `min_version`.
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

impl HttpConfig {
    /// The same settings as Prometheus's common client section.
    pub fn to_prometheus(&self) -> HttpClientConfig {
        HttpClientConfig {
            basic_auth: self.basic_auth.clone(),
            authorization: self.authorization.clone(),
            oauth2: None,
            bearer_token: self.bearer_token.clone(),
            bearer_token_file: self.bearer_token_file.clone(),
            tls_config: self.tls_config.clone(),
            proxy_url: self.proxy_url.clone(),
            follow_redirects: self.follow_redirects,
            enable_http2: self.enable_http2,
        }
    }

    /// Alertmanager's checks; `at` is the path of the section.
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        self.to_prometheus().validate(at)
    }

    /// Whether it authenticates requests (basic auth, authorization, bearer token).
    pub fn authenticates(&self) -> bool {
        self.basic_auth.is_some()
            || self.authorization.is_some()
            || self.bearer_token.is_some()
            || self.bearer_token_file.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alertmanager_keys_and_checks() {
        let c: HttpConfig = serde_yaml::from_str(
            "{authorization: {credentials_file: /t}, tls_config: {ca_file: /ca, insecure_skip_verify: true}, proxy_url: 'http://p:1'}",
        )
        .unwrap();
        c.validate("x.httpConfig").unwrap();
        assert!(c.authenticates());
        let both: HttpConfig =
            serde_yaml::from_str("{bearer_token: a, basic_auth: {username: u}}").unwrap();
        assert_eq!(
            both.validate("x.httpConfig").unwrap_err().to_string(),
            "x.httpConfig: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
        );
        assert!(
            serde_yaml::from_str::<HttpConfig>("{oauth2: {client_id: a}}")
                .unwrap_err()
                .to_string()
                .contains("unknown field `oauth2`")
        );
    }
}
