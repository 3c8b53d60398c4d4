//! The query Deployment, and the ClusterIP Services of query and the alertmanager.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{PodTemplateSpec, Service, ServiceSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use telltale_crds::MetricClusterSpec;

use super::Meta;
use super::pod::{
    ContainerSpec, WebServing, component_secrets, config_annotations, field_env, pod_spec, port,
    shard_map_volume,
};
use super::storage::{service_port, spread};
use crate::naming::{
    ALERTMANAGER_PORT, Component, Names, QUERY_PORT, SHARD_MAP_DIR, SHARD_MAP_FILE,
};

/// The flags of `telltale query`: storage from the shard map; `/api/v1/targets` merged
/// from every scraper replica (one `--scraper-url` per StatefulSet ordinal, so scaling
/// the scrapers rolls the query pods); the alerting API forwarded to the alertmanager's
/// Service.
/// Over `https://` (with `--peer.tls-*`) when `spec.web`'s file turns TLS on.
pub fn query_args(names: &Names, spec: &MetricClusterSpec, web: &WebServing) -> Vec<String> {
    let mut args = vec![
        "query".into(),
        "--listen".into(),
        format!("0.0.0.0:{QUERY_PORT}"),
        "--shard-map".into(),
        format!("{SHARD_MAP_DIR}/{SHARD_MAP_FILE}"),
    ];
    for ordinal in 0..spec.scraper.replicas {
        args.push("--scraper-url".into());
        args.push(names.scraper_url(ordinal, web.scheme()));
    }
    args.push("--alertmanager-url".into());
    args.push(names.alertmanager_url(web.scheme()));
    args.extend(web.peer_args());
    args
}

/// The query Deployment.
pub fn deployment(m: &Meta, spec: &MetricClusterSpec, config_hash: &str) -> Deployment {
    let names = &m.names;
    let component = Component::Query;
    let (volume, mount) = shard_map_volume(&names.shard_map());
    let mut args = query_args(names, spec, &m.web);
    let mut mounts = vec![mount];
    let mut volumes = vec![volume];
    for files in component_secrets(names, spec, component) {
        files.add_to(&mut args, &mut mounts, &mut volumes);
    }
    let container = ContainerSpec {
        component,
        command: vec!["telltale".into()],
        args,
        ports: vec![port("http", QUERY_PORT)],
        http_port: "http",
        env: vec![field_env("POD_NAMESPACE", "metadata.namespace")],
        mounts,
        resources: spec.query.resources.clone(),
    }
    .build(spec);
    let selector = names.selector(component, None);
    let mut pod = pod_spec(container, names.component(component), volumes, false);
    pod.affinity = Some(spread(&selector));
    Deployment {
        metadata: m.object(names.component(component), component, None),
        spec: DeploymentSpec {
            replicas: Some(spec.query.replicas as i32),
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
