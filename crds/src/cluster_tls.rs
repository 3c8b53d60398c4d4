//! [`ClusterTls`]: how a MetricCluster's components authenticate each other
//! (`spec.tls.internal`): mutual TLS on storage's gRPC (samples and Raft) with
//! certificates of a per-cluster CA; and [`WebSpec`] (`spec.web`): Prometheus's web
//! configuration file for every component's HTTP server.

use std::time::Duration;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cluster_layout::cel_millis;
use crate::duration::PromDuration;
use crate::error::FieldError;

/// The shortest certificate lifetime accepted.
pub const MIN_CERTIFICATE_VALIDITY: Duration = Duration::from_secs(3600);
/// The shortest renewal window accepted: the operator's resync (30 s), the kubelet's
/// update of the mounted Secret (about a minute) and the components' re-read of the
/// files (seconds) must all fit in it before the old certificate expires.
pub const MIN_RENEW_BEFORE: Duration = Duration::from_secs(300);

/// `spec.tls`: TLS between the components of the cluster.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterTls {
    /// Mutual TLS on the storage replicas' gRPC (writes, reads, Raft), which the
    /// scraper, query and alertmanager call.
    #[serde(default)]
    pub internal: InternalTls,
}

/// Where the certificates of the components come from.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum InternalTlsMode {
    /// The operator creates a CA for the cluster (Secret `<cluster>-ca`, kept once made)
    /// and issues every component's certificate from it.
    #[default]
    Operator,
    /// The operator issues the certificates from the CA in the Secret `caSecretName`
    /// (`tls.crt` and `tls.key`, the key PKCS#8), which it reads and never writes: e.g.
    /// a cert-manager CA Certificate's Secret (`privateKey.encoding: PKCS8`).
    Secret,
    /// Plain gRPC: any pod that reaches a storage replica may write, read and call Raft.
    /// For development only.
    Disabled,
}

/// `spec.tls.internal`: the CA, and how long the components' certificates live. The
/// certificates are renewed `renewBefore` their expiry, in place: the pods read the
/// new files from their Secret volume, without a restart.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[x_kube(
    validation = Rule::new("self.mode != 'Secret' || has(self.caSecretName)").message("caSecretName is required with mode Secret"),
    validation = Rule::new(renew_rule()).message("renewBefore must be shorter than certificateValidity")
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InternalTls {
    /// `Operator` (default), `Secret` or `Disabled`.
    #[serde(default)]
    pub mode: InternalTlsMode,
    /// With mode `Secret`: the Secret, in the cluster's namespace, holding the CA's
    /// `tls.crt` and `tls.key` (PEM; the key PKCS#8). Replacing that CA reissues every
    /// certificate at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub ca_secret_name: Option<String>,
    /// How long a component's certificate is valid (default 2160h, 90 days; at least 1h).
    #[serde(default = "default_validity")]
    #[schemars(length(max = 32))]
    pub certificate_validity: PromDuration,
    /// How long before its expiry a certificate is renewed (default: a third of
    /// `certificateValidity`; at least 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub renew_before: Option<PromDuration>,
}

fn default_validity() -> PromDuration {
    PromDuration::from_secs(2160 * 3600)
}

/// The CEL rule keeping `renewBefore`, when set, below `certificateValidity`.
fn renew_rule() -> String {
    format!(
        "!has(self.renewBefore) || {} < {}",
        cel_millis("self.renewBefore"),
        cel_millis("self.certificateValidity")
    )
}

impl Default for InternalTls {
    fn default() -> Self {
        InternalTls {
            mode: InternalTlsMode::default(),
            ca_secret_name: None,
            certificate_validity: default_validity(),
            renew_before: None,
        }
    }
}

impl InternalTls {
    /// Whether the components talk mutual TLS.
    pub fn enabled(&self) -> bool {
        self.mode != InternalTlsMode::Disabled
    }

    /// How long a certificate is valid.
    pub fn validity(&self) -> Duration {
        self.certificate_validity.as_duration()
    }

