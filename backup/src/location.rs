//! [`Location`]: where a backup lives, from its URL.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::path::Path;

use crate::error::{Error, Result};

/// An object store and the prefix under which one backup's objects are.
#[derive(Clone, Debug)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    pub prefix: Path,
    /// The URL as given, for messages.
    pub url: String,
}

impl Location {
    /// `s3://bucket/prefix` (the `AWS_*` environment: keys, `AWS_REGION` or
    /// `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` for an S3-compatible server,
    /// `AWS_ALLOW_HTTP=true` for one without TLS, web identity — IRSA), `gs://bucket/prefix`
    /// (the `GOOGLE_*` environment: `GOOGLE_SERVICE_ACCOUNT` or
    /// `GOOGLE_APPLICATION_CREDENTIALS`, else the metadata server — workload identity),
    /// `az://container/prefix` (the `AZURE_*` environment: `AZURE_STORAGE_ACCOUNT_NAME`
    /// with a key, SAS or client credentials, or workload identity) or `file:///path`
    /// (the directory is made if missing).
    pub fn parse(url: &str) -> Result<Location> {
        Location::parse_with(url, std::env::vars())
    }

    /// [`parse`](Self::parse) with `vars` standing for the environment.
    pub fn parse_with(
        url: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Location> {
        let vars: std::collections::BTreeMap<String, String> = vars
            .into_iter()
            .filter(|(k, _)| {
                ["AWS_", "GOOGLE_", "AZURE_"]
                    .iter()
                    .any(|p| k.starts_with(p))
            })
            .collect();
        let bad = |reason: &str| Error::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        // A cloud store: its bucket (container) from the host, the prefix from the path,
        // the builder configured from `vars` by the keys it knows.
        let cloud =
            |what: &str, build: &dyn Fn(&str) -> object_store::Result<Arc<dyn ObjectStore>>| {
                let bucket = parsed.host_str().filter(|b| !b.is_empty()).ok_or_else(|| {
                    bad(&format!(
                        "no {what}: write {}://{}/PREFIX",
                        parsed.scheme(),
                        what.to_uppercase()
                    ))
                })?;
                Ok(Location {
                    store: build(bucket).map_err(|e| bad(&e.to_string()))?,
                    prefix: Path::from(parsed.path().trim_matches('/')),
                    url: url.to_string(),
                })
            };
        fn configured<B, K: std::str::FromStr>(
            mut builder: B,
            vars: &std::collections::BTreeMap<String, String>,
            with: impl Fn(B, K, &str) -> B,
        ) -> B {
            for (key, value) in vars {
                if let Ok(key) = key.to_ascii_lowercase().parse::<K>() {
                    builder = with(builder, key, value);
                }
            }
            builder
        }
        match parsed.scheme() {
            "s3" | "s3a" => cloud("bucket", &|bucket| {
                // What `AmazonS3Builder::from_env` reads, from `vars`.
                let mut builder = configured(
                    AmazonS3Builder::new(),
                    &vars,
                    |b, k: AmazonS3ConfigKey, v| b.with_config(k, v),
                )
                .with_bucket_name(bucket);
                // The SDKs' names of the endpoint of S3-compatible servers.
                if let Some(endpoint) = vars
                    .get("AWS_ENDPOINT_URL_S3")
                    .or_else(|| vars.get("AWS_ENDPOINT_URL"))
                {
                    builder = builder.with_endpoint(endpoint);
                }
                let region = vars
                    .get("AWS_REGION")
                    .or_else(|| vars.get("AWS_DEFAULT_REGION"));
                let store = builder
                    .with_region(region.map_or("us-east-1", String::as_str))
                    .build()?;
                Ok(Arc::new(store))
            }),
            "gs" => cloud("bucket", &|bucket| {
                let builder = configured(
                    GoogleCloudStorageBuilder::new(),
                    &vars,
                    |b, k: GoogleConfigKey, v| b.with_config(k, v),
                );
                Ok(Arc::new(builder.with_bucket_name(bucket).build()?))
            }),
            "az" | "azure" => cloud("container", &|container| {
                let builder = configured(
                    MicrosoftAzureBuilder::new(),
                    &vars,
                    |b, k: AzureConfigKey, v| b.with_config(k, v),
                );
                Ok(Arc::new(builder.with_container_name(container).build()?))
            }),
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| bad("not an absolute local path: write file:///PATH"))?;
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let store =
                    LocalFileSystem::new_with_prefix(&dir).map_err(|e| bad(&e.to_string()))?;
                Ok(Location {
                    store: Arc::new(store),
                    prefix: Path::default(),
                    url: url.to_string(),
                })
            }
            other => Err(bad(&format!(
                "scheme {other:?} is not one of s3://, gs://, az:// and file://"
            ))),
        }
    }

    /// The object `name` (a `/`-separated path) under this location's prefix.
    pub fn object(&self, name: &str) -> Path {
        let mut path = self.prefix.clone();
        for part in name.split('/').filter(|p| !p.is_empty()) {
            path = path.child(part);
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_urls_open_with_their_environment() {
        let vars = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let gs = Location::parse_with(
            "gs://metrics/telltale/prod",
            vars(&[(
                "GOOGLE_SERVICE_ACCOUNT_KEY",
                r#"{"type":"service_account","client_email":"a@b.c","private_key":"","private_key_id":""}"#,
            )]),
        );
        // The key above is not a usable key; what matters is that the URL is read as a
        // bucket and prefix, or refused for the key and not for the URL.
        match gs {
            Ok(l) => assert_eq!(l.prefix.as_ref(), "telltale/prod"),
            Err(e) => assert!(!e.to_string().contains("scheme"), "{e}"),
        }
        let az = Location::parse_with(
            "az://metrics/telltale",
            vars(&[
                ("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1"),
                ("AZURE_STORAGE_ACCOUNT_KEY", "a2V5"),
            ]),
        )
        .unwrap();
        assert_eq!(az.prefix.as_ref(), "telltale");
        assert_eq!(
            az.object("shard-0/backup.json").as_ref(),
            "telltale/shard-0/backup.json"
        );
    }

    #[test]
    fn urls_that_are_not_backup_locations_are_named() {
        for (url, says) in [
            ("s3:///prefix", "no bucket"),
            ("http://host/x", "scheme \"http\""),
            ("gs:///prefix", "no bucket"),
            ("az:///prefix", "no container"),
            ("not a url", "relative URL"),
        ] {
            let err = Location::parse(url).unwrap_err().to_string();
            assert!(err.contains(says) && err.contains(url), "{url}: {err}");
        }
    }

    #[test]
    fn objects_are_under_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let loc = Location::parse(&format!("file://{}", dir.path().display())).unwrap();
        assert_eq!(
            loc.object("shard-0/manifest.json").as_ref(),
            "shard-0/manifest.json"
        );
    }
}
