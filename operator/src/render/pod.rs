//! The pieces every Telltale pod shares: the container, its probes, its security settings.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar,
    EnvVarSource, ExecAction, HTTPGetAction, ObjectFieldSelector, PodSecurityContext, PodSpec,
    Probe, ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use telltale_crds::MetricClusterSpec;

use crate::naming::{
    CA_CERT, Component, GRPC_TLS_DIR, GRPC_TLS_VOLUME, Names, PROBE_PORT, SHARD_MAP_DIR, TLS_CERT,
    TLS_KEY, WEB_DIR, WEB_VOLUME,
};

/// The container's user: not root, and the owner of `/data` through `fsGroup`.
const RUN_AS: i64 = 65532;

/// A container port named `name`.
pub fn port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

/// An HTTP GET probe on the named port.
fn http_probe(path: &str, port: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(port.into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(2),
        ..Probe::default()
    }
}

/// The probe of `path`: an HTTP GET on the named port, or, when `spec.web` protects that
/// port (client certificates, passwords the kubelet does not have), `telltale probe` on
/// the container's plain loopback probe listener.
fn probe(spec: &MetricClusterSpec, path: &str, port: &str, period: i32, failures: i32) -> Probe {
    let mut probe = http_probe(path, port, period, failures);
    if spec.web.is_some() {
        probe.http_get = None;
        probe.exec = Some(ExecAction {
            command: Some(vec![
                "telltale".into(),
                "probe".into(),
                format!("http://127.0.0.1:{PROBE_PORT}{path}"),
            ]),
        });
    }
    probe
}

/// An environment variable taken from the pod's own metadata.
pub fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// The one container of a component's pod: `telltale <component> args...` with probes on
/// `/healthz` (liveness) and `/ready` (readiness) of its HTTP port.
pub struct ContainerSpec<'a> {
    pub component: Component,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub ports: Vec<ContainerPort>,
    /// Name of the HTTP port the probes use.
    pub http_port: &'a str,
    pub env: Vec<EnvVar>,
    pub mounts: Vec<VolumeMount>,
    pub resources: Option<ResourceRequirements>,
}

impl ContainerSpec<'_> {
    pub fn build(self, spec: &MetricClusterSpec) -> Container {
        let mut mounts = self.mounts;
        mounts.push(VolumeMount {
            name: "tmp".into(),
            mount_path: "/tmp".into(),
            ..VolumeMount::default()
        });
        Container {
            name: self.component.as_str().into(),
            image: Some(spec.image.clone()),
            image_pull_policy: spec.image_pull_policy.clone(),
            command: Some(self.command),
            args: Some(self.args),
            ports: Some(self.ports),
            env: (!self.env.is_empty()).then_some(self.env),
            volume_mounts: Some(mounts),
            resources: self.resources,
            readiness_probe: Some(probe(spec, "/ready", self.http_port, 5, 3)),
            liveness_probe: Some(probe(spec, "/healthz", self.http_port, 10, 6)),
            security_context: Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                read_only_root_filesystem: Some(true),
                run_as_non_root: Some(true),
                capabilities: Some(Capabilities {
                    drop: Some(vec!["ALL".into()]),
                    ..Capabilities::default()
                }),
                ..SecurityContext::default()
            }),
            ..Container::default()
        }
    }
}

/// A pod spec around one container, with the writable `/tmp` and any extra volumes.
pub fn pod_spec(
    container: Container,
    service_account: String,
    mut volumes: Vec<Volume>,
    automount_token: bool,
) -> PodSpec {
    volumes.push(Volume {
        name: "tmp".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    });
    PodSpec {
        containers: vec![container],
        service_account_name: Some(service_account),
        automount_service_account_token: Some(automount_token),
        volumes: Some(volumes),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        }),
        termination_grace_period_seconds: Some(30),
        ..PodSpec::default()
    }
}

/// The shard map volume and its mount.
pub fn shard_map_volume(config_map: &str) -> (Volume, VolumeMount) {
    (
        Volume {
            name: "shard-map".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: config_map.into(),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        },
        VolumeMount {
            name: "shard-map".into(),
            mount_path: SHARD_MAP_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
    )
}

/// Pod template annotations: the hash of the configuration the pods read, so that a
/// changed shard map rolls them.
pub fn config_annotations(config_hash: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(
        "telltale.dev/config-hash".to_string(),
        config_hash.to_string(),
    )])
}

/// A Secret mounted into a component's pod: its volume, the mount and the flags naming
/// the files in it.
pub struct SecretFiles {
    pub volume: Volume,
    pub mount: VolumeMount,
    pub args: Vec<String>,
}