    /// How long before its expiry a certificate is renewed.
    pub fn renew_before(&self) -> Duration {
        self.renew_before
            .map(|d| d.as_duration())
            .unwrap_or_else(|| self.validity() / 3)
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        const AT: &str = "spec.tls.internal";
        match (self.mode, &self.ca_secret_name) {
            (InternalTlsMode::Secret, None) => {
                return Err(FieldError::new(
                    format!("{AT}.caSecretName"),
                    "is required with mode Secret",
                ));
            }
            (InternalTlsMode::Secret, Some(name)) if name.is_empty() => {
                return Err(FieldError::new(
                    format!("{AT}.caSecretName"),
                    "must not be empty",
                ));
            }
            (InternalTlsMode::Operator | InternalTlsMode::Disabled, Some(_)) => {
                return Err(FieldError::new(
                    format!("{AT}.caSecretName"),
                    "is only read with mode Secret",
                ));
            }
            _ => {}
        }
        if self.validity() < MIN_CERTIFICATE_VALIDITY {
            return Err(FieldError::new(
                format!("{AT}.certificateValidity"),
                format!(
                    "{} is shorter than the minimum of 1h",
                    self.certificate_validity
                ),
            ));
        }
        if let Some(renew) = self.renew_before {
            if renew.as_duration() < MIN_RENEW_BEFORE {
                return Err(FieldError::new(
                    format!("{AT}.renewBefore"),
                    format!("{renew} is shorter than the minimum of 5m"),
                ));
            }
            if renew.as_duration() >= self.validity() {
                return Err(FieldError::new(
                    format!("{AT}.renewBefore"),
                    format!(
                        "{renew} is not shorter than certificateValidity {}",
                        self.certificate_validity
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(yaml: &str) -> String {
        serde_yaml::from_str::<InternalTls>(yaml)
            .unwrap()
            .validate()
            .unwrap_err()
            .field
    }

    #[test]
    fn defaults_to_an_operator_ca_and_ninety_days() {
        let t: InternalTls = serde_yaml::from_str("{}").unwrap();
        assert_eq!(t, InternalTls::default());
        assert_eq!(t.mode, InternalTlsMode::Operator);
        assert!(t.enabled());
        assert_eq!(t.validity(), Duration::from_secs(90 * 86_400));
        assert_eq!(t.renew_before(), Duration::from_secs(30 * 86_400));
        t.validate().unwrap();
        let t: InternalTls =
            serde_yaml::from_str("{mode: Secret, caSecretName: my-ca, certificateValidity: 2160h}")
                .unwrap();
        t.validate().unwrap();
        assert_eq!(t.validity(), Duration::from_secs(90 * 86_400));
        let t: InternalTls = serde_yaml::from_str("{mode: Disabled}").unwrap();
        assert!(!t.enabled());
    }

    #[test]
    fn fields_are_checked_and_named() {
        let at = |f: &str| format!("spec.tls.internal.{f}");
        assert_eq!(field("{mode: Secret}"), at("caSecretName"));
        assert_eq!(
            field("{mode: Secret, caSecretName: ''}"),
            at("caSecretName")
        );
        assert_eq!(field("{caSecretName: my-ca}"), at("caSecretName"));
        assert_eq!(
            field("{certificateValidity: 30m}"),
            at("certificateValidity")
        );
        assert_eq!(field("{renewBefore: 1m}"), at("renewBefore"));
        assert_eq!(
            field("{certificateValidity: 1h, renewBefore: 1h}"),
            at("renewBefore")
        );
        let short: InternalTls =
            serde_yaml::from_str("{certificateValidity: 1h, renewBefore: 59m59s}").unwrap();
        short.validate().unwrap();
        assert_eq!(short.renew_before(), Duration::from_secs(3599));
        assert!(serde_yaml::from_str::<InternalTls>("{mode: Vault}").is_err());
        assert!(serde_yaml::from_str::<InternalTls>("{certificateValidity: 90 days}").is_err());
    }

    #[test]
    fn the_cel_rule_compares_both_durations() {
        let rule = renew_rule();
        assert!(rule.starts_with("!has(self.renewBefore) || "), "{rule}");
        assert!(rule.contains("self.certificateValidity.findAll"), "{rule}");
    }
}

/// The web configuration file's key in its Secret when `key` is not given.
pub const DEFAULT_WEB_CONFIG_KEY: &str = "web.yml";

/// `spec.web`: the HTTP servers of every component (query API and UI, push receivers,
/// the Alertmanager API, `/metrics` and health) serve with Prometheus's web configuration
/// file (`--web.config.file`: TLS, client certificates, basic auth, headers).
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebSpec {
    /// The Secret (in the cluster's namespace) holding the file under `key` (default
    /// `web.yml`) and the certificates, keys and CAs it names, by paths relative to it
    /// (`cert_file: tls.crt`). It is mounted whole into every pod and re-read when it
    /// changes. A `ca.crt` key, if present, is the CA the query trusts when it calls the
    /// scrapers and the alertmanager over HTTPS (besides the system's).
    pub config_secret: WebConfigSecret,
}

/// A Secret and the key of the web configuration file in it.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebConfigSecret {
    pub name: String,
    /// The file's key (default `web.yml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl WebConfigSecret {
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(DEFAULT_WEB_CONFIG_KEY)
    }
}

impl WebSpec {
    pub fn validate(&self) -> Result<(), FieldError> {
        let secret = &self.config_secret;
        if secret.name.is_empty() {
            return Err(FieldError::new(
                "spec.web.configSecret.name",
                "must name a Secret",
            ));
        }
        let key = secret.key();
        let valid = !key.is_empty()
            && key.len() <= 253
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid {
            return Err(FieldError::new(
                "spec.web.configSecret.key",
                format!("{key:?} is not a Secret key (letters, digits, `-`, `_`, `.`)"),
            ));
        }
        Ok(())
    }
}
