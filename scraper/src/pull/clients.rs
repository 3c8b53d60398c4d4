//! [`ScrapeClients`]: the HTTP client of each target's `tlsConfig`, `authorization`,
//! `basicAuth`, `oauth2`, `proxyUrl`, `followRedirects` and `enableHttp2`, built with
//! `telltale_web::client` (the alertmanager's receivers use the same code).
//!
//! ```text
//!  Target.client (ScrapeClient) + namespace
//!    --resolve: files as files; Secret / ConfigMap keys read through the API (cluster)-->
//!  ClientSettings --cached per (namespace, settings)--> HttpClient (one connection pool)
//! ```
//!
//! Where secrets come from ([`SecretsMode`]):
//! - **files** (standalone, `telltale scraper -f`): every `*File` field is read as a file
//!   (credentials at every scrape, certificates when they change); a Secret reference
//!   fails the scrape with the field named, since there is no API to read it from.
//! - **kubernetes** (`--kubernetes-discovery`): Secret and ConfigMap keys are read from
//!   the resource's namespace (re-read every [`REFRESH`]: a rotated Secret applies then,
//!   a changed value rebuilds the client). Files are refused, so that whoever may edit a
//!   ScrapeTarget or a ServiceMonitor cannot make the scraper send its own files, except
//!   the pod's service-account token and CA under
//!   [`SERVICE_ACCOUNT_DIR`](telltale_crds::scrape_client::SERVICE_ACCOUNT_DIR) — what
//!   kubelet and cAdvisor scrapes authenticate with (prometheus-operator's
//!   `bearerTokenFile`).
//!
//! Credentials written inline in prometheus.yml (`ScrapeClient::inline`) apply where no
//! Secret or file gives the same setting.
//!
//! A client that cannot be made fails the scrape: `up` 0, the reason in `lastError`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use telltale_crds::scrape_client::{
    InlineCredentials, OAuth2, ScrapeClient, SecretOrConfigMap, TlsConfig, is_service_account_file,
};
use telltale_crds::secret::SecretKeySelector;
use telltale_web::client::{
    Auth, ClientOptions, ClientSettings, HttpClient, Material, OAuth2Settings, TlsSettings,
    TlsVersion,
};

use crate::error::{Error, Result};

/// How often Secrets and ConfigMaps are read again.
pub const REFRESH: Duration = Duration::from_secs(30);

/// Clients unused this long are dropped.
const IDLE: Duration = Duration::from_secs(600);

/// Where Secret references and files are read.
#[derive(Clone)]
pub enum SecretsMode {
    /// Files only (standalone).
    Files,
    /// Secrets and ConfigMaps through the API; only the service-account files.
    Kubernetes(kube::Client),
}

/// The clients of every target settings seen, shared by the scrape loops.
pub struct ScrapeClients {
    options: ClientOptions,
    /// Where secrets come from, and how often Secrets are read again.
    mode: RwLock<(SecretsMode, Duration)>,
    default: Arc<HttpClient>,
    entries: Mutex<HashMap<Key, Entry>>,
}

type Key = (Option<String>, ScrapeClient);

struct Entry {
    settings: ClientSettings,
    client: Arc<HttpClient>,
    resolved: Instant,
    used: Instant,
}

