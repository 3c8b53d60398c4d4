//! Running a planned pod as a local process: what the kubelet and the container runtime
//! do, on one machine.
//!
//! | Kubernetes | here |
//! |---|---|
//! | the image's `ENTRYPOINT`/`CMD`/`WORKDIR`/`PATH` | [`Image::telltale`], from the Dockerfile; `telltale` on the `PATH` is the binary under test |
//! | `command`, `args` | taken as rendered, `$(VAR)` expanded ([`super::expand`]), then addresses mapped ([`super::network`]) and mount paths mapped to local directories |
//! | `env`: `value`, `valueFrom.fieldRef` | expanded and resolved as the kubelet does (`status.podIP` is 127.0.0.1); other sources are refused |
//! | `HOSTNAME` | the pod's hostname |
//! | volumes: `configMap`, `secret`, `emptyDir`, `persistentVolumeClaim` and claim templates | a directory each, per pod (claims per claim name); ConfigMap files are written with addresses mapped, Secret files as they are (read from the API at [`Kubelet::refresh_secrets`]) |
//! | the service account token mount (`automountServiceAccountToken`) | `KUBECONFIG` pointing at the emulated API, with the pod's namespace |
//! | `readOnlyRootFilesystem` | the root is an empty directory per pod (the working directory when no volume holds it), checked to stay empty |
//! | `readinessProbe.httpGet` | polled on the mapped port |
//! | `initContainers` | run in order before the container by one `/bin/sh` that then `exec`s it (each prepared as the container is, with its own command line, environment and working directory; a failing one ends the pod's process, which restarts as a crashed container does) |
//!
//! Anything else a pod asks for (several containers, `subPath`, `envFrom`) makes the
//! test fail with a message naming it, rather than being silently approximated.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::expand::expand;
use super::network::PodNetwork;
use super::pods::PlannedPod;
use crate::common::{Proc, TELLTALE, wait_ready};

/// What the image gives a container.
pub struct Image {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub workdir: String,
    pub path: String,
}

impl Image {
    /// The `telltale` image (see the Dockerfile: Debian's default `PATH`, the binary in
    /// `/usr/local/bin`, `WORKDIR /data`, `ENTRYPOINT ["telltale"]`, `CMD ["standalone"]`).
    pub fn telltale() -> Image {
        Image {
            entrypoint: vec!["telltale".into()],
            cmd: vec!["standalone".into()],
            workdir: "/data".into(),
            path: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        }
    }
}

/// Runs pods of one namespace.
pub struct Kubelet {
    dir: PathBuf,
    /// Holds `telltale`, a link to the binary under test, first on every pod's `PATH`.
    bin_dir: PathBuf,
    image: Image,
    pub network: PodNetwork,
    config_maps: Vec<Value>,
    /// The namespace's Secrets as last read ([`Kubelet::refresh_secrets`]).
    secrets: std::sync::Mutex<Vec<Value>>,
    service_accounts: Vec<Value>,
    kubeconfig: PathBuf,
}

/// A pod's process.
pub struct RunningPod {
    pub name: String,
    /// `StatefulSet/<name>` or `Deployment/<name>`.
    pub workload: String,
    pub proc: Proc,
    /// The command line as started (program first), after expansion and mapping.
    pub command: Vec<String>,
    /// The environment as started.
    pub env: BTreeMap<String, String>,
    ready_url: Option<String>,
    rootfs: PathBuf,
    made_dirs: Vec<PathBuf>,
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {v}"))
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .map(|s| str_of(s, "argument").to_string())
            .collect()
    })
}

