//! [`ColdStorageSpec`] (`spec.coldStorage`): the storage nodes move days older than a
//! per-tier age to object storage and read them back through a bounded cache; rendered
//! as `telltale storage`'s `--cold-storage.*` and `--cold-after` flags.

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

use crate::backup::BackupSpec;
use crate::cluster_layout::cel_millis;
use crate::duration::PromDuration;
use crate::error::FieldError;
use crate::quantity::quantity_bytes;

/// The read cache's size when `cacheSize` is not given, unless the volume is small (see
/// [`ColdStorageSpec::cache_bytes`]).
pub const DEFAULT_CACHE_BYTES: u64 = 10 << 30;

/// `spec.coldStorage`: a tiered store. Each storage shard's leader uploads the days of a
/// tier once they are older than that tier's age in `after` (and settled: rolled up, no
/// late writes pending), checks the upload, and every replica then drops its local copy;
/// queries read those days from the bucket through a cache, with the same answers as
/// before. Retention still applies: a day past its tier's retention is forgotten, cold or
/// not.
///
/// The store is reached with the storage pods' environment, which they also use for
/// `spec.backup` uploads: `endpoint`, `region` and `credentialsSecret` become it. Without
/// `credentialsSecret`, the pods' own identity is used: IRSA, GKE workload identity or
/// Azure workload identity (annotate the `<cluster>-storage` ServiceAccount, e.g. with
/// `eks.amazonaws.com/role-arn`; the operator leaves other annotations alone; Azure's
/// also wants the pod label `azure.workload.identity/use`, which it does not set yet).
///
/// The read cache lives on the storage pods' data volume (`/data/cold-cache`, emptied
/// at each start): `spec.storage.size` must hold it besides the local days.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, PartialEq)]
#[x_kube(validation = Rule::new("!has(self.endpoint) || self.url.startsWith('s3://')").message("coldStorage.endpoint is for s3:// URLs only"))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ColdStorageSpec {
    /// Where the days go, each shard under `shard-<N>/`: `s3://bucket/prefix` (AWS or an
    /// S3-compatible server, see `endpoint`), `gs://bucket/prefix` (the `GOOGLE_*`
    /// environment), `az://container/prefix` (the `AZURE_*` environment), or
    /// `file:///path` (a directory of each pod's filesystem: for tests).
    #[x_kube(validation = Rule::new("self.matches('^(s3|gs|az)://[^/]+(/.*)?$') || self.startsWith('file:///')").message("coldStorage.url must be s3://, gs://, az:// or file:///"))]
    #[schemars(length(max = 1024))]
    pub url: String,
    /// The URL of an S3-compatible server (MinIO, Ceph, R2, ...): `AWS_ENDPOINT_URL` of
    /// the storage pods; an `http://` one also sets `AWS_ALLOW_HTTP=true`. `s3://` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub endpoint: Option<String>,
    /// The bucket's region: `AWS_REGION` of the storage pods (default `us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub region: Option<String>,
    /// A Secret of the cluster's namespace whose keys are the store's environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `GOOGLE_SERVICE_ACCOUNT`,
    /// `AZURE_STORAGE_ACCOUNT_NAME`, ...), given to the storage pods as `envFrom`.
    /// Without it the pods' own identity is used (IRSA, GKE or Azure workload identity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub credentials_secret: Option<String>,
    /// Per tier, how old a day must be to move: `{raw: 3d, 1m: 14d, 5m: 30d, 1h: 60d,
    /// 1d: 60d}` when not given. Given, only the tiers listed move (the others stay
    /// local); tiers that `spec.retention` does not keep are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ColdAfter>,
    /// Disk for the read cache, on the data volume (a quantity such as `10Gi`; smaller
    /// than `spec.storage.size`). Default 10Gi, or half of `spec.storage.size` when
    /// that is less.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("quantity(self).isGreaterThan(quantity('0'))").message("cacheSize must be a positive quantity such as 10Gi"))]
    #[schemars(length(max = 32))]
    pub cache_size: Option<String>,
    /// Memory for the read cache (default 256Mi); count it in
    /// `spec.storage.resources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("quantity(self).isGreaterThan(quantity('0'))").message("memorySize must be a positive quantity such as 256Mi"))]
    #[schemars(length(max = 32))]
    pub memory_size: Option<String>,
    /// How often each shard's leader looks for days due to move (default 5m).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub move_interval: Option<PromDuration>,
}

