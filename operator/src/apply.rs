//! Writing the desired state: server-side apply of rendered objects under one field
//! manager, and deleting what a MetricCluster created when it goes.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};

use crate::{Error, FIELD_MANAGER, Result};

/// The API resource of each kind the renderer produces.
pub fn api_resource(kind: &str) -> Result<ApiResource> {
    Ok(match kind {
        "ConfigMap" => ApiResource::erase::<ConfigMap>(&()),
        "ServiceAccount" => ApiResource::erase::<ServiceAccount>(&()),
        "Role" => ApiResource::erase::<Role>(&()),
        "RoleBinding" => ApiResource::erase::<RoleBinding>(&()),
        "Service" => ApiResource::erase::<Service>(&()),
        "PodDisruptionBudget" => ApiResource::erase::<PodDisruptionBudget>(&()),
        "StatefulSet" => ApiResource::erase::<StatefulSet>(&()),
        "Deployment" => ApiResource::erase::<Deployment>(&()),
        "PersistentVolumeClaim" => ApiResource::erase::<PersistentVolumeClaim>(&()),
        "Secret" => ApiResource::erase::<Secret>(&()),
        "NetworkPolicy" => ApiResource::erase::<NetworkPolicy>(&()),
        other => return Err(Error::UnknownKind(other.to_string())),
    })
}

/// Kinds a MetricCluster creates, in the order they are deleted (workloads first).
pub const OWNED_KINDS: [&str; 10] = [
    "Deployment",
    "StatefulSet",
    "PodDisruptionBudget",
    "NetworkPolicy",
    "Service",
    "RoleBinding",
    "Role",
    "ServiceAccount",
    "ConfigMap",
    "Secret",
];

/// Server-side applies every object (forcing ownership of conflicting fields: the
/// operator is the only writer of these objects).
pub async fn apply_all(client: &Client, namespace: &str, objects: &[DynamicObject]) -> Result<()> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for obj in objects {
        let kind = obj
            .types
            .as_ref()
            .map(|t| t.kind.as_str())
            .unwrap_or_default();
        let ar = api_resource(kind)?;
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
        api.patch(&obj.name_any(), &params, &Patch::Apply(obj))
            .await?;
    }
    Ok(())
}

/// Deletes every object of `kinds` in `namespace` matching `selector`; returns how many.
pub async fn delete_matching(
    client: &Client,
    namespace: &str,
    kinds: &[&str],
    selector: &str,
) -> Result<usize> {
    let mut deleted = 0;
    for kind in kinds {
        let ar = api_resource(kind)?;
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &ar);
        let list = api.list(&ListParams::default().labels(selector)).await?;
        for obj in list.items {
            if obj.meta().deletion_timestamp.is_some() {
                continue;
            }
            match api
                .delete(&obj.name_any(), &DeleteParams::background())
                .await
            {
                Ok(_) => deleted += 1,
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(deleted)
}
