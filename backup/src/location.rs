//! [`Location`]: where a backup lives, from its URL.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
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
    /// `AWS_ALLOW_HTTP=true` for one without TLS, web identity) or `file:///path` (the
    /// directory is made if missing).
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
            .filter(|(k, _)| k.starts_with("AWS_"))
            .collect();
        let bad = |reason: &str| Error::Url {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
        let prefix = |p: &str| Path::from(p.trim_matches('/'));
        match parsed.scheme() {
            "s3" | "s3a" => {
                let bucket = parsed
                    .host_str()
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| bad("no bucket: write s3://BUCKET/PREFIX"))?;
                // What `AmazonS3Builder::from_env` reads, from `vars`.
                let mut builder = AmazonS3Builder::new();
                for (key, value) in &vars {
                    if let Ok(key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                        builder = builder.with_config(key, value);
                    }
                }
                builder = builder.with_bucket_name(bucket);
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
                builder = builder.with_region(region.map_or("us-east-1", String::as_str));
                let store = builder.build().map_err(|e| bad(&e.to_string()))?;
                Ok(Location {
                    store: Arc::new(store),
                    prefix: prefix(parsed.path()),
                    url: url.to_string(),
                })
            }
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
                "scheme {other:?} is not one of s3:// and file://"
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
    fn urls_that_are_not_backup_locations_are_named() {
        for (url, says) in [
            ("s3:///prefix", "no bucket"),
            ("http://host/x", "scheme \"http\""),
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