impl ScrapeClients {
    /// Clients with `options` (user agent, pool), reading secrets from files.
    pub fn new(options: ClientOptions) -> ScrapeClients {
        ScrapeClients {
            default: Arc::new(HttpClient::new(ClientSettings::default(), options.clone())),
            options,
            mode: RwLock::new((SecretsMode::Files, REFRESH)),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Where secrets come from from now on, Secrets read again every `refresh`
    /// ([`REFRESH`] in the binary).
    pub fn set_mode(&self, mode: SecretsMode, refresh: Duration) {
        *self.mode.write().unwrap_or_else(|p| p.into_inner()) = (mode, refresh);
        self.lock().clear();
    }

    /// The client without TLS or auth settings (HTTP discovery uses it too).
    pub fn default_client(&self) -> &Arc<HttpClient> {
        &self.default
    }

    /// The client of `client` for a target of `namespace`: cached, its Secrets read again
    /// every refresh, a new client (and connection pool) when what they hold changed.
    pub async fn get(
        &self,
        namespace: Option<&str>,
        client: &ScrapeClient,
    ) -> Result<Arc<HttpClient>> {
        if client.is_default() {
            return Ok(self.default.clone());
        }
        let key: Key = (namespace.map(str::to_string), client.clone());
        let (mode, refresh) = self.mode.read().unwrap_or_else(|p| p.into_inner()).clone();
        {
            let mut entries = self.lock();
            if let Some(e) = entries.get_mut(&key) {
                e.used = Instant::now();
                if e.resolved.elapsed() < refresh {
                    return Ok(e.client.clone());
                }
                // This scrape reads the Secrets again; the other targets of these settings
                // go on with the client meanwhile (one read per refresh, not one each).
                e.resolved = Instant::now();
            }
        }
        let settings = match resolve(client, namespace, &mode).await {
            Ok(s) => s,
            Err(e) => {
                // A Secret that could not be read again (the API unreachable, the Secret
                // gone): the client made from what was read before goes on, as a
                // Prometheus keeps its last configuration; tried again next refresh.
                let mut entries = self.lock();
                return match entries.get_mut(&key) {
                    Some(entry) => {
                        tracing::warn!(namespace, error = %e, "cannot read a target's Secrets again; the last values are used");
                        entry.resolved = Instant::now();
                        entry.used = Instant::now();
                        Ok(entry.client.clone())
                    }
                    None => Err(e),
                };
            }
        };
        let now = Instant::now();
        let mut entries = self.lock();
        entries.retain(|_, e| now.duration_since(e.used) < IDLE);
        let entry = entries.entry(key).or_insert_with(|| Entry {
            client: Arc::new(HttpClient::new(settings.clone(), self.options.clone())),
            settings: settings.clone(),
            resolved: now,
            used: now,
        });
        if entry.settings != settings {
            tracing::info!(
                namespace,
                "scrape client settings changed (a Secret was updated): new client"
            );
            entry.client = Arc::new(HttpClient::new(settings.clone(), self.options.clone()));
            entry.settings = settings;
        }
        entry.resolved = now;
        entry.used = now;
        Ok(entry.client.clone())
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a Secret or ConfigMap reference is read as.
enum Object<'a> {
    Secret(&'a SecretKeySelector),
    ConfigMap(&'a SecretKeySelector),
}

fn client_error(message: String) -> Error {
    Error::ScrapeClient { message }
}

/// One file field: allowed in files mode, and in a cluster for the service-account files.
fn file(field: &str, path: &str, mode: &SecretsMode) -> Result<Material> {
    if matches!(mode, SecretsMode::Kubernetes(_)) && !is_service_account_file(path) {
        return Err(client_error(format!(
            "spec.{field}: {path}: files are refused in a cluster (only the pod's service-account files under {}); use a Secret",
            telltale_crds::scrape_client::SERVICE_ACCOUNT_DIR
        )));
    }
    Ok(Material::file(format!("spec.{field}"), path))
}

/// One Secret or ConfigMap key, read now.
async fn object(
    field: &str,
    what: Object<'_>,
    namespace: Option<&str>,
    mode: &SecretsMode,
    file_field: &str,
) -> Result<Material> {
    let field = format!("spec.{field}");
    let SecretsMode::Kubernetes(client) = mode else {
        return Err(client_error(format!(
            "{field}: Secret and ConfigMap references need the Kubernetes API (the scraper's --kubernetes-discovery); without it use {file_field}"
        )));
    };
    let ns = namespace.unwrap_or("default");
    let (kind, sel, data) = match what {
        Object::Secret(sel) => {
            let data = Api::<Secret>::namespaced(client.clone(), ns)
                .get(&sel.name)
                .await
                .map(|s| {
                    s.data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.0))
                        .collect::<BTreeMap<_, _>>()
                });
            ("secret", sel, data)
        }
        Object::ConfigMap(sel) => {
            let data = Api::<ConfigMap>::namespaced(client.clone(), ns)
                .get(&sel.name)
                .await
                .map(|c| {
                    let mut all: BTreeMap<String, Vec<u8>> = c
                        .binary_data
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| (k, v.0))
                        .collect();
                    all.extend(
                        c.data
                            .unwrap_or_default()
                            .into_iter()
                            .map(|(k, v)| (k, v.into_bytes())),
                    );
                    all
                });
            ("configmap", sel, data)
        }
    };
    let data = data.map_err(|e| client_error(format!("{field}: {kind} {ns}/{}: {e}", sel.name)))?;
    let value = data.get(&sel.key).ok_or_else(|| {
        client_error(format!(
            "{field}: {kind} {ns}/{} has no key {:?}",
            sel.name, sel.key
        ))
    })?;
    Ok(Material::value(field, value.clone()))
}

async fn secret_or_config_map(
    field: &str,
    o: &SecretOrConfigMap,
    namespace: Option<&str>,
    mode: &SecretsMode,
    file_field: &str,
) -> Result<Option<Material>> {
    match (&o.secret, &o.config_map) {
        (Some(s), _) => Ok(Some(
            object(
                &format!("{field}.secret"),
                Object::Secret(s),
                namespace,
                mode,
                file_field,
            )
            .await?,
        )),
        (None, Some(c)) => Ok(Some(
            object(
                &format!("{field}.configMap"),
                Object::ConfigMap(c),
                namespace,
                mode,
                file_field,
            )
            .await?,
        )),
        (None, None) => Ok(None),
    }
}

/// The settings of `c`: every file checked against the mode, every Secret read.
pub async fn resolve(
    c: &ScrapeClient,
    namespace: Option<&str>,
    mode: &SecretsMode,
) -> Result<ClientSettings> {
    let tls = match &c.tls_config {
        Some(t) => resolve_tls(t, "tlsConfig", namespace, mode).await?,
        None => TlsSettings::default(),
    };
    let auth = if let Some(a) = &c.authorization {
        let credentials = match (&a.credentials, &a.credentials_file) {
            (Some(s), _) => Some(
                object(
                    "authorization.credentials",
                    Object::Secret(s),
                    namespace,
                    mode,
                    "authorization.credentialsFile",
                )
                .await?,
            ),
            (None, Some(f)) if !f.is_empty() => {
                Some(file("authorization.credentialsFile", f, mode)?)
            }
            _ => c
                .inline
                .credentials
                .as_ref()
                .map(|v| Material::value("authorization.credentials", v.as_bytes().to_vec())),
        };
        Some(Auth::Header {
            scheme: a.scheme().to_string(),
            credentials,
        })
    } else if let Some(b) = &c.basic_auth {
        let username = match (&b.username, &b.username_file) {
            (Some(s), _) => {
                object(
                    "basicAuth.username",
                    Object::Secret(s),
                    namespace,
                    mode,
                    "basicAuth.usernameFile",
                )
                .await?
            }
            (None, Some(f)) => file("basicAuth.usernameFile", f, mode)?,
            (None, None) => Material::value(
                "basic_auth.username",
                c.inline.username.clone().unwrap_or_default(),
            ),
        };
        let password = match (&b.password, &b.password_file) {
            (Some(s), _) => Some(
                object(
                    "basicAuth.password",
                    Object::Secret(s),
                    namespace,
                    mode,
                    "basicAuth.passwordFile",
                )
                .await?,
            ),
            (None, Some(f)) => Some(file("basicAuth.passwordFile", f, mode)?),
            (None, None) => c
                .inline
                .password
                .as_ref()
                .map(|p| Material::value("basic_auth.password", p.as_bytes().to_vec())),
        };
        Some(Auth::Basic { username, password })
    } else if let Some(o) = &c.oauth2 {
        Some(Auth::OAuth2(Box::new(
            resolve_oauth2(o, &c.inline, namespace, mode).await?,
        )))
    } else {
        None
    };
    Ok(ClientSettings {
        tls,
        auth,
        proxy_url: c.proxy_url.clone().filter(|p| !p.is_empty()),
        follow_redirects: c.follow_redirects.unwrap_or(true),
        enable_http2: c.enable_http2.unwrap_or(true),
    })
}

/// The TLS settings of `t`, written at `at` (`tlsConfig`, `oauth2.tlsConfig`).
async fn resolve_tls(
    t: &TlsConfig,
    at: &str,
    namespace: Option<&str>,
    mode: &SecretsMode,
) -> Result<TlsSettings> {
    let ca_file = format!("{at}.caFile");
    let cert_file = format!("{at}.certFile");
    let key_file = format!("{at}.keyFile");
    Ok(TlsSettings {
        ca: match (&t.ca, &t.ca_file) {
            (Some(o), _) => {
                secret_or_config_map(&format!("{at}.ca"), o, namespace, mode, &ca_file).await?
            }
            (None, Some(f)) => Some(file(&ca_file, f, mode)?),
            (None, None) => None,
        },
        cert: match (&t.cert, &t.cert_file) {
            (Some(o), _) => {
                secret_or_config_map(&format!("{at}.cert"), o, namespace, mode, &cert_file).await?
            }
            (None, Some(f)) => Some(file(&cert_file, f, mode)?),
            (None, None) => None,
        },
        key: match (&t.key_secret, &t.key_file) {
            (Some(s), _) => Some(
                object(
                    &format!("{at}.keySecret"),
                    Object::Secret(s),
                    namespace,
                    mode,
                    &key_file,
                )
                .await?,
            ),
            (None, Some(f)) => Some(file(&key_file, f, mode)?),
            (None, None) => None,
        },
        server_name: t.server_name.clone().filter(|s| !s.is_empty()),
        insecure_skip_verify: t.insecure_skip_verify,
        min_version: t.min_version.as_deref().and_then(TlsVersion::parse),
    })
}

/// The OAuth 2.0 settings of `o`: client id and secret from Secrets, ConfigMaps, a file
/// or prometheus.yml itself.
async fn resolve_oauth2(
    o: &OAuth2,
    inline: &InlineCredentials,
    namespace: Option<&str>,
    mode: &SecretsMode,
) -> Result<OAuth2Settings> {
    let client_id = match (&o.client_id, &o.client_id_file) {
        (Some(id), _) => {
            secret_or_config_map(
                "oauth2.clientId",
                id,
                namespace,
                mode,
                "oauth2.clientIdFile",
            )
            .await?
        }
        (None, Some(f)) if !f.is_empty() => Some(file("oauth2.clientIdFile", f, mode)?),
        _ => None,
    }
    .unwrap_or_else(|| {
        Material::value(
            "oauth2.client_id",
            inline.client_id.clone().unwrap_or_default(),
        )
    });
    let client_secret = match (&o.client_secret, &o.client_secret_file) {
        (Some(s), _) => Some(
            object(
                "oauth2.clientSecret",
                Object::Secret(s),
                namespace,
                mode,
                "oauth2.clientSecretFile",
            )
            .await?,
        ),
        (None, Some(f)) if !f.is_empty() => Some(file("oauth2.clientSecretFile", f, mode)?),
        _ => inline
            .client_secret
            .as_ref()
            .map(|v| Material::value("oauth2.client_secret", v.as_bytes().to_vec())),
    };
    Ok(OAuth2Settings {
        client_id,
        client_secret,
        token_url: o.token_url.clone(),
        scopes: o.scopes.clone(),
        endpoint_params: o.endpoint_params.clone(),
        tls: match &o.tls_config {
            Some(t) => resolve_tls(t, "oauth2.tlsConfig", namespace, mode).await?,
            None => TlsSettings::default(),
        },
        proxy_url: o.proxy_url.clone().filter(|p| !p.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(yaml: &str) -> ScrapeClient {
        let spec: telltale_crds::ScrapeTargetSpec = serde_yaml::from_str(yaml).unwrap();
        spec.client()
    }

    #[tokio::test]
    async fn files_are_files_in_standalone_and_secrets_are_refused_there() {
        let c = client(
            "{tlsConfig: {caFile: /etc/ca.pem, serverName: x, minVersion: TLS13}, authorization: {type: Token, credentialsFile: /etc/token}}",
        );
        let s = resolve(&c, None, &SecretsMode::Files).await.unwrap();
        assert_eq!(
            s.tls.ca.as_ref().unwrap().path().unwrap().to_str(),
            Some("/etc/ca.pem")
        );
        assert_eq!(s.tls.ca.as_ref().unwrap().field, "spec.tlsConfig.caFile");
        assert_eq!(s.tls.min_version, Some(TlsVersion::Tls13));
        let Some(Auth::Header {
            scheme,
            credentials,
        }) = &s.auth
        else {
            panic!("{:?}", s.auth)
        };
        assert_eq!(scheme, "Token");
        assert_eq!(
            credentials.as_ref().unwrap().field,
            "spec.authorization.credentialsFile"
        );

        let c = client("{authorization: {credentials: {name: tok, key: t}}}");
        let e = resolve(&c, Some("shop"), &SecretsMode::Files)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "spec.authorization.credentials: Secret and ConfigMap references need the Kubernetes API (the scraper's --kubernetes-discovery); without it use authorization.credentialsFile"
        );
    }

    #[tokio::test]
    async fn in_a_cluster_only_service_account_files_are_read() {
        // The mode's client is never used for files.
        let e = file(
            "tlsConfig.caFile",
            "/etc/passwd",
            &SecretsMode::Kubernetes(unreachable_client()),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("spec.tlsConfig.caFile: /etc/passwd: files are refused in a cluster"),
            "{e}"
        );
        let ok = file(
            "authorization.credentialsFile",
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
            &SecretsMode::Kubernetes(unreachable_client()),
        )
        .unwrap();
        assert!(ok.path().is_some());
    }

    /// A client of an API server nobody listens on.
    fn unreachable_client() -> kube::Client {
        let config = kube::Config::new("http://127.0.0.1:1".parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    #[tokio::test]
    async fn clients_are_shared_per_settings_and_namespace() {
        let clients = ScrapeClients::new(ClientOptions::new("t"));
        let none = ScrapeClient::default();
        assert!(Arc::ptr_eq(
            &clients.get(None, &none).await.unwrap(),
            clients.default_client()
        ));
        let c = client("{authorization: {credentialsFile: /t}}");
        let a = clients.get(Some("a"), &c).await.unwrap();
        assert!(Arc::ptr_eq(&a, &clients.get(Some("a"), &c).await.unwrap()));
        assert!(!Arc::ptr_eq(&a, &clients.get(Some("b"), &c).await.unwrap()));
    }
}
