//! One storage shard: a StatefulSet whose pods form one Raft group, its headless Service
//! (stable peer names) and a PodDisruptionBudget that keeps a quorum. A shard of a
//! cluster bootstrapped from a backup (`spec.restore`) has an init container that
//! restores it into its first replica (see [`restore_container`]); `spec.coldStorage`
//! adds its flags and environment to the storage container (`super::cold_storage`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, Container, EnvFromSource, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodAffinityTerm, PodAntiAffinity, PodTemplateSpec, SecretEnvSource, Service, ServicePort,
    ServiceSpec, VolumeMount, VolumeResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use telltale_crds::{MAX_REPLICAS_PER_SHARD, MetricClusterSpec, format_rollup_tiers};

use super::Meta;
use super::cold_storage::add_cold_storage;
use super::pod::{ContainerSpec, component_tls, component_web, field_env, pod_spec, port};
use crate::naming::{Component, Names, STORAGE_GRPC_PORT, STORAGE_HTTP_PORT, WEB_VOLUME, quorum};

/// The shell line that turns the pod's ordinal (the suffix of its hostname) into its
/// 1-based Raft replica id; every other flag follows as `"$@"`.
pub const STORAGE_ENTRYPOINT: &str =
    "exec telltale storage --replica-id \"$(( ${HOSTNAME##*-} + 1 ))\" \"$@\"";

/// The shell line of the restore init container: only the pod of ordinal 0 (replica 1,
/// the one that creates its shard's group) restores; the others start empty and join.
pub const RESTORE_ENTRYPOINT: &str =
    "[ \"${HOSTNAME##*-}\" = 0 ] || exit 0; exec telltale restore \"$@\"";

/// The name of that init container.
pub const RESTORE_CONTAINER: &str = "restore";

/// What a shard's objects take from its running group (see `crate::membership`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardLayout {
    /// StatefulSet `replicas`.
    pub replicas: u32,
    /// PodDisruptionBudget `minAvailable`.
    pub min_available: u32,
    /// `--initial-voters`: the replicas the group was (or will be) created with.
    pub initial_voters: u32,
    /// Whether the pods restore `spec.restore` before they start (kept as the
    /// StatefulSet was first rendered: see [`restores`]).
    pub restore: bool,
}

impl ShardLayout {
    /// A shard whose group does not exist yet: created with `replicasPerShard` voters.
    pub fn new(spec: &MetricClusterSpec) -> Self {
        ShardLayout {
            replicas: spec.replicas_per_shard,
            min_available: quorum(spec.replicas_per_shard),
            initial_voters: spec.replicas_per_shard,
            restore: spec.restore.is_some(),
        }
    }
}

/// Whether a shard's StatefulSet restores a backup into its first pod (it was created
/// with `spec.restore`).
pub fn restores(set: &StatefulSet) -> bool {
    set.spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.init_containers.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.name == RESTORE_CONTAINER))
}

/// The `--initial-voters` a shard's StatefulSet runs with: the flag, or for a
/// StatefulSet rendered before it existed, the number of `--peers` (all of which
/// formed the group).
pub fn initial_voters_of(set: &StatefulSet) -> Option<u32> {
    let args = set
        .spec
        .template
        .spec
        .as_ref()?
        .containers
        .first()?
        .args
        .as_ref()?;
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    if let Some(n) = value("--initial-voters") {
        return n.parse().ok();
    }
    value("--peers").map(|p| p.split(',').filter(|s| !s.is_empty()).count() as u32)
}

/// The flags of `telltale storage` for shard `shard` (everything but `--replica-id`):
/// every replica the shard can have is a peer, so that growing or shrinking the group
/// changes no pod's command line.
pub fn storage_args(
    names: &Names,
    spec: &MetricClusterSpec,
    shard: u32,
    initial_voters: u32,
) -> Vec<String> {
    [
        "--data-dir".to_string(),
        "/data".into(),
        "--grpc-listen".into(),
        format!("0.0.0.0:{STORAGE_GRPC_PORT}"),
        "--listen".into(),
        format!("0.0.0.0:{STORAGE_HTTP_PORT}"),
        "--shard".into(),
        shard.to_string(),
        "--peers".into(),
        peers(names, shard),
        "--initial-voters".into(),
        initial_voters.to_string(),
        "--retention-raw".into(),
        spec.retention.raw.to_string(),
        "--rollup-tiers".into(),
        format_rollup_tiers(&spec.retention.tiers()),
    ]
    .into()
}

