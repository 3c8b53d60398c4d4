//! `spec.web`'s Secret, read before rendering: whether the web configuration file in it
//! turns TLS on (the query then calls the scrapers and the alertmanager at `https://`),
//! whether the Secret carries a `ca.crt` for those calls, and the certificate the query
//! presents to them. A Secret that is missing, lacks the key, or holds a file that does
//! not parse stops the reconcile with a Warning Event naming it, before anything is
//! applied: pods would not start with it.

use std::path::Path;

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use telltale_crds::{MetricCluster, WebSpec};
use telltale_web::WebConfig;

use crate::context::Context;
use crate::naming::CA_CERT;
use crate::render::pod::WebServing;
use crate::{Error, Result};

/// What `mc`'s web configuration says (plain when it has none).
pub async fn serving(ctx: &Context, mc: &MetricCluster, namespace: &str) -> Result<WebServing> {
    let Some(web) = &mc.spec.web else {
        return Ok(WebServing::default());
    };
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let secret = api.get_opt(&web.config_secret.name).await?;
    match read(web, secret.as_ref()) {
        Ok(serving) => Ok(serving),
        Err(message) => {
            ctx.event(
                mc,
                true,
                "WebConfigInvalid",
                "ReadWebConfig",
                message.clone(),
            )
            .await;
            Err(Error::WebConfig(message))
        }
    }
}

/// The serving facts of `secret` (pure).
pub fn read(web: &WebSpec, secret: Option<&Secret>) -> Result<WebServing, String> {
    let name = &web.config_secret.name;
    let key = web.config_secret.key();
    let secret = secret.ok_or_else(|| format!("Secret {name:?} does not exist"))?;
    let data = secret.data.clone().unwrap_or_default();
    let text = data
        .get(key)
        .ok_or_else(|| format!("Secret {name:?} has no key {key:?}"))?;
    let file = Path::new(name).join(key);
    let config = WebConfig::parse(&file, &text.0).map_err(|e| e.to_string())?;
    config.check(&file).map_err(|e| e.to_string())?;
    let tls = &config.tls_server_config;
    let named = |p: &str| (!p.is_empty()).then(|| p.to_string());
    Ok(WebServing {
        tls: tls.enabled(),
        peer_ca: data.contains_key(CA_CERT),
        cert_file: named(&tls.cert_file),
        key_file: named(&tls.key_file),
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::*;

    fn web() -> WebSpec {
        serde_yaml::from_str("configSecret: {name: web}").unwrap()
    }

    fn secret(entries: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn tls_and_its_files_are_read_from_the_file() {
        let s = secret(&[
            (
                "web.yml",
                "tls_server_config: {cert_file: tls.crt, key_file: tls.key}\n",
            ),
            ("ca.crt", "..."),
        ]);
        let serving = read(&web(), Some(&s)).unwrap();
        assert_eq!(
            serving,
            WebServing {
                tls: true,
                peer_ca: true,
                cert_file: Some("tls.crt".into()),
                key_file: Some("tls.key".into()),
            }
        );
        assert_eq!(
            serving.peer_args(),
            [
                "--peer.tls-ca-file=/etc/telltale/web/ca.crt",
                "--peer.tls-cert-file=/etc/telltale/web/tls.crt",
                "--peer.tls-key-file=/etc/telltale/web/tls.key",
            ]
        );
        let plain = secret(&[("web.yml", "basic_auth_users: {}\n")]);
        assert_eq!(read(&web(), Some(&plain)).unwrap(), WebServing::default());
    }

    #[test]
    fn a_missing_or_broken_file_is_named() {
        assert!(
            read(&web(), None)
                .unwrap_err()
                .contains("\"web\" does not exist")
        );
        let other = secret(&[("config.yml", "")]);
        assert!(
            read(&web(), Some(&other))
                .unwrap_err()
                .contains("no key \"web.yml\"")
        );
        let broken = secret(&[(
            "web.yml",
            "tls_server_config: {cert_file: 3, nonsense: x}\n",
        )]);
        let err = read(&web(), Some(&broken)).unwrap_err();
        assert!(err.contains("web.yml"), "{err}");
    }
}
