//! [`from_prometheus`]: the settings of Prometheus's and Alertmanager's YAML form
//! (`common/config.HTTPClientConfig`: prometheus.yml sections, receivers' `http_config`).

use telltale_crds::prometheus::HttpClientConfig;
use telltale_crds::prometheus::http_client::TlsConfig;

use super::oauth2::OAuth2Settings;
use super::settings::{Auth, ClientSettings, Material, TlsSettings, TlsVersion};
use crate::error::{Error, Result};

/// The settings of `config`, whose fields are named `{at}.{field}` in errors (`field`
/// alone when `at` is empty). The
/// config is checked as Prometheus checks it first (one way to authenticate...).
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
    let secret = |inline: &Option<String>, file: &Option<String>, name: &str| match (inline, file) {
        (Some(v), _) if !v.is_empty() => Some(Material::value(field(name), v.as_bytes())),
        (_, Some(f)) if !f.is_empty() => Some(Material::file(field(&format!("{name}_file")), f)),
        _ => None,
    };
    let auth = if let Some(o) = &config.oauth2 {
        Some(Auth::OAuth2(Box::new(OAuth2Settings {
            client_id: Material::value(field("oauth2.client_id"), o.client_id.as_bytes()),
            client_secret: secret(
                &o.client_secret,
                &o.client_secret_file,
                "oauth2.client_secret",
            ),
            token_url: o.token_url.clone(),
            scopes: o.scopes.clone(),
            endpoint_params: o.endpoint_params.clone(),
            tls: o
                .tls_config
                .as_ref()
                .map_or_else(TlsSettings::default, |t| {
                    tls_settings(t, &|name| field(&format!("oauth2.tls_config.{name}")))
                }),
            proxy_url: o.proxy_url.clone().filter(|p| !p.is_empty()),
        })))
    } else if let Some(b) = &config.basic_auth {
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
    let tls = config
        .tls_config
        .as_ref()
        .map_or_else(TlsSettings::default, |t| {
            tls_settings(t, &|name| field(&format!("tls_config.{name}")))
        });
    Ok(ClientSettings {
        tls,
        auth,
        proxy_url: config.proxy_url.clone().filter(|p| !p.is_empty()),
        follow_redirects: config.follow_redirects.unwrap_or(true),
        enable_http2: config.enable_http2.unwrap_or(true),
    })
}

/// The TLS settings of a `tls_config`, its files named by `field(name)`.
fn tls_settings(t: &TlsConfig, field: &dyn Fn(&str) -> String) -> TlsSettings {
    let file = |f: &Option<String>, name: &str| {
        f.as_ref()
            .filter(|f| !f.is_empty())
            .map(|f| Material::file(field(name), f))
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

    /// Prometheus's `Validate()` messages.
    #[test]
    fn conflicts_are_refused_as_prometheus_does() {
        let e = settings("{bearer_token: a, basic_auth: {username: u}}")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "http_config: at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
        );
        let e = settings("{oauth2: {client_id: a}, bearer_token: b}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most one of"), "{e}");
    }

    #[test]
    fn oauth2_lands_with_its_own_tls() {
        let s = settings(
            "{oauth2: {client_id: id, client_secret_file: /s, token_url: 'https://t/token',
                       scopes: [a, b], endpoint_params: {audience: x},
                       tls_config: {ca_file: /ca}, proxy_url: 'http://p:3128'}}",
        )
        .unwrap();
        let Some(Auth::OAuth2(o)) = &s.auth else {
            panic!("{:?}", s.auth)
        };
        assert_eq!(o.client_id.read_secret().unwrap(), "id");
        let secret = o.client_secret.as_ref().unwrap();
        assert_eq!(secret.field, "http_config.oauth2.client_secret_file");
        assert_eq!(o.token_url, "https://t/token");
        assert_eq!(o.scopes, ["a", "b"]);
        assert_eq!(o.endpoint_params["audience"], "x");
        assert_eq!(
            o.tls.ca.as_ref().unwrap().field,
            "http_config.oauth2.tls_config.ca_file"
        );
        assert_eq!(o.proxy_url.as_deref(), Some("http://p:3128"));
        assert!(
            s.default_tls(),
            "the token endpoint's TLS is not the target's"
        );
    }
}
