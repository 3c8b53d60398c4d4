//! The scraper StatefulSet: stable member names (`<mc>-scraper-<i>`) over which targets
//! are spread by consistent hashing, and the headless Service its peers are found by
//! (each replica watches the Service's EndpointSlices for the live member set).

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, PodTemplateSpec, Service, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use telltale_crds::MetricClusterSpec;

use super::Meta;
use super::pod::{
    ContainerSpec, component_secrets, config_annotations, field_env, pod_spec, port,
    shard_map_volume,
};
use super::storage::{service_port, spread};
use crate::naming::{Component, SCRAPER_PORT, SHARD_MAP_DIR, SHARD_MAP_FILE};

/// Where the scraper keeps its queue of batches storage could not take yet: an emptyDir
/// (the root filesystem is read-only), which outlives container restarts.
pub const QUEUE_DIR: &str = "/data/queue";

/// The flags of `telltale scraper` (`$(POD_NAME)` and `$(POD_NAMESPACE)` are expanded by
/// the kubelet). Targets come from the ScrapeTargets, pods and endpoints of the cluster's
/// own namespace, the one its Role grants.
///
/// The live member set is the ready endpoints of the headless Service `service`; the
/// StatefulSet's ordinals are the set until they are first listed.
pub fn scraper_args(spec: &MetricClusterSpec, service: &str) -> Vec<String> {
    vec![
        "scraper".into(),
        "--listen".into(),
        format!("0.0.0.0:{SCRAPER_PORT}"),
        "--shard-map".into(),
        format!("{SHARD_MAP_DIR}/{SHARD_MAP_FILE}"),
        "--member-name".into(),
        "$(POD_NAME)".into(),
        "--members".into(),
        spec.scraper.replicas.to_string(),
        "--kubernetes-discovery".into(),
        "--watch-namespace".into(),
        "$(POD_NAMESPACE)".into(),
        "--queue-dir".into(),
        QUEUE_DIR.into(),
        "--members-service".into(),
        service.into(),
    ]
}

/// The headless Service of the scraper members.
pub fn service(m: &Meta) -> Service {
    let names = &m.names;
    Service {
        metadata: m.object(
            names.component(Component::Scraper),
            Component::Scraper,
            None,
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(names.selector(Component::Scraper, None)),
            ports: Some(vec![service_port("http", SCRAPER_PORT)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The scraper StatefulSet.
pub fn stateful_set(m: &Meta, spec: &MetricClusterSpec, config_hash: &str) -> StatefulSet {
    let names = &m.names;
    let (volume, mount) = shard_map_volume(&names.shard_map());
    let mut args = scraper_args(spec, &names.component(Component::Scraper));
    let mut mounts = vec![
        mount,
        VolumeMount {
            name: "data".into(),
            mount_path: "/data".into(),
            ..VolumeMount::default()
        },
    ];
    let data = Volume {
        name: "data".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    };
    let mut volumes = vec![volume, data];
    for files in component_secrets(names, spec, Component::Scraper) {
        files.add_to(&mut args, &mut mounts, &mut volumes);
    }
    let container = ContainerSpec {
        component: Component::Scraper,
        command: vec!["telltale".into()],
        args,
        ports: vec![port("http", SCRAPER_PORT)],
        http_port: "http",
        env: vec![
            field_env("POD_NAME", "metadata.name"),
            field_env("POD_NAMESPACE", "metadata.namespace"),
            // The MetricCluster whose serviceMonitorSelector / podMonitorSelector pick
            // prometheus-operator's monitors.
            k8s_openapi::api::core::v1::EnvVar {
                name: "TELLTALE_METRIC_CLUSTER".into(),
                value: Some(names.cluster.clone()),
                ..Default::default()
            },
        ],
        mounts,
        resources: spec.scraper.resources.clone(),
    }
    .build(spec);
    let selector = names.selector(Component::Scraper, None);
    let mut pod = pod_spec(
        container,
        names.component(Component::Scraper),
        volumes,
        true,
    );
    pod.affinity = Some(spread(&selector));
    StatefulSet {
        metadata: m.object(
            names.component(Component::Scraper),
            Component::Scraper,
            None,
        ),
        spec: StatefulSetSpec {
            replicas: Some(spec.scraper.replicas as i32),
            service_name: Some(names.component(Component::Scraper)),
            pod_management_policy: Some("Parallel".into()),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(names.labels(Component::Scraper, None)),
                    annotations: Some(config_annotations(config_hash)),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..StatefulSetSpec::default()
        },
        ..StatefulSet::default()
    }
}

/// At most one pod of a component away at a time during drains.
pub fn one_at_a_time(m: &Meta, component: Component) -> PodDisruptionBudget {
    let names = &m.names;
    PodDisruptionBudget {
        metadata: m.object(names.component(component), component, None),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(names.selector(component, None)),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}