impl SecretFiles {
    /// Secret `secret` as volume `name`, mounted whole (no `subPath`: the kubelet then
    /// replaces renewed files in place) and read-only at `dir`, with `args`.
    pub fn new(name: &str, secret: String, dir: &str, args: Vec<String>) -> SecretFiles {
        SecretFiles {
            volume: Volume {
                name: name.into(),
                secret: Some(SecretVolumeSource {
                    secret_name: Some(secret),
                    // Read by the container's user through `fsGroup` only.
                    default_mode: Some(0o440),
                    ..SecretVolumeSource::default()
                }),
                ..Volume::default()
            },
            mount: VolumeMount {
                name: name.into(),
                mount_path: dir.into(),
                read_only: Some(true),
                ..VolumeMount::default()
            },
            args,
        }
    }

    /// Adds the flags, the mount and the volume to a pod's.
    pub fn add_to(
        self,
        args: &mut Vec<String>,
        mounts: &mut Vec<VolumeMount>,
        volumes: &mut Vec<Volume>,
    ) {
        args.extend(self.args);
        mounts.push(self.mount);
        volumes.push(self.volume);
    }
}

/// The TLS Secret `secret` at [`GRPC_TLS_DIR`], with the flags naming the CA, `cert` and
/// `key` (file names in the Secret; `$(POD_NAME)` is expanded by the kubelet).
pub fn grpc_tls(secret: String, cert: &str, key: &str) -> SecretFiles {
    let args = vec![
        format!("--grpc.tls-ca-file={GRPC_TLS_DIR}/{CA_CERT}"),
        format!("--grpc.tls-cert-file={GRPC_TLS_DIR}/{cert}"),
        format!("--grpc.tls-key-file={GRPC_TLS_DIR}/{key}"),
    ];
    SecretFiles::new(GRPC_TLS_VOLUME, secret, GRPC_TLS_DIR, args)
}

/// What the controller read from `spec.web`'s Secret: whether the file turns TLS on (the
/// query then calls the scrapers and the alertmanager at `https://`), whether the Secret
/// has a `ca.crt` (the CA the query trusts for them), and the server certificate and key
/// as the file names them (the query presents them where client certificates are asked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebServing {
    pub tls: bool,
    pub peer_ca: bool,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

impl WebServing {
    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// The query's flags for its calls to the scrapers and the alertmanager.
    pub fn peer_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if !self.tls {
            return args;
        }
        if self.peer_ca {
            args.push(format!("--peer.tls-ca-file={WEB_DIR}/{CA_CERT}"));
        }
        if let (Some(cert), Some(key)) = (&self.cert_file, &self.key_file) {
            args.push(format!("--peer.tls-cert-file={}", in_web_dir(cert)));
            args.push(format!("--peer.tls-key-file={}", in_web_dir(key)));
        }
        args
    }
}

/// A path of the web configuration file, resolved as the file resolves it (relative to
/// its directory).
fn in_web_dir(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{WEB_DIR}/{path}")
    }
}

/// `spec.web`'s Secret mounted whole (re-read when it changes) at [`WEB_DIR`], with
/// `--web.config.file` and the loopback probe listener; `None` without `spec.web`.
pub fn component_web(spec: &MetricClusterSpec) -> Option<SecretFiles> {
    let web = spec.web.as_ref()?;
    let args = vec![
        format!("--web.config.file={WEB_DIR}/{}", web.config_secret.key()),
        format!("--probe.listen-address=127.0.0.1:{PROBE_PORT}"),
    ];
    Some(SecretFiles::new(
        WEB_VOLUME,
        web.config_secret.name.clone(),
        WEB_DIR,
        args,
    ))
}

/// The Secrets a (non-storage) component's pod mounts: its gRPC TLS and `spec.web`'s.
pub fn component_secrets(
    names: &Names,
    spec: &MetricClusterSpec,
    component: Component,
) -> impl Iterator<Item = SecretFiles> {
    component_tls(names, spec, component, 0)
        .into_iter()
        .chain(component_web(spec))
}

/// `component`'s gRPC TLS (storage: shard `shard`'s Secret, each pod its own files),
/// or `None` when `spec.tls.internal` is `Disabled`.
pub fn component_tls(
    names: &Names,
    spec: &MetricClusterSpec,
    component: Component,
    shard: u32,
) -> Option<SecretFiles> {
    if !spec.tls.internal.enabled() {
        return None;
    }
    let secret = names.tls_secret(component, shard);
    Some(match component {
        Component::Storage => grpc_tls(secret, "$(POD_NAME).crt", "$(POD_NAME).key"),
        _ => grpc_tls(secret, TLS_CERT, TLS_KEY),
    })
}
