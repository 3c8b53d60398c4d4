//! The alertmanager: one pod of a StatefulSet whose PersistentVolumeClaim keeps alert
//! state, the notification log and silences at `/data` when the pod is rescheduled. It
//! reads its AlertRules, routing and receivers' Secrets from the API itself.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    EnvVar, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodTemplateSpec, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use telltale_crds::MetricClusterSpec;

use super::Meta;
use super::pod::{
    ContainerSpec, component_secrets, config_annotations, field_env, pod_spec, port,
    shard_map_volume,
};
use crate::naming::{ALERTMANAGER_PORT, Component, SHARD_MAP_DIR, SHARD_MAP_FILE};

/// Size of the alertmanager's claim (alert state, notification log, silences: small).
pub const ALERTMANAGER_VOLUME_SIZE: &str = "1Gi";

/// The flags of `telltale alertmanager`: its namespace comes from `POD_NAMESPACE`, its
/// MetricCluster from `TELLTALE_METRIC_CLUSTER` (see [`alertmanager_env`]).
pub fn alertmanager_args() -> Vec<String> {
    vec![
        "alertmanager".into(),
        "--listen".into(),
        format!("0.0.0.0:{ALERTMANAGER_PORT}"),
        "--shard-map".into(),
        format!("{SHARD_MAP_DIR}/{SHARD_MAP_FILE}"),
        "--data-dir".into(),
        "/data".into(),
        "--kubernetes".into(),
    ]
}

/// The environment of the alertmanager container: the namespace it watches and the
/// MetricCluster whose `spec.alerting` routes its alerts.
pub fn alertmanager_env(cluster: &str) -> Vec<EnvVar> {
    vec![
        field_env("POD_NAMESPACE", "metadata.namespace"),
        EnvVar {
            name: "TELLTALE_METRIC_CLUSTER".into(),
            value: Some(cluster.into()),
            ..EnvVar::default()
        },
    ]
}

/// The alertmanager StatefulSet: always one replica (its state is not shared between
/// pods), replaced by deleting the old pod first, with a claim for `/data`.
pub fn stateful_set(m: &Meta, spec: &MetricClusterSpec, config_hash: &str) -> StatefulSet {
    let names = &m.names;
    let component = Component::Alertmanager;
    let (volume, mount) = shard_map_volume(&names.shard_map());
    let mut args = alertmanager_args();
    let mut mounts = vec![
        mount,
        VolumeMount {
            name: "data".into(),
            mount_path: "/data".into(),
            ..VolumeMount::default()
        },
    ];
    let mut volumes = vec![volume];
    for files in component_secrets(names, spec, component) {
        files.add_to(&mut args, &mut mounts, &mut volumes);
    }
    let container = ContainerSpec {
        component,
        command: vec!["telltale".into()],
        args,
        ports: vec![port("http", ALERTMANAGER_PORT)],
        http_port: "http",
        env: alertmanager_env(&names.cluster),
        mounts,
        resources: spec.alertmanager.resources.clone(),
    }
    .build(spec);
    let selector = names.selector(component, None);
    let pod = pod_spec(container, names.component(component), volumes, true);
    StatefulSet {
        metadata: m.object(names.component(component), component, None),
        spec: StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(names.component(component)),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(names.labels(component, None)),
                    annotations: Some(config_annotations(config_hash)),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    labels: Some(names.labels(component, None)),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    storage_class_name: spec.storage.storage_class_name.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            Quantity(ALERTMANAGER_VOLUME_SIZE.into()),
                        )])),
                        ..VolumeResourceRequirements::default()
                    }),
                    ..PersistentVolumeClaimSpec::default()
                }),
                ..PersistentVolumeClaim::default()
            }]),
            ..StatefulSetSpec::default()
        },
        ..StatefulSet::default()
    }
}
