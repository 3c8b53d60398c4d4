//! [`KubernetesSecrets`]: a [`SecretResolver`] that reads the named key of a Secret in
//! one namespace with a `get` (the operator grants exactly that, on exactly the Secrets
//! the receivers name), at notification time. A value is cached for a short while so a
//! burst of notifications makes one request, and a rotated Secret applies soon after.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret as KubeSecret;
use kube::{Api, Client};
use telltale_crds::SecretRef;

use crate::alerting::secrets::{Secret, SecretResolver, read_file};
use crate::error::{Error, Result};

/// How long a Secret read from the API is used before it is read again.
pub const DEFAULT_SECRET_TTL: Duration = Duration::from_secs(10);

/// The decoded keys of one Secret and when they were read.
type CachedSecret = (Instant, HashMap<String, Secret>);

/// Resolves `secretKeyRef` references from the Secrets of one namespace, and `file`
/// references from disk.
pub struct KubernetesSecrets {
    api: Api<KubeSecret>,
    namespace: String,
    ttl: Duration,
    /// Secret name -> (when it was read, its decoded `data`).
    cache: Mutex<HashMap<String, CachedSecret>>,
}

impl KubernetesSecrets {
    /// Reads Secrets of `namespace` through `client`, each cached for `ttl`.
    pub fn new(client: Client, namespace: &str, ttl: Duration) -> Self {
        KubernetesSecrets {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The decoded keys of Secret `name`, from the cache or the API.
    async fn keys(&self, name: &str, reference: &SecretRef) -> Result<HashMap<String, Secret>> {
        if let Some((at, keys)) = self.cache.lock().expect("secret cache lock").get(name)
            && at.elapsed() < self.ttl
        {
            return Ok(keys.clone());
        }
        let fail = |message: String| Error::Secret {
            reference: reference.to_string(),
            message,
        };
        let secret = self
            .api
            .get_opt(name)
            .await
            .map_err(|e| fail(format!("reading Secret {}/{name}: {e}", self.namespace)))?
            .ok_or_else(|| fail(format!("Secret {}/{name} not found", self.namespace)))?;
        let mut keys = HashMap::new();
        for (key, bytes) in secret.data.unwrap_or_default() {
            // A key that is not text cannot be a URL, token or password: left out, so a
            // reference to it fails as a missing key would (without showing the bytes).
            if let Ok(text) = String::from_utf8(bytes.0) {
                keys.insert(key, Secret::new(text.trim_end_matches(['\n', '\r'])));
            }
        }
        self.cache
            .lock()
            .expect("secret cache lock")
            .insert(name.to_string(), (Instant::now(), keys.clone()));
        Ok(keys)
    }
}

impl std::fmt::Debug for KubernetesSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubernetesSecrets")
            .field("namespace", &self.namespace)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl SecretResolver for KubernetesSecrets {
    /// In a cluster a MetricCluster's editor must not make the alertmanager send the
    /// pod's files: only its service-account token and CA may be named.
    fn allows_file(&self, path: &str) -> bool {
        telltale_crds::scrape_client::is_service_account_file(path)
    }

    async fn resolve(&self, reference: &SecretRef) -> Result<Secret> {
        match (&reference.secret_key_ref, &reference.file) {
            (Some(s), _) => {
                let keys = self.keys(&s.name, reference).await?;
                keys.get(&s.key).cloned().ok_or_else(|| Error::Secret {
                    reference: reference.to_string(),
                    message: format!(
                        "Secret {}/{} has no key {:?} (or it is not UTF-8 text)",
                        self.namespace, s.name, s.key
                    ),
                })
            }
            (None, Some(path)) if self.allows_file(path) => read_file(path),
            (None, Some(_)) => Err(Error::Secret {
                reference: reference.to_string(),
                message: crate::alerting::notify::FILES_REFUSED.into(),
            }),
            (None, None) => Err(Error::Secret {
                reference: reference.to_string(),
                message: "no source".into(),
            }),
        }
    }
}