impl Kubelet {
    /// A kubelet keeping pod directories under `dir`, for pods that see `config_maps`,
    /// `secrets` and `service_accounts`, and reach the API through `kubeconfig`.
    pub fn new(
        dir: &Path,
        network: PodNetwork,
        config_maps: Vec<Value>,
        secrets: Vec<Value>,
        service_accounts: Vec<Value>,
        kubeconfig: PathBuf,
    ) -> Kubelet {
        let bin_dir = dir.join("image-bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        let link = bin_dir.join("telltale");
        if !link.exists() {
            std::os::unix::fs::symlink(TELLTALE, &link).unwrap();
        }
        Kubelet {
            dir: dir.to_path_buf(),
            bin_dir,
            image: Image::telltale(),
            network,
            config_maps,
            secrets: std::sync::Mutex::new(secrets),
            service_accounts,
            kubeconfig,
        }
    }

    /// Reads the Secrets of `namespace` again (pods started after see them as they are
    /// now: the operator adds certificates when a shard grows).
    pub async fn refresh_secrets(&self, api: &super::api::KubeApi, namespace: &str) {
        let secrets = api.list("v1", "Secret", namespace, "").await;
        *self.secrets.lock().unwrap() = secrets;
    }

    /// Starts `pod`'s container, after its init containers.
    pub fn start(&self, pod: &PlannedPod) -> RunningPod {
        let containers = pod.containers();
        assert_eq!(
            containers.len(),
            1,
            "{}: this harness runs pods of one container",
            pod.name
        );
        let pod_dir = self.dir.join("pods").join(&pod.name);
        let rootfs = pod_dir.join("rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        let volumes = self.volumes(pod, &pod_dir);
        let main = self.prepare(pod, containers[0], &volumes, &rootfs);
        let inits: Vec<Prepared> = pod.spec["initContainers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| self.prepare(pod, c, &volumes, &rootfs))
            .collect();
        let mut cmd = if inits.is_empty() {
            let mut cmd = Command::new(&main.program);
            cmd.args(&main.argv[1..])
                .env_clear()
                .envs(&main.env)
                .current_dir(&main.cwd);
            cmd
        } else {
            let mut script: String = inits
                .iter()
                .map(|i| format!("{} || exit $?\n", i.shell(false)))
                .collect();
            script.push_str(&main.shell(true));
            let mut cmd = Command::new("/bin/sh");
            cmd.args(["-c", &script]).env_clear().current_dir(&rootfs);
            cmd
        };
        let proc = Proc::spawn(
            &pod.name,
            &mut cmd,
            self.dir.join(format!("{}.log", pod.name)),
        );
        let c = containers[0];
        let ready_url = c["readinessProbe"]["httpGet"].as_object().map(|get| {
            let port = self.network.resolve(&pod.name, &get["port"]);
            let path = get.get("path").and_then(Value::as_str).unwrap_or("/");
            format!("http://127.0.0.1:{port}{path}")
        });
        let mut made_dirs = vec![rootfs.clone()];
        made_dirs.extend(main.made_dirs);
        made_dirs.extend(inits.into_iter().flat_map(|i| i.made_dirs));
        RunningPod {
            name: pod.name.clone(),
            workload: pod.workload.clone(),
            proc,
            command: main.argv,
            env: main.env,
            ready_url,
            rootfs,
            made_dirs,
        }
    }

    /// Container `c` of `pod` as its process would start: command line, environment and
    /// working directory.
    fn prepare(
        &self,
        pod: &PlannedPod,
        c: &Value,
        volumes: &BTreeMap<String, PathBuf>,
        rootfs: &Path,
    ) -> Prepared {
        // Mount path -> local directory, longest first.
        let mut mounts: Vec<(String, PathBuf)> = c["volumeMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|m| {
                assert!(
                    m["subPath"].is_null() && m["subPathExpr"].is_null(),
                    "{}: subPath mounts are not supported",
                    pod.name
                );
                let name = str_of(&m["name"], "mount name");
                let dir = volumes
                    .get(name)
                    .unwrap_or_else(|| panic!("{}: mount of unknown volume {name}", pod.name));
                (
                    str_of(&m["mountPath"], "mountPath").to_string(),
                    dir.clone(),
                )
            })
            .collect();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.0.len()));
        let map = |s: &str| map_paths(&self.network.map(s, Some(&pod.name)), &mounts);

        let env = self.env(pod, c);
        let lookup = |name: &str| env.get(name).cloned();
        let (command, args) = match (strings(&c["command"]), strings(&c["args"])) {
            (Some(cmd), args) => (cmd, args.unwrap_or_default()),
            (None, Some(args)) => (self.image.entrypoint.clone(), args),
            (None, None) => (self.image.entrypoint.clone(), self.image.cmd.clone()),
        };
        let argv: Vec<String> = command
            .iter()
            .chain(&args)
            .map(|a| map(&expand(a, &lookup)))
            .collect();
        let mut env: BTreeMap<String, String> =
            env.iter().map(|(k, v)| (k.clone(), map(v))).collect();
        env.insert("HOSTNAME".into(), pod.hostname.clone());
        env.insert("HOME".into(), rootfs.display().to_string());
        env.insert(
            "PATH".into(),
            format!("{}:{}", self.bin_dir.display(), self.image.path),
        );
        if self.automount_token(pod) {
            env.insert("KUBECONFIG".into(), self.kubeconfig.display().to_string());
        }

        let workdir = c["workingDir"]
            .as_str()
            .unwrap_or(&self.image.workdir)
            .to_string();
        let mut made_dirs = Vec::new();
        let cwd = match mounts
            .iter()
            .find(|(path, _)| under(&workdir, path).is_some())
        {
            Some(_) => PathBuf::from(map_paths(&workdir, &mounts)),
            None => {
                let dir = rootfs.join(workdir.trim_start_matches('/'));
                std::fs::create_dir_all(&dir).unwrap();
                made_dirs.extend(
                    dir.ancestors()
                        .take_while(|d| *d != rootfs)
                        .map(Path::to_path_buf),
                );
                dir
            }
        };
        let program = self.find_program(&argv[0], &env["PATH"]);
        Prepared {
            program,
            argv,
            env,
            cwd,
            made_dirs,
        }
    }
    /// A directory per volume of the pod.
    fn volumes(&self, pod: &PlannedPod, pod_dir: &Path) -> BTreeMap<String, PathBuf> {
        let mut out = BTreeMap::new();
        for (volume, claim) in &pod.claims {
            out.insert(volume.clone(), self.claim_dir(claim));
        }
        for v in pod.spec["volumes"].as_array().into_iter().flatten() {
            let name = str_of(&v["name"], "volume name").to_string();
            let dir = pod_dir.join("volumes").join(&name);
            if v["emptyDir"].is_object() {
                std::fs::create_dir_all(&dir).unwrap();
            } else if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
                out.insert(name, self.claim_dir(claim));
                continue;
            } else if v["configMap"].is_object() {
                self.write_config_map(pod, &v["configMap"], &dir);
            } else if v["secret"].is_object() {
                self.write_secret(pod, &v["secret"], &dir);
            } else {
                panic!("{}: volume {v} is not supported by this harness", pod.name);
            }
            out.insert(name, dir);
        }
        out
    }

    /// The network the pods run on.
    pub fn network(&self) -> &PodNetwork {
        &self.network
    }

    /// Deletes a PersistentVolumeClaim's volume (what a StatefulSet's `whenScaled: Delete`
    /// does to the claims of the pods it removes).
    pub fn delete_claim(&self, claim: &str) {
        let dir = self.dir.join("persistent-volumes").join(claim);
        if dir.exists() {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    fn claim_dir(&self, claim: &str) -> PathBuf {
        let dir = self.dir.join("persistent-volumes").join(claim);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The Secret's keys as files (the whole Secret: `items` are not used by the operator).
    fn write_secret(&self, pod: &PlannedPod, source: &Value, dir: &Path) {
        use base64::Engine;
        let name = str_of(&source["secretName"], "secretName");
        assert!(
            source["items"].is_null(),
            "{}: Secret items are not supported by this harness",
            pod.name
        );
        let secrets = self.secrets.lock().unwrap();
        let secret = secrets
            .iter()
            .find(|s| s["metadata"]["name"] == name && s["metadata"]["namespace"] == *pod.namespace)
            .unwrap_or_else(|| panic!("{}: Secret {name} does not exist", pod.name));
        std::fs::create_dir_all(dir).unwrap();
        for (key, value) in secret["data"].as_object().into_iter().flatten() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(str_of(value, "Secret value"))
                .unwrap_or_else(|e| panic!("Secret {name} key {key}: {e}"));
            std::fs::write(dir.join(key), bytes).unwrap();
        }
    }

    /// The ConfigMap's keys (or its `items`) as files, with cluster addresses mapped.
    fn write_config_map(&self, pod: &PlannedPod, source: &Value, dir: &Path) {
        let name = str_of(&source["name"], "configMap name");
        let cm = self
            .config_maps
            .iter()
            .find(|cm| {
                cm["metadata"]["name"] == name && cm["metadata"]["namespace"] == *pod.namespace
            })
            .unwrap_or_else(|| panic!("{}: ConfigMap {name} does not exist", pod.name));
        std::fs::create_dir_all(dir).unwrap();
        let data = cm["data"].as_object().cloned().unwrap_or_default();
        let files: Vec<(String, String)> = match source["items"].as_array() {
            Some(items) => items
                .iter()
                .map(|i| {
                    (
                        str_of(&i["key"], "item key").to_string(),
                        str_of(&i["path"], "item path").to_string(),
                    )
                })
                .collect(),
            None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
        };
        for (key, path) in files {
            let text = str_of(&data[&key], "ConfigMap value");
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, self.network.map(text, None)).unwrap();
        }
    }

    /// The container's environment in the kubelet's way: in order, each `value` expanded
    /// against the entries before it.
    fn env(&self, pod: &PlannedPod, c: &Value) -> BTreeMap<String, String> {
        assert!(
            c["envFrom"].is_null(),
            "{}: envFrom is not supported by this harness",
            pod.name
        );
        let mut env = BTreeMap::new();
        for e in c["env"].as_array().into_iter().flatten() {
            let name = str_of(&e["name"], "env name").to_string();
            let value = if let Some(v) = e["value"].as_str() {
                expand(v, &|n: &str| env.get(n).cloned())
            } else if let Some(path) = e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
                field(pod, path)
            } else if e["valueFrom"].is_null() {
                String::new()
            } else {
                panic!(
                    "{}: env source {e} is not supported by this harness",
                    pod.name
                );
            };
            env.insert(name, value);
        }
        env
    }

    /// Whether the service account token would be mounted: the pod's setting, else its
    /// ServiceAccount's, else yes.
    fn automount_token(&self, pod: &PlannedPod) -> bool {
        if let Some(b) = pod.spec["automountServiceAccountToken"].as_bool() {
            return b;
        }
        let account = pod.spec["serviceAccountName"].as_str().unwrap_or("default");
        self.service_accounts
            .iter()
            .find(|sa| {
                sa["metadata"]["name"] == account && sa["metadata"]["namespace"] == *pod.namespace
            })
            .and_then(|sa| sa["automountServiceAccountToken"].as_bool())
            .unwrap_or(true)
    }

    fn find_program(&self, program: &str, path: &str) -> PathBuf {
        if program.contains('/') {
            return PathBuf::from(program);
        }
        path.split(':')
            .map(|d| Path::new(d).join(program))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{program} is not on the PATH {path}"))
    }
}

