//! `spec.coldStorage` on the storage container: `telltale storage`'s `--cold-storage.*`
//! and `--cold-after` flags, the store's environment (`AWS_ENDPOINT_URL`, `AWS_REGION`)
//! and its credentials Secret. Part of the pod template, so a change rolls the storage
//! pods as any template change does.

use k8s_openapi::api::core::v1::{Container, EnvVar};
use telltale_crds::MetricClusterSpec;
use telltale_crds::cold_storage::DEFAULT_CACHE_BYTES;

use super::storage::secret_env;

/// The flags of `spec.coldStorage` (none without it). Sizes go as plain bytes; ages and
/// the interval only when given (the binary's defaults are the field's).
pub fn cold_args(spec: &MetricClusterSpec) -> Vec<String> {
    let Some(cold) = &spec.cold_storage else {
        return Vec::new();
    };
    let mut args = vec!["--cold-storage.url".to_string(), cold.url.clone()];
    if let Some(after) = &cold.after {
        args.extend(["--cold-after".into(), after.flag()]);
    }
    // The spec is valid (see `MetricClusterSpec::validate`): the fallback is never used.
    let cache = cold
        .cache_bytes(&spec.storage.size)
        .unwrap_or(DEFAULT_CACHE_BYTES);
    args.extend(["--cold-storage.cache-size".into(), cache.to_string()]);
    if let Ok(Some(memory)) = cold.memory_bytes() {
        args.extend(["--cold-storage.memory-size".into(), memory.to_string()]);
    }
    if let Some(every) = cold.move_interval {
        args.extend(["--cold-storage.move-interval".into(), every.to_string()]);
    }
    args
}

/// The store's environment from `endpoint` and `region`: `AWS_ENDPOINT_URL` (with
/// `AWS_ALLOW_HTTP=true` for an `http://` one) and `AWS_REGION`.
pub fn cold_env(spec: &MetricClusterSpec) -> Vec<EnvVar> {
    let Some(cold) = &spec.cold_storage else {
        return Vec::new();
    };
    let var = |name: &str, value: &str| EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    };
    let mut env = Vec::new();
    if let Some(endpoint) = &cold.endpoint {
        env.push(var("AWS_ENDPOINT_URL", endpoint));
        if endpoint.starts_with("http://") {
            env.push(var("AWS_ALLOW_HTTP", "true"));
        }
    }
    if let Some(region) = &cold.region {
        env.push(var("AWS_REGION", region));
    }
    env
}

/// `spec.coldStorage` on the storage container: its flags, environment and the
/// credentials Secret as `envFrom` (after `spec.backup`'s, once when both name it).
pub fn add_cold_storage(spec: &MetricClusterSpec, container: &mut Container) {
    let Some(cold) = &spec.cold_storage else {
        return;
    };
    container
        .args
        .get_or_insert_default()
        .extend(cold_args(spec));
    let env = cold_env(spec);
    if !env.is_empty() {
        container.env.get_or_insert_default().extend(env);
    }
    if let Some(secret) = cold.credentials_secret.clone() {
        let from = container.env_from.get_or_insert_default();
        let named = from
            .iter()
            .any(|f| f.secret_ref.as_ref().is_some_and(|s| s.name == secret));
        if !named {
            from.extend(secret_env(secret));
        }
    }
}
