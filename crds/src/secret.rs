//! [`SecretRef`]: where a credential comes from — a key of a Kubernetes Secret, or a file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::FieldError;

/// A credential (password, token, webhook URL with a token in it) that is never written in
/// the resource itself. Exactly one of the two sources is set:
///
/// ```yaml
/// routingKey: {secretKeyRef: {name: pagerduty, key: routing-key}}   # Kubernetes
/// routingKey: {file: /etc/telltale/pagerduty-key}                   # standalone
/// ```
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    /// A key of a Secret in the resource's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeySelector>,
    /// A file holding the value (trailing newlines are ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// One key of one Secret.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeySelector {
    pub name: String,
    pub key: String,
}

impl SecretRef {
    /// A reference to key `key` of Secret `name`.
    pub fn secret(name: impl Into<String>, key: impl Into<String>) -> SecretRef {
        SecretRef {
            secret_key_ref: Some(SecretKeySelector {
                name: name.into(),
                key: key.into(),
            }),
            file: None,
        }
    }

    /// A reference to a file.
    pub fn file(path: impl Into<String>) -> SecretRef {
        SecretRef {
            secret_key_ref: None,
            file: Some(path.into()),
        }
    }

    /// Checks that exactly one source is set and that it names something.
    pub fn validate(&self, at: &str) -> Result<(), FieldError> {
        match (&self.secret_key_ref, &self.file) {
            (Some(s), None) => {
                if s.name.is_empty() {
                    return Err(FieldError::new(
                        format!("{at}.secretKeyRef.name"),
                        "must not be empty",
                    ));
                }
                if s.key.is_empty() {
                    return Err(FieldError::new(
                        format!("{at}.secretKeyRef.key"),
                        "must not be empty",
                    ));
                }
                Ok(())
            }
            (None, Some(f)) if f.is_empty() => {
                Err(FieldError::new(format!("{at}.file"), "must not be empty"))
            }
            (None, Some(_)) => Ok(()),
            _ => Err(FieldError::new(
                at,
                "set exactly one of secretKeyRef and file",
            )),
        }
    }
}

impl std::fmt::Display for SecretRef {
    /// Where the secret is, never its value: `secret pagerduty/routing-key`, `file /x`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.secret_key_ref, &self.file) {
            (Some(s), _) => write!(f, "secret {}/{}", s.name, s.key),
            (None, Some(path)) => write!(f, "file {path}"),
            (None, None) => f.write_str("(no source)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_source() {
        assert!(SecretRef::secret("pd", "key").validate("x").is_ok());
        assert!(SecretRef::file("/run/key").validate("x").is_ok());
        let both = SecretRef {
            file: Some("/a".into()),
            ..SecretRef::secret("pd", "key")
        };
        assert_eq!(both.validate("x").unwrap_err().field, "x");
        let none = SecretRef {
            secret_key_ref: None,
            file: None,
        };
        assert!(none.validate("x").is_err());
        assert_eq!(
            SecretRef::secret("", "k").validate("x").unwrap_err().field,
            "x.secretKeyRef.name"
        );
    }

    #[test]
    fn parses_both_forms() {
        let s: SecretRef = serde_yaml::from_str("{secretKeyRef: {name: pd, key: k}}").unwrap();
        assert_eq!(s, SecretRef::secret("pd", "k"));
        let f: SecretRef = serde_yaml::from_str("{file: /etc/key}").unwrap();
        assert_eq!(f.to_string(), "file /etc/key");
    }
}
