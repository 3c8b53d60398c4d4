//! The query and alertmanager Deployments and their Services.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, PodTemplateSpec, Service, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use telltale_crds::MetricClusterSpec;

use super::Meta;
use super::pod::{ContainerSpec, config_annotations, field_env, pod_spec, port, shard_map_volume};
use super::storage::{service_port, spread};
use crate::naming::{ALERTMANAGER_PORT, Component, QUERY_PORT, SHARD_MAP_DIR, SHARD_MAP_FILE};

/// The flags of `telltale query`.
pub fn query_args() -> Vec<String> {
    vec![
        "query".into(),
        "--listen".into(),
        format!("0.0.0.0:{QUERY_PORT}"),
        "--shard-map".into(),
        format!("{SHARD_MAP_DIR}/{SHARD_MAP_FILE}"),
    ]
}

/// The flags of `telltale alertmanager`.
pub fn alertmanager_args() -> Vec<String> {
    vec![
        "alertmanager".into(),
        "--listen".into(),
        format!("0.0.0.0:{ALERTMANAGER_PORT}"),
        "--shard-map".into(),
        format!("{SHARD_MAP_DIR}/{SHARD_MAP_FILE}"),
        "--data-dir".into(),
        "/data".into(),
    ]
}

/// The Deployment of `component` (query or alertmanager).
pub fn deployment(
    m: &Meta,
    spec: &MetricClusterSpec,
    component: Component,
    config_hash: &str,
) -> Deployment {
    let names = &m.names;
    let (volume, mount) = shard_map_volume(&names.shard_map());
    let mut volumes = vec![volume];
    let mut mounts = vec![mount];
    let (args, http, layout, needs_api) = match component {
        Component::Alertmanager => {
            volumes.push(Volume {
                name: "data".into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            });
            mounts.push(VolumeMount {
                name: "data".into(),
                mount_path: "/data".into(),
                ..VolumeMount::default()
            });
            (
                alertmanager_args(),
                ALERTMANAGER_PORT,
                &spec.alertmanager,
                true,
            )
        }
        _ => (query_args(), QUERY_PORT, &spec.query, false),
    };
    let container = ContainerSpec {
        component,
        command: vec!["telltale".into()],
        args,
        ports: vec![port("http", http)],
        http_port: "http",
        env: vec![field_env("POD_NAMESPACE", "metadata.namespace")],
        mounts,
        resources: layout.resources.clone(),
    }
    .build(spec);
    let selector = names.selector(component, None);
    let mut pod = pod_spec(container, names.component(component), volumes, needs_api);
    pod.affinity = Some(spread(&selector));
    Deployment {
        metadata: m.object(names.component(component), component, None),
        spec: DeploymentSpec {
            replicas: Some(layout.replicas as i32),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            // Alert state lives in the pod: never two alertmanagers of one replica slot.
            strategy: (component == Component::Alertmanager).then(|| DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..DeploymentStrategy::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(names.labels(component, None)),
                    annotations: Some(config_annotations(config_hash)),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

/// The ClusterIP Service of `component` on its HTTP port.
pub fn service(m: &Meta, component: Component) -> Service {
    let names = &m.names;
    let port = match component {
        Component::Alertmanager => ALERTMANAGER_PORT,
        _ => QUERY_PORT,
    };
    Service {
        metadata: m.object(names.component(component), component, None),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(names.selector(component, None)),
            ports: Some(vec![service_port("http", port)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
