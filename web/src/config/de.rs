//! How the file is deserialized: every field optional (`null` takes the default), names
//! of Go values, scalars taken as strings as Go's yaml.v2 does, and serde's errors turned
//! into field paths.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use super::{
    CipherSuite, ClientAuthType, Curve, GO_CIPHER_SUITES, HttpServerConfig, TlsServerConfig,
    TlsVersion, WebConfig,
};

/// Turns serde_path_to_error's path and message into a field path and a message,
/// naming the field itself for unknown and missing fields (serde reports those at the
/// enclosing section).
pub(super) fn field_of(path: &str, message: &str) -> (String, String) {
    let mut message = message
        .replace("struct RawTls", "the tls_server_config mapping")
        .replace("struct RawHttp", "the http_server_config mapping")
        .replace("struct Raw", "a mapping");
    // serde_path_to_error's path already ends with an unknown field's name.
    if let Some((_, after)) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split_once('`'))
    {
        message = format!("unknown field{after}");
    }
    match path {
        "." | "" => ("(document)".to_string(), message),
        p => (p.to_string(), message),
    }
}

/// The file as serde reads it: every field optional (`null` takes the default).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    #[serde(default)]
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    http_server_config: Option<RawHttp>,
    #[serde(default, deserialize_with = "scalar_map")]
    basic_auth_users: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    #[serde(default, deserialize_with = "scalar")]
    cert_file: Option<String>,
    #[serde(default, deserialize_with = "scalar")]
    key_file: Option<String>,
    #[serde(default)]
    client_auth_type: Option<ClientAuthType>,
    #[serde(default, deserialize_with = "scalar")]
    client_ca_file: Option<String>,
    #[serde(default)]
    client_allowed_sans: Option<Vec<String>>,
    #[serde(default)]
    min_version: Option<TlsVersion>,
    #[serde(default)]
    max_version: Option<TlsVersion>,
    #[serde(default)]
    cipher_suites: Option<Vec<CipherSuite>>,
    #[serde(default)]
    curve_preferences: Option<Vec<Curve>>,
    #[serde(default)]
    prefer_server_cipher_suites: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default, deserialize_with = "scalar_map")]
    headers: BTreeMap<String, String>,
}

impl Raw {
    pub(super) fn resolve(self) -> WebConfig {
        let t = self.tls_server_config.unwrap_or_default();
        let h = self.http_server_config.unwrap_or_default();
        WebConfig {
            tls_server_config: TlsServerConfig {
                cert_file: t.cert_file.unwrap_or_default(),
                key_file: t.key_file.unwrap_or_default(),
                client_auth_type_set: t.client_auth_type.is_some(),
                client_auth_type: t.client_auth_type.unwrap_or_default(),
                client_ca_file: t.client_ca_file.unwrap_or_default(),
                client_allowed_sans: t.client_allowed_sans,
                min_version: t.min_version.unwrap_or(TlsVersion::Tls12),
                max_version: t.max_version.unwrap_or(TlsVersion::Tls13),
                cipher_suites: t.cipher_suites.unwrap_or_default(),
                curve_preferences: t.curve_preferences.unwrap_or_default(),
                prefer_server_cipher_suites: t.prefer_server_cipher_suites.unwrap_or(true),
            },
            http_server_config: HttpServerConfig {
                http2: h.http2.unwrap_or(true),
                headers: h.headers,
            },
            basic_auth_users: self.basic_auth_users,
        }
    }
}

/// A value known by name: the enums above and [`CipherSuite`].
trait Named: Sized + Copy {
    const WHAT: &'static str;
    fn names() -> Vec<(&'static str, Self)>;
}

impl Named for ClientAuthType {
    const WHAT: &'static str = "client auth type";
    fn names() -> Vec<(&'static str, Self)> {
        Self::NAMES.to_vec()
    }
}

impl Named for TlsVersion {
    const WHAT: &'static str = "TLS version";
    fn names() -> Vec<(&'static str, Self)> {
        Self::NAMES.to_vec()
    }
}

impl Named for Curve {
    const WHAT: &'static str = "curve";
    fn names() -> Vec<(&'static str, Self)> {
        Self::NAMES.to_vec()
    }
}

impl Named for CipherSuite {
    const WHAT: &'static str = "cipher";
    fn names() -> Vec<(&'static str, Self)> {
        GO_CIPHER_SUITES
            .iter()
            .map(|(n, _)| (*n, CipherSuite(n)))
            .collect()
    }
}

fn by_name<T: Named, E: serde::de::Error>(s: &str) -> Result<T, E> {
    let names = T::names();
    match names.iter().find(|(n, _)| *n == s) {
        Some((_, v)) => Ok(*v),
        None => {
            let all: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
            Err(E::custom(format!(
                "unknown {} {s:?}, expected one of {}",
                T::WHAT,
                all.join(", ")
            )))
        }
    }
}

macro_rules! deserialize_by_name {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let v = serde_yaml::Value::deserialize(d)?;
                let s = scalar_text(v).map_err(serde::de::Error::custom)?.unwrap_or_default();
                by_name(&s)
            }
        }
    )*};
}

deserialize_by_name!(ClientAuthType, TlsVersion, Curve, CipherSuite);

/// A string where Go's yaml.v2 takes any scalar into a string field; `null` is absent.
fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_yaml::Value::deserialize(d)?;
    scalar_text(v).map_err(serde::de::Error::custom)
}

/// A map of scalars (users, headers); `null` values are empty strings, as in Go.
fn scalar_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let map: Option<serde_yaml::Mapping> = Option::deserialize(d)?;
    let mut out = BTreeMap::new();
    for (k, v) in map.unwrap_or_default() {
        let key = scalar_text(k).map_err(serde::de::Error::custom)?;
        let value = scalar_text(v).map_err(serde::de::Error::custom)?;
        out.insert(key.unwrap_or_default(), value.unwrap_or_default());
    }
    Ok(out)
}

fn scalar_text(v: serde_yaml::Value) -> Result<Option<String>, String> {
    use serde_yaml::Value;
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Tagged(t) => scalar_text(t.value),
        Value::Sequence(_) | Value::Mapping(_) => Err("expected a string".into()),
    }
}