/// `spec.coldStorage.after`: the age past which each tier's days move, by tier name.
#[derive(KubeSchema, Deserialize, Serialize, Clone, Debug, Default, PartialEq)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1))]
pub struct ColdAfter {
    /// Raw samples.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(positive()).message("must be greater than 0"))]
    #[schemars(length(max = 32))]
    pub raw: Option<PromDuration>,
    /// The 1-minute rollups.
    #[serde(default, rename = "1m", skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(positive()).message("must be greater than 0"))]
    #[schemars(length(max = 32))]
    pub one_minute: Option<PromDuration>,
    /// The 5-minute rollups.
    #[serde(default, rename = "5m", skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(positive()).message("must be greater than 0"))]
    #[schemars(length(max = 32))]
    pub five_minutes: Option<PromDuration>,
    /// The 1-hour rollups.
    #[serde(default, rename = "1h", skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(positive()).message("must be greater than 0"))]
    #[schemars(length(max = 32))]
    pub one_hour: Option<PromDuration>,
    /// The 1-day rollups.
    #[serde(default, rename = "1d", skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(positive()).message("must be greater than 0"))]
    #[schemars(length(max = 32))]
    pub one_day: Option<PromDuration>,
}

/// The CEL rule of one age: above zero.
fn positive() -> String {
    format!("{} > 0", cel_millis("self"))
}

impl ColdAfter {
    /// The tiers given, finest first, by the names `--cold-after` takes.
    pub fn tiers(&self) -> Vec<(&'static str, PromDuration)> {
        [
            ("raw", self.raw),
            ("1m", self.one_minute),
            ("5m", self.five_minutes),
            ("1h", self.one_hour),
            ("1d", self.one_day),
        ]
        .into_iter()
        .filter_map(|(name, age)| Some((name, age?)))
        .collect()
    }

