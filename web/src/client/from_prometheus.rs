//! [`from_prometheus`]: the settings of Prometheus's and Alertmanager's YAML form
//! (`common/config.HTTPClientConfig`: prometheus.yml sections, receivers' `http_config`).

use telltale_crds::prometheus::HttpClientConfig;

use super::settings::{Auth, ClientSettings, Material, TlsSettings, TlsVersion};
use crate::error::{Error, Result};

/// The settings of `config`, whose fields are named `{at}.{field}` in errors (`field`
/// alone when `at` is empty). The
/// config is checked as Prometheus checks it first (one way to authenticate...);
/// `oauth2` is refused rather than sent without.
pub fn from_prometheus(config: &HttpClientConfig, at: &str) -> Result<ClientSettings> {
    config.validate(at).map_err(|e| Error::Client {
        field: e.field,
        message: e.message,
    })?;
    let field = |name: &str| {
        if at.is_empty() {
            name.to_string()
        } else {
            format!("{at}.{name}")
        }
    };
    if config.oauth2.is_some() {
        return Err(Error::Client {
            field: field("oauth2"),
            message: "oauth2 is not supported".into(),
        });
    }
    let secret = |inline: &Option<String>, file: &Option<String>, name: &str| match (inline, file) {
        (Some(v), _) if !v.is_empty() => Some(Material::value(field(name), v.as_bytes())),
        (_, Some(f)) if !f.is_empty() => Some(Material::file(field(&format!("{name}_file")), f)),
        _ => None,
    };
    let auth = if let Some(b) = &config.basic_auth {
        Some(Auth::Basic {
            username: Material::value(field("basic_auth.username"), b.username.as_bytes()),
            password: secret(&b.password, &b.password_file, "basic_auth.password"),
        })
    } else if let Some(a) = &config.authorization {
        Some(Auth::Header {
            scheme: a.scheme().to_string(),
            credentials: secret(
                &a.credentials,
                &a.credentials_file,
                "authorization.credentials",
            ),
        })
    } else {
        secret(
            &config.bearer_token,
            &config.bearer_token_file,
            "bearer_token",
        )
        .map(|token| Auth::Header {
            scheme: "Bearer".into(),
            credentials: Some(token),
        })
    };
    let tls = match &config.tls_config {
        None => TlsSettings::default(),
        Some(t) => {
            let file = |f: &Option<String>, name: &str| {
                f.as_ref()
                    .filter(|f| !f.is_empty())
                    .map(|f| Material::file(field(&format!("tls_config.{name}")), f))
            };
            TlsSettings {
                ca: file(&t.ca_file, "ca_file"),
                cert: file(&t.cert_file, "cert_file"),
                key: file(&t.key_file, "key_file"),
                server_name: t.server_name.clone().filter(|s| !s.is_empty()),
                insecure_skip_verify: t.insecure_skip_verify,
                min_version: t.min_version.as_deref().and_then(TlsVersion::parse),
            }
        }
    };
    Ok(ClientSettings {
        tls,
        auth,
        proxy_url: config.proxy_url.clone().filter(|p| !p.is_empty()),
        follow_redirects: config.follow_redirects.unwrap_or(true),
        enable_http2: config.enable_http2.unwrap_or(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(yaml: &str) -> Result<ClientSettings> {
        from_prometheus(&serde_yaml::from_str(yaml).unwrap(), "http_config")
    }

    #[test]
    fn each_yaml_field_lands_in_its_setting() {
        let s = settings(
            "{bearer_token_file: /t, proxy_url: 'http://proxy:3128', follow_redirects: false,
              tls_config: {ca_file: /ca, cert_file: /c, key_file: /k, server_name: api,
                           insecure_skip_verify: true, min_version: TLS13}}",
        )
        .unwrap();
        let Some(Auth::Header {
            scheme,
            credentials,
        }) = &s.auth
        else {
            panic!("{:?}", s.auth)
        };
        assert_eq!(scheme, "Bearer");
        let credentials = credentials.as_ref().unwrap();
        assert_eq!(credentials.field, "http_config.bearer_token_file");
        assert_eq!(credentials.path().unwrap().to_str(), Some("/t"));
        assert_eq!(
            s.tls.ca.as_ref().unwrap().field,
            "http_config.tls_config.ca_file"
        );
        assert_eq!(s.tls.server_name.as_deref(), Some("api"));
        assert!(s.tls.insecure_skip_verify && !s.follow_redirects);
        assert_eq!(s.tls.min_version, Some(TlsVersion::Tls13));
        assert_eq!(s.proxy_url.as_deref(), Some("http://proxy:3128"));

        let s = settings("{authorization: {type: Token, credentials: abc}}").unwrap();
        assert!(matches!(&s.auth, Some(Auth::Header { scheme, .. }) if scheme == "Token"));
        let s = settings("{basic_auth: {username: u, password_file: /p}}").unwrap();
        assert!(
            matches!(&s.auth, Some(Auth::Basic { password: Some(p), .. }) if p.path().is_some())
        );
        assert_eq!(settings("{}").unwrap(), ClientSettings::default());
    }

    /// Prometheus's `Validate()` messages, and oauth2 refused.
    #[test]
    fn conflicts_are_refused_as_prometheus_does() {
        let e = settings("{bearer_token: a, basic_auth: {username: u}}")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "http_config: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
        );
        let e = settings("{oauth2: {client_id: a, token_url: 'http://t'}}")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "http_config.oauth2: oauth2 is not supported");
    }
}
