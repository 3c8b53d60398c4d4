//! [`SecretResolver`]: turns a [`SecretRef`] into its value. [`FileSecrets`] reads files
//! (standalone); [`StaticSecrets`] holds values the binary or the operator loaded from
//! Kubernetes Secrets. Values are [`Secret`]s, whose `Debug` never shows them.

use std::collections::BTreeMap;
use std::fmt;

use telltale_crds::SecretRef;

use crate::error::{Error, Result};

/// A credential. `Debug` prints `Secret(<redacted>)`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where secret values come from.
#[async_trait::async_trait]
pub trait SecretResolver: Send + Sync {
    /// The value of `reference`, read at every notification so rotated secrets apply.
    async fn resolve(&self, reference: &SecretRef) -> Result<Secret>;

    /// Whether a file a receiver names (`file:`, `httpConfig`'s `*_file`) may be read:
    /// yes unless the resolver says otherwise (in a cluster, only the pod's
    /// service-account files).
    fn allows_file(&self, path: &str) -> bool {
        let _ = path;
        true
    }
}

/// Reads `file` references (trailing newlines dropped); `secretKeyRef` ones fail.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileSecrets;

pub(crate) fn read_file(path: &str) -> Result<Secret> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Secret {
        reference: format!("file {path}"),
        message: e.to_string(),
    })?;
    Ok(Secret(text.trim_end_matches(['\n', '\r']).to_string()))
}

#[async_trait::async_trait]
impl SecretResolver for FileSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<Secret> {
        match (&reference.file, &reference.secret_key_ref) {
            (Some(path), _) => read_file(path),
            (None, _) => Err(Error::Secret {
                reference: reference.to_string(),
                message: "Kubernetes secrets are not available here (use `file:`)".into(),
            }),
        }
    }
}

/// Values of Kubernetes Secret keys by (secret name, key), filled by whoever can read
/// them; `file` references are read from disk.
#[derive(Clone, Debug, Default)]
pub struct StaticSecrets {
    values: BTreeMap<(String, String), Secret>,
}

impl StaticSecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value of `key` of Secret `name`.
    pub fn insert(&mut self, name: &str, key: &str, value: Secret) {
        self.values
            .insert((name.to_string(), key.to_string()), value);
    }
}

#[async_trait::async_trait]
impl SecretResolver for StaticSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<Secret> {
        match (&reference.secret_key_ref, &reference.file) {
            (Some(s), _) => self
                .values
                .get(&(s.name.clone(), s.key.clone()))
                .cloned()
                .ok_or_else(|| Error::Secret {
                    reference: reference.to_string(),
                    message: "no such secret key".into(),
                }),
            (None, Some(path)) => read_file(path),
            (None, None) => Err(Error::Secret {
                reference: reference.to_string(),
                message: "no source".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(<redacted>))");
    }

    #[tokio::test]
    async fn files_and_static_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "abc\n").unwrap();
        let file = SecretRef::file(path.to_str().unwrap());
        assert_eq!(FileSecrets.resolve(&file).await.unwrap().expose(), "abc");
        let k8s = SecretRef::secret("pd", "key");
        let err = FileSecrets.resolve(&k8s).await.unwrap_err();
        assert_eq!(err.metric_label(), "secret");
        assert!(err.to_string().contains("secret pd/key"), "{err}");
        let mut map = StaticSecrets::new();
        map.insert("pd", "key", Secret::new("xyz"));
        assert_eq!(map.resolve(&k8s).await.unwrap().expose(), "xyz");
        assert_eq!(map.resolve(&file).await.unwrap().expose(), "abc");
        let missing = FileSecrets
            .resolve(&SecretRef::file("/nonexistent/x"))
            .await
            .unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("cannot read file /nonexistent/x")
        );
    }
}