    /// `--cold-after`: `raw:3d,1m:2w`.
    pub fn flag(&self) -> String {
        self.tiers()
            .iter()
            .map(|(name, age)| format!("{name}:{age}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl ColdStorageSpec {
    /// The read cache's disk in bytes: `cacheSize`, else the default (10Gi, or half of
    /// the volume, `storage_size`, when that is less).
    pub fn cache_bytes(&self, storage_size: &str) -> Result<u64, FieldError> {
        match &self.cache_size {
            Some(size) => {
                quantity_bytes(size).map_err(|e| FieldError::new("spec.coldStorage.cacheSize", e))
            }
            None => Ok(quantity_bytes(storage_size)
                .map_or(DEFAULT_CACHE_BYTES, |v| (v / 2).min(DEFAULT_CACHE_BYTES))),
        }
    }

    /// The read cache's memory in bytes, when `memorySize` is given.
    pub fn memory_bytes(&self) -> Result<Option<u64>, FieldError> {
        self.memory_size
            .as_deref()
            .map(quantity_bytes)
            .transpose()
            .map_err(|e| FieldError::new("spec.coldStorage.memorySize", e))
    }

    /// The same checks as the CRD's rules, and the cache against the volume
    /// (`storage_size`, `spec.storage.size`) and the environment shared with `backup`.
    pub fn validate(
        &self,
        storage_size: &str,
        backup: Option<&BackupSpec>,
    ) -> Result<(), FieldError> {
        let scheme = store_url("spec.coldStorage.url", &self.url)?;
        if let Some(endpoint) = &self.endpoint {
            let field = "spec.coldStorage.endpoint";
            if scheme != "s3" {
                return Err(FieldError::new(field, "is for s3:// URLs only"));
            }
            match url::Url::parse(endpoint) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => {
                    return Err(FieldError::new(
                        field,
                        format!("{endpoint:?} is not an http:// or https:// URL"),
                    ));
                }
            }
        }
        for (field, value) in [
            ("region", &self.region),
            ("credentialsSecret", &self.credentials_secret),
        ] {
            if value.as_deref() == Some("") {
                return Err(FieldError::new(
                    format!("spec.coldStorage.{field}"),
                    "must not be empty",
                ));
            }
        }
        if let Some(after) = &self.after {
            let tiers = after.tiers();
            if tiers.is_empty() {
                return Err(FieldError::new(
                    "spec.coldStorage.after",
                    "name at least one tier (raw, 1m, 5m, 1h, 1d), or leave it out for \
                     the defaults",
                ));
            }
            if let Some((name, _)) = tiers.iter().find(|(_, age)| age.0.is_zero()) {
                return Err(FieldError::new(
                    format!("spec.coldStorage.after.{name}"),
                    "must be greater than 0",
                ));
            }
        }
        let cache = self.cache_bytes(storage_size)?;
        if cache == 0 {
            return Err(FieldError::new(
                "spec.coldStorage.cacheSize",
                "must be greater than 0",
            ));
        }
        if let (Some(size), Ok(volume)) = (&self.cache_size, quantity_bytes(storage_size))
            && cache >= volume
        {
            return Err(FieldError::new(
                "spec.coldStorage.cacheSize",
                format!(
                    "{size} does not fit the data volume (spec.storage.size {storage_size}), \
                     which also holds the local days"
                ),
            ));
        }
        if self.memory_bytes()? == Some(0) {
            return Err(FieldError::new(
                "spec.coldStorage.memorySize",
                "must be greater than 0",
            ));
        }
        if self.move_interval.is_some_and(|d| d.0.is_zero()) {
            return Err(FieldError::new(
                "spec.coldStorage.moveInterval",
                "must be greater than 0",
            ));
        }
        self.check_shared_environment(scheme, backup)
    }

    /// The storage pods have one environment for the cold tier and their backup uploads:
    /// with backups to the same kind of store, the cold tier must not change it (its
    /// Secret the backup's, its endpoint and region in that Secret), or backups would go
    /// where the operator, which writes their `backup.json`, does not look.
    fn check_shared_environment(
        &self,
        scheme: &str,
        backup: Option<&BackupSpec>,
    ) -> Result<(), FieldError> {
        let Some(backup) = backup.filter(|b| b.url.starts_with(&format!("{scheme}://"))) else {
            return Ok(());
        };
        if scheme == "file" {
            return Ok(());
        }
        if self.credentials_secret != backup.credentials_secret {
            return Err(FieldError::new(
                "spec.coldStorage.credentialsSecret",
                format!(
                    "must be spec.backup.credentialsSecret ({}): the storage pods have one \
                     environment for backups and the cold tier",
                    backup.credentials_secret.as_deref().unwrap_or("none")
                ),
            ));
        }
        for (field, value) in [("endpoint", &self.endpoint), ("region", &self.region)] {
            if value.is_some() {
                return Err(FieldError::new(
                    format!("spec.coldStorage.{field}"),
                    "not with spec.backup to s3:// too (the storage pods' one environment \
                     would send backups there): give AWS_ENDPOINT_URL / AWS_REGION in the \
                     credentials Secret both share",
                ));
            }
        }
        Ok(())
    }
}

/// The URL's scheme (`s3`, `gs`, `az` or `file`), once it is an object store's URL
/// (the cold tier's, a backup's); errors name `field`.
pub(crate) fn store_url(field: &str, url: &str) -> Result<&'static str, FieldError> {
    let bad = |why: &str| {
        FieldError::new(
            field,
            format!(
                "{url:?} {why}: write s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, \
                 az://CONTAINER/PREFIX or file:///PATH"
            ),
        )
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    match parsed.scheme() {
        scheme @ ("s3" | "gs" | "az") => {
            if parsed.host_str().is_none_or(str::is_empty) {
                return Err(bad("names no bucket"));
            }
            Ok(match scheme {
                "s3" => "s3",
                "gs" => "gs",
                _ => "az",
            })
        }
        "file" if url.starts_with("file:///") && parsed.to_file_path().is_ok() => Ok("file"),
        "file" => Err(bad("is not an absolute path")),
        other => Err(bad(&format!("has the scheme {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(yaml: &str) -> ColdStorageSpec {
        serde_yaml::from_str(yaml).unwrap()
    }

    fn error(yaml: &str) -> FieldError {
        spec(yaml).validate("100Gi", None).unwrap_err()
    }

    #[test]
    fn stores_and_their_environment() {
        for url in ["s3://b/p", "gs://b", "az://c/p/q", "file:///var/cold"] {
            spec(&format!("{{url: '{url}'}}"))
                .validate("10Gi", None)
                .unwrap();
        }
        spec("{url: 's3://b/p', endpoint: 'http://minio:9000', region: eu-west-1, credentialsSecret: keys}")
            .validate("10Gi", None)
            .unwrap();
        for (yaml, field) in [
            ("{url: 'http://b/p'}", "spec.coldStorage.url"),
            ("{url: 's3:///p'}", "spec.coldStorage.url"),
            ("{url: 'file://relative'}", "spec.coldStorage.url"),
            ("{url: 'cold'}", "spec.coldStorage.url"),
            (
                "{url: 'gs://b', endpoint: 'http://x'}",
                "spec.coldStorage.endpoint",
            ),
            (
                "{url: 's3://b', endpoint: 'minio:9000'}",
                "spec.coldStorage.endpoint",
            ),
            (
                "{url: 's3://b', credentialsSecret: ''}",
                "spec.coldStorage.credentialsSecret",
            ),
        ] {
            let e = error(yaml);
            assert_eq!(e.field, field, "{yaml}: {e}");
        }
        assert!(error("{url: 'ftp://b/p'}").message.contains("ftp://b/p"));
        assert!(serde_yaml::from_str::<ColdStorageSpec>("{bucket: b}").is_err());
    }

    #[test]
    fn ages_per_tier_render_to_the_flag() {
        let s = spec("{url: 's3://b', after: {raw: 1d, 1h: 60d, 1m: 2w}}");
        s.validate("10Gi", None).unwrap();
        assert_eq!(s.after.unwrap().flag(), "raw:1d,1m:2w,1h:8w4d");
        assert_eq!(
            error("{url: 's3://b', after: {5m: 0}}").field,
            "spec.coldStorage.after.5m"
        );
        assert_eq!(
            error("{url: 's3://b', after: {}}").field,
            "spec.coldStorage.after"
        );
        let e = serde_yaml::from_str::<ColdStorageSpec>("{url: 's3://b', after: {2m: 1d}}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("2m"), "{e}");
        assert!(
            serde_yaml::from_str::<ColdStorageSpec>("{url: 's3://b', after: {raw: 3 days}}")
                .is_err()
        );
    }

    #[test]
    fn the_cache_fits_the_data_volume() {
        let s = spec("{url: 's3://b'}");
        assert_eq!(s.cache_bytes("100Gi"), Ok(10 << 30));
        assert_eq!(s.cache_bytes("10Gi"), Ok(5 << 30), "half a small volume");
        let s = spec("{url: 's3://b', cacheSize: 2Gi, memorySize: 64Mi, moveInterval: 1m}");
        s.validate("10Gi", None).unwrap();
        assert_eq!(s.cache_bytes("10Gi"), Ok(2 << 30));
        assert_eq!(s.memory_bytes(), Ok(Some(64 << 20)));
        let e = spec("{url: 's3://b', cacheSize: 10Gi}")
            .validate("10Gi", None)
            .unwrap_err();
        assert_eq!(e.field, "spec.coldStorage.cacheSize");
        assert!(e.message.contains("spec.storage.size"), "{e}");
        for (yaml, field) in [
            (
                "{url: 's3://b', cacheSize: 10GB}",
                "spec.coldStorage.cacheSize",
            ),
            (
                "{url: 's3://b', cacheSize: '0'}",
                "spec.coldStorage.cacheSize",
            ),
            (
                "{url: 's3://b', memorySize: 1x}",
                "spec.coldStorage.memorySize",
            ),
            (
                "{url: 's3://b', moveInterval: 0s}",
                "spec.coldStorage.moveInterval",
            ),
        ] {
            assert_eq!(error(yaml).field, field, "{yaml}");
        }
    }

    #[test]
    fn backups_to_the_same_store_share_the_environment() {
        let backup = |yaml: &str| serde_yaml::from_str::<BackupSpec>(yaml).unwrap();
        let s3 = backup("{url: 's3://backups', schedule: '0 3 * * *', credentialsSecret: keys}");
        let gs = backup("{url: 'gs://backups', schedule: '0 3 * * *', credentialsSecret: gcp}");
        let check = |cold: &str, b: &BackupSpec| spec(cold).validate("10Gi", Some(b));
        check("{url: 's3://cold', credentialsSecret: keys}", &s3).unwrap();
        check(
            "{url: 's3://cold', endpoint: 'https://r2', credentialsSecret: s3}",
            &gs,
        )
        .unwrap();
        let e = check("{url: 's3://cold', credentialsSecret: other}", &s3).unwrap_err();
        assert_eq!(e.field, "spec.coldStorage.credentialsSecret");
        assert!(e.message.contains("keys"), "{e}");
        let e = check(
            "{url: 's3://cold', credentialsSecret: keys, region: x}",
            &s3,
        )
        .unwrap_err();
        assert_eq!(e.field, "spec.coldStorage.region");
    }
}
