//! [`ClientSettings`]: an outgoing HTTP client's configuration with every secret already
//! located — a value, or a file to read — whatever form it was written in (prometheus.yml,
//! Alertmanager's `http_config`, a ScrapeTarget with Kubernetes Secrets resolved).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where a certificate, key or credential comes from. `field` is the setting as the user
/// wrote it (`spec.tlsConfig.caFile`, `http_config.tls_config.ca_file`), for errors.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Material {
    pub field: String,
    pub source: Source,
}

/// A value given directly (read from a Secret, written inline), or a file read when it is
/// used (credentials: every request; certificates: when they change).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Source {
    Value(Vec<u8>),
    File(PathBuf),
}

impl Material {
    pub fn value(field: impl Into<String>, value: impl Into<Vec<u8>>) -> Material {
        Material {
            field: field.into(),
            source: Source::Value(value.into()),
        }
    }

    pub fn file(field: impl Into<String>, path: impl Into<PathBuf>) -> Material {
        Material {
            field: field.into(),
            source: Source::File(path.into()),
        }
    }

    /// The bytes: the value, or the file's content now.
    pub fn read(&self) -> Result<Vec<u8>> {
        match &self.source {
            Source::Value(v) => Ok(v.clone()),
            Source::File(p) => std::fs::read(p).map_err(|e| self.error(p, e)),
        }
    }

    /// The bytes as a credential: UTF-8, surrounding whitespace trimmed (as Prometheus
    /// trims credentials files).
    pub fn read_secret(&self) -> Result<String> {
        let bytes = self.read()?;
        let text = String::from_utf8(bytes).map_err(|_| Error::Client {
            field: self.field.clone(),
            message: format!("{} is not UTF-8", self.origin()),
        })?;
        Ok(text.trim().to_string())
    }

    /// The file it is read from, if any.
    pub fn path(&self) -> Option<&Path> {
        match &self.source {
            Source::File(p) => Some(p),
            Source::Value(_) => None,
        }
    }

    /// `file /x` or `value`, never the value itself.
    pub fn origin(&self) -> String {
        match &self.source {
            Source::File(p) => format!("file {}", p.display()),
            Source::Value(_) => "the value".to_string(),
        }
    }

    fn error(&self, path: &Path, e: std::io::Error) -> Error {
        Error::Client {
            field: self.field.clone(),
            message: format!("cannot read {}: {e}", path.display()),
        }
    }
}

impl fmt::Debug for Material {
    /// The field and the file, never a value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::File(p) => write!(f, "{}=file {}", self.field, p.display()),
            Source::Value(_) => write!(f, "{}=<redacted>", self.field),
        }
    }
}

/// The lowest TLS version accepted. rustls speaks TLS 1.2 and 1.3 only, so `TLS10` and
/// `TLS11` allow what `TLS12` allows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls10,
    Tls11,
    #[default]
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// `TLS10` ... `TLS13`, as Prometheus writes them.
    pub fn parse(s: &str) -> Option<TlsVersion> {
        Some(match s {
            "TLS10" => TlsVersion::Tls10,
            "TLS11" => TlsVersion::Tls11,
            "TLS12" => TlsVersion::Tls12,
            "TLS13" => TlsVersion::Tls13,
            _ => return None,
        })
    }
}

/// The TLS side: trusted CAs on top of the system's, the client certificate, the name the
/// server's certificate must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TlsSettings {
    /// PEM CA certificates trusted in addition to the system roots.
    pub ca: Option<Material>,
    /// PEM client certificate (chain) and its key; both or neither.
    pub cert: Option<Material>,
    pub key: Option<Material>,
    /// The name the server's certificate is verified against instead of the URL's host.
    pub server_name: Option<String>,
    /// Accept any server certificate.
    pub insecure_skip_verify: bool,
    pub min_version: Option<TlsVersion>,
}

/// How requests authenticate.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Auth {
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        username: Material,
        password: Option<Material>,
    },
    /// `Authorization: <scheme> <credentials>` (`Bearer` unless configured).
    Header {
        scheme: String,
        credentials: Option<Material>,
    },
    /// `Authorization: Bearer <token>`, the token from an OAuth 2.0 client-credentials
    /// exchange.
    OAuth2(Box<super::oauth2::OAuth2Settings>),
}

/// An outgoing HTTP client's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientSettings {
    pub tls: TlsSettings,
    pub auth: Option<Auth>,
    /// `http://`, `https://` or `socks5://` proxy for every request; none: no proxy (not
    /// even from the environment, as Prometheus).
    pub proxy_url: Option<String>,
    pub follow_redirects: bool,
    pub enable_http2: bool,
}

impl Default for ClientSettings {
    /// Prometheus's default client: system roots, no auth, no proxy, redirects followed.
    fn default() -> Self {
        ClientSettings {
            tls: TlsSettings::default(),
            auth: None,
            proxy_url: None,
            follow_redirects: true,
            enable_http2: true,
        }
    }
}

impl ClientSettings {
    /// Whether the TLS settings name no file and no value (the default TLS client).
    pub fn default_tls(&self) -> bool {
        self.tls == TlsSettings::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_never_shown() {
        let m = Material::value("spec.authorization.credentials", "hunter2");
        assert_eq!(
            format!("{m:?}"),
            "spec.authorization.credentials=<redacted>"
        );
        assert_eq!(m.origin(), "the value");
        let auth = Auth::Header {
            scheme: "Bearer".into(),
            credentials: Some(m),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
    }

    #[test]
    fn files_are_read_trimmed_and_errors_name_field_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "  abc\n").unwrap();
        let m = Material::file("x.credentials_file", &path);
        assert_eq!(m.read_secret().unwrap(), "abc");
        std::fs::remove_file(&path).unwrap();
        let e = m.read_secret().unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "x.credentials_file: cannot read {}:",
                path.display()
            )),
            "{e}"
        );
    }

    #[test]
    fn tls_versions_parse_as_prometheus_writes_them() {
        assert_eq!(TlsVersion::parse("TLS13"), Some(TlsVersion::Tls13));
        assert_eq!(TlsVersion::parse("TLS10"), Some(TlsVersion::Tls10));
        assert_eq!(TlsVersion::parse("tls12"), None);
        assert!(ClientSettings::default().follow_redirects);
    }
}