/// `--peers` of shard `shard`: every replica it can have, `1=ADDRESS,2=ADDRESS,...`.
fn peers(names: &Names, shard: u32) -> String {
    (0..MAX_REPLICAS_PER_SHARD)
        .map(|i| format!("{}={}", i + 1, names.storage_address(shard, i)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The flags of `telltale restore` in shard `shard`'s init container: the backup's shard
/// of the same number into an empty `/data` only (`--if-empty`), and only while no other
/// replica of the shard belongs to a group (`--peers`, `--initial-voters`: the rule by
/// which replica 1 creates the group), so a first replica that lost its volume in a
/// running cluster rejoins it instead of starting a second group from the backup.
pub fn restore_args(
    names: &Names,
    spec: &MetricClusterSpec,
    shard: u32,
    initial_voters: u32,
) -> Option<Vec<String>> {
    let restore = spec.restore.as_ref()?;
    Some(vec![
        "--from".into(),
        restore.from.clone(),
        "--shard".into(),
        shard.to_string(),
        "--data-dir".into(),
        "/data".into(),
        "--if-empty".into(),
        "--peers".into(),
        peers(names, shard),
        "--initial-voters".into(),
        initial_voters.to_string(),
    ])
}

/// The init container restoring `spec.restore` into the pod of ordinal 0 (the others
/// exit at once): the storage container's image, user, volume and gRPC identity, with
/// the credentials Secret's keys as its environment.
pub fn restore_container(
    spec: &MetricClusterSpec,
    storage: &Container,
    args: Vec<String>,
) -> Container {
    let mut args = args;
    // The storage container's `--grpc.tls-*` flags: the restore asks the peers over
    // mutual TLS whether the group exists.
    let storage_args = storage.args.as_deref().unwrap_or_default();
    args.extend(
        storage_args
            .iter()
            .filter(|a| a.starts_with("--grpc.tls-"))
            .cloned(),
    );
    let credentials = spec
        .restore
        .as_ref()
        .and_then(|r| r.credentials_secret.clone());
    Container {
        name: RESTORE_CONTAINER.into(),
        command: Some(vec![
            "/bin/sh".into(),
            "-c".into(),
            RESTORE_ENTRYPOINT.into(),
            "telltale-restore".into(),
        ]),
        args: Some(args),
        env_from: credentials.map(secret_env),
        ports: None,
        readiness_probe: None,
        liveness_probe: None,
        // Without `--web.config.file`: the restore serves nothing.
        volume_mounts: storage
            .volume_mounts
            .as_ref()
            .map(|m| m.iter().filter(|m| m.name != WEB_VOLUME).cloned().collect()),
        ..storage.clone()
    }
}

/// A Secret's keys as a container's environment.
pub(crate) fn secret_env(secret: String) -> Vec<EnvFromSource> {
    vec![EnvFromSource {
        secret_ref: Some(SecretEnvSource {
            name: secret,
            optional: Some(false),
        }),
        ..EnvFromSource::default()
    }]
}

/// The headless Service giving shard `shard`'s pods their stable DNS names. Unready pods
/// are published too: Raft peers must find each other before any of them is ready.
pub fn service(m: &Meta, shard: u32) -> Service {
    let names = &m.names;
    Service {
        metadata: m.object(names.storage(shard), Component::Storage, Some(shard)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(names.selector(Component::Storage, Some(shard))),
            ports: Some(vec![
                service_port("grpc", STORAGE_GRPC_PORT),
                service_port("http", STORAGE_HTTP_PORT),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// A TCP service port whose target is the container port of the same name.
pub fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        ..ServicePort::default()
    }
}

/// The StatefulSet of shard `shard`. Pods start in parallel (a Raft group needs a quorum
/// before any member is ready) and are replaced only when the operator deletes them
/// (`OnDelete`), one at a time, each after the previous one rejoined its group.
pub fn stateful_set(
    m: &Meta,
    spec: &MetricClusterSpec,
    shard: u32,
    layout: &ShardLayout,
) -> StatefulSet {
    let names = &m.names;
    let selector = names.selector(Component::Storage, Some(shard));
    let mut args = storage_args(names, spec, shard, layout.initial_voters);
    let mut env = Vec::new();
    let mut mounts = vec![VolumeMount {
        name: "data".into(),
        mount_path: "/data".into(),
        ..VolumeMount::default()
    }];
    let mut volumes = Vec::new();
    if let Some(tls) = component_tls(names, spec, Component::Storage, shard) {
        // Each pod presents its own certificate: `$(POD_NAME).crt` in the shard's Secret.
        env.push(field_env("POD_NAME", "metadata.name"));
        tls.add_to(&mut args, &mut mounts, &mut volumes);
    }
    if let Some(web) = component_web(spec) {
        web.add_to(&mut args, &mut mounts, &mut volumes);
    }
    let mut container = ContainerSpec {
        component: Component::Storage,
        command: vec![
            "/bin/sh".into(),
            "-c".into(),
            STORAGE_ENTRYPOINT.into(),
            "telltale-storage".into(),
        ],
        args,
        ports: vec![
            port("grpc", STORAGE_GRPC_PORT),
            port("http", STORAGE_HTTP_PORT),
        ],
        http_port: "http",
        env,
        mounts,
        resources: spec.storage.resources.clone(),
    }
    .build(spec);
    // `spec.backup`: the leaders upload their shard with the store's environment.
    if let Some(secret) = spec
        .backup
        .as_ref()
        .and_then(|b| b.credentials_secret.clone())
    {
        container.env_from = Some(secret_env(secret));
    }
    let init = restore_args(names, spec, shard, layout.initial_voters)
        .filter(|_| layout.restore)
        .map(|args| restore_container(spec, &container, args));
    // After the restore container took the storage container's environment: the cold
    // tier's is not the backup's.
    add_cold_storage(spec, &mut container);
    let mut pod = pod_spec(
        container,
        names.component(Component::Storage),
        volumes,
        false,
    );
    pod.affinity = Some(spread(&selector));
    pod.init_containers = init.map(|c| vec![c]);
    StatefulSet {
        metadata: m.object(names.storage(shard), Component::Storage, Some(shard)),
        spec: StatefulSetSpec {
            replicas: Some(layout.replicas as i32),
            service_name: Some(names.storage(shard)),
            pod_management_policy: Some("Parallel".into()),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                ..StatefulSetUpdateStrategy::default()
            }),
            // A replica that left its group loses its volume with its pod, so that a
            // later grow starts it empty (it is caught up by snapshot); deleting the
            // cluster keeps the claims unless `spec.deletePVCs`.
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_scaled: Some("Delete".into()),
                    when_deleted: Some("Retain".into()),
                },
            ),
            selector: LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(names.labels(Component::Storage, Some(shard))),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    labels: Some(names.labels(Component::Storage, Some(shard))),
                    ..ObjectMeta::default()
                },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    storage_class_name: spec.storage.storage_class_name.clone(),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            Quantity(spec.storage.size.clone()),
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

/// Prefer one replica of a group per node, and per zone where the nodes say which.
pub fn spread(selector: &BTreeMap<String, String>) -> Affinity {
    let term = |weight: i32, key: &str| WeightedPodAffinityTerm {
        weight,
        pod_affinity_term: PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            }),
            topology_key: key.into(),
            ..PodAffinityTerm::default()
        },
    };
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                term(100, "kubernetes.io/hostname"),
                term(50, "topology.kubernetes.io/zone"),
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

/// Voluntary disruptions (drains) may take a shard down to the quorum of its voters,
/// never below.
pub fn disruption_budget(m: &Meta, shard: u32, layout: &ShardLayout) -> PodDisruptionBudget {
    let names = &m.names;
    PodDisruptionBudget {
        metadata: m.object(names.storage(shard), Component::Storage, Some(shard)),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(layout.min_available as i32)),
            selector: Some(LabelSelector {
                match_labels: Some(names.selector(Component::Storage, Some(shard))),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}