/// A container's process, ready to start.
struct Prepared {
    program: PathBuf,
    /// The command line, program first, as the container gives it.
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    cwd: PathBuf,
    made_dirs: Vec<PathBuf>,
}

impl Prepared {
    /// The process as one shell command (`cd DIR && [exec] /usr/bin/env -i VAR=...
    /// PROGRAM ARGS...`).
    fn shell(&self, exec: bool) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| quote(&format!("{k}={v}")))
            .collect();
        let args: Vec<String> = self.argv[1..].iter().map(|a| quote(a)).collect();
        format!(
            "cd {} && {}/usr/bin/env -i {} {} {}",
            quote(&self.cwd.display().to_string()),
            if exec { "exec " } else { "" },
            env.join(" "),
            quote(&self.program.display().to_string()),
            args.join(" ")
        )
    }
}

/// `fieldRef` values of a pod.
fn field(pod: &PlannedPod, path: &str) -> String {
    match path {
        "metadata.name" => pod.name.clone(),
        "metadata.namespace" => pod.namespace.clone(),
        "spec.serviceAccountName" => pod.spec["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            .into(),
        "spec.nodeName" => "local-node".into(),
        "status.podIP" | "status.hostIP" => "127.0.0.1".into(),
        other => match other
            .strip_prefix("metadata.labels['")
            .and_then(|k| k.strip_suffix("']"))
        {
            Some(key) => pod.labels.get(key).cloned().unwrap_or_default(),
            None => panic!("{}: fieldRef {other} is not supported", pod.name),
        },
    }
}

/// The rest of `path` below `mount` (`""` for the mount itself), if it is under it.
fn under<'a>(path: &'a str, mount: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(mount)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// `text` with absolute paths under a mount replaced by the local directory: a whole
/// argument, or the value after a `=`.
fn map_paths(text: &str, mounts: &[(String, PathBuf)]) -> String {
    let (head, value) = match text.split_once('=') {
        Some((k, v)) if v.starts_with('/') => (format!("{k}="), v),
        _ => (String::new(), text),
    };
    for (mount, dir) in mounts {
        if let Some(rest) = under(value, mount) {
            return format!("{head}{}{rest}", dir.display());
        }
    }
    text.to_string()
}

impl RunningPod {
    /// Waits until the readiness probe passes (at once for a pod without one).
    pub async fn wait_ready(&mut self) {
        if let Some(url) = self.ready_url.clone() {
            wait_ready(&mut self.proc, &url).await;
        }
    }

    /// The value of `--flag` (or `--flag=value`) on the command line.
    pub fn flag(&self, flag: &str) -> Option<&str> {
        let prefix = format!("{flag}=");
        self.command.iter().enumerate().find_map(|(i, a)| {
            if a == flag {
                self.command.get(i + 1).map(String::as_str)
            } else {
                a.strip_prefix(&prefix)
            }
        })
    }

    /// Fails if the process wrote anything outside its volumes (its root filesystem is
    /// read-only in the cluster).
    pub fn assert_root_untouched(&self) {
        let mut stack = vec![self.rootfs.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                assert!(
                    path.is_dir() && self.made_dirs.contains(&path),
                    "{} wrote {} outside its volumes (readOnlyRootFilesystem)",
                    self.name,
                    path.display()
                );
                stack.push(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_mounts_are_mapped() {
        let mounts = vec![
            ("/etc/telltale".to_string(), PathBuf::from("/x/cm")),
            ("/data".to_string(), PathBuf::from("/x/data")),
        ];
        assert_eq!(map_paths("/data", &mounts), "/x/data");
        assert_eq!(map_paths("/data/queue", &mounts), "/x/data/queue");
        assert_eq!(map_paths("/database", &mounts), "/database");
        assert_eq!(
            map_paths("--shard-map=/etc/telltale/shard-map.yaml", &mounts),
            "--shard-map=/x/cm/shard-map.yaml"
        );
        assert_eq!(map_paths("0.0.0.0:9090", &mounts), "0.0.0.0:9090");
    }
}
