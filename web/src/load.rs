//! [`WebConfigFile`]: a web configuration file read, checked and turned into what the
//! server uses (exporter-toolkit's `Validate` + `ConfigToTLSConfig`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use rustls::ServerConfig;

use crate::config::WebConfig;
use crate::error::{Error, Result};
use crate::tls::{self, TlsFiles};

/// A checked web configuration file: its settings, the rustls configuration when it
/// turns TLS on, and the contents of every file it was built from (to notice changes).
#[derive(Debug, Clone)]
pub struct WebConfigFile {
    path: PathBuf,
    config: WebConfig,
    tls: Option<Arc<ServerConfig>>,
    headers: HeaderMap,
    /// The configuration file, then the certificate, key and client CA files it names.
    sources: Vec<(PathBuf, Vec<u8>)>,
}

impl WebConfigFile {
    /// Reads and checks the file at `path` and the files it names (relative paths are
    /// taken from the file's directory): the YAML, the headers, the password hashes, the
    /// certificate and key (which must match), the client CAs. This is also
    /// `promtool check web-config`'s check.
    pub fn load(path: impl AsRef<Path>) -> Result<WebConfigFile> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| Error::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let config = WebConfig::parse(path, &text)?;
        config.check(path)?;
        let mut sources = vec![(path.to_path_buf(), text)];

        let headers = config
            .http_server_config
            .headers
            .iter()
            .filter_map(|(k, v)| {
                // Checked above: allowed names and valid values.
                Some((
                    HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();

        let t = &config.tls_server_config;
        let tls = if t.enabled() {
            let dir = path.parent().unwrap_or(Path::new(""));
            let read = |field: &str, name: &str| -> Result<(PathBuf, Vec<u8>)> {
                let file = join_dir(dir, name);
                let bytes = std::fs::read(&file).map_err(|e| {
                    Error::field(
                        path,
                        format!("tls_server_config.{field}"),
                        format!("cannot read {}: {e}", file.display()),
                    )
                })?;
                Ok((file, bytes))
            };
            let cert = read("cert_file", &t.cert_file)?;
            let key = read("key_file", &t.key_file)?;
            let ca = match t.client_ca_file.as_str() {
                "" => None,
                name => Some(read("client_ca_file", name)?),
            };
            let files = TlsFiles {
                cert: (&cert.0, &cert.1),
                key: (&key.0, &key.1),
                client_ca: ca.as_ref().map(|(p, b)| (p.as_path(), b.as_slice())),
            };
            let server = tls::server_config(path, t, &files, config.http_server_config.http2)?;
            sources.push(cert);
            sources.push(key);
            sources.extend(ca);
            Some(Arc::new(server))
        } else {
            None
        };
        Ok(WebConfigFile {
            path: path.to_path_buf(),
            config,
            tls,
            headers,
            sources,
        })
    }

    /// The configuration file's path, as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The settings.
    pub fn config(&self) -> &WebConfig {
        &self.config
    }

    /// Whether the server speaks TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// Whether HTTP/2 is offered over TLS.
    pub fn http2(&self) -> bool {
        self.config.http_server_config.http2
    }

    pub(crate) fn server_config(&self) -> Option<&Arc<ServerConfig>> {
        self.tls.as_ref()
    }

    pub(crate) fn users(&self) -> &std::collections::BTreeMap<String, String> {
        &self.config.basic_auth_users
    }

    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// Whether every file this was built from still has the same contents.
    pub(crate) fn unchanged_on_disk(&self) -> bool {
        self.sources
            .iter()
            .all(|(path, bytes)| std::fs::read(path).is_ok_and(|now| now == *bytes))
    }
}

/// A path of the file relative to the configuration file's directory, as Prometheus's
/// `config.JoinDir`: empty and absolute paths are kept.
fn join_dir(dir: &Path, name: &str) -> PathBuf {
    let p = Path::new(name);
    if name.is_empty() || p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_taken_from_the_file_directory() {
        assert_eq!(
            join_dir(Path::new("/etc/tt"), "c.pem"),
            Path::new("/etc/tt/c.pem")
        );
        assert_eq!(
            join_dir(Path::new("/etc/tt"), "/abs/c.pem"),
            Path::new("/abs/c.pem")
        );
        assert_eq!(join_dir(Path::new(""), "c.pem"), Path::new("c.pem"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let web = dir.path().join("web.yml");
        std::fs::write(
            &web,
            "tls_server_config: {cert_file: c.pem, key_file: k.pem}\n",
        )
        .unwrap();
        let e = WebConfigFile::load(&web).unwrap_err().to_string();
        let cert = dir.path().join("c.pem");
        assert!(
            e.starts_with(&format!(
                "{}: tls_server_config.cert_file: cannot read {}",
                web.display(),
                cert.display()
            )),
            "{e}"
        );
        let e = WebConfigFile::load(dir.path().join("nope.yml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope.yml: cannot read"), "{e}");
    }
}
