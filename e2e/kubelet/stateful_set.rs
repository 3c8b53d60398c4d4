//! The StatefulSet controller's and the kubelet's part for one StatefulSet whose
//! `replicas` changes while the test runs (a storage shard the operator grows and
//! shrinks): pods `0..replicas` run, each reported by its Pod object ([`PodObject`]);
//! a pod above `replicas` is stopped and its object deleted, and with
//! `persistentVolumeClaimRetentionPolicy.whenScaled: Delete` its volume too; a container
//! that exits is restarted on the same volume (`restartPolicy: Always`). Pods are created
//! and removed in parallel (`podManagementPolicy: Parallel`, what the operator renders).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::api::KubeApi;
use super::pod_objects::PodObject;
use super::pods::{PlannedPod, pods_of};
use super::run::{Kubelet, RunningPod};

struct Pod {
    running: RunningPod,
    object: PodObject,
    /// When its container was seen exited (it restarts after [`RESTART_DELAY`]).
    exited: Option<Instant>,
}

/// How long a crashed container stays down before the kubelet restarts it (the first
/// step of its back-off).
const RESTART_DELAY: Duration = Duration::from_secs(3);

/// One StatefulSet's pods, kept in step with its `replicas` until dropped.
pub struct StatefulSetPods {
    api: Arc<KubeApi>,
    kubelet: Arc<Kubelet>,
    namespace: String,
    name: String,
    /// Pod IPs are `127.0.1.<ip_base + ordinal>`.
    ip_base: u8,
    pods: Mutex<BTreeMap<u64, Pod>>,
}

impl StatefulSetPods {
    /// Starts following StatefulSet `namespace/name` (every 300 ms).
    pub fn start(
        api: Arc<KubeApi>,
        kubelet: Arc<Kubelet>,
        namespace: &str,
        name: &str,
        ip_base: u8,
    ) -> Arc<Self> {
        let this = Arc::new(StatefulSetPods {
            api,
            kubelet,
            namespace: namespace.into(),
            name: name.into(),
            ip_base,
            pods: Mutex::default(),
        });
        let weak: Weak<Self> = Arc::downgrade(&this);
        tokio::spawn(async move {
            loop {
                let Some(this) = weak.upgrade() else { return };
                this.sync().await;
                drop(this);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        this
    }

    async fn sync(&self) {
        let Some(mut set) = self
            .api
            .get("apps/v1", "StatefulSet", &self.namespace, &self.name)
            .await
        else {
            return;
        };
        set["apiVersion"] = "apps/v1".into();
        set["kind"] = "StatefulSet".into();
        let replicas = set["spec"]["replicas"].as_u64().unwrap_or(1);
        let delete_claims =
            set["spec"]["persistentVolumeClaimRetentionPolicy"]["whenScaled"] == "Delete";
        let claim_templates: Vec<String> = set["spec"]["volumeClaimTemplates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["metadata"]["name"].as_str().map(String::from))
            .collect();
        let planned: BTreeMap<u64, PlannedPod> = pods_of(std::slice::from_ref(&set))
            .into_iter()
            .enumerate()
            .map(|(i, p)| (i as u64, p))
            .collect();
        let mut pods = self.pods.lock().await;
        let gone: Vec<u64> = pods.keys().filter(|o| **o >= replicas).copied().collect();
        for ordinal in gone {
            let mut pod = pods.remove(&ordinal).unwrap();
            pod.running.proc.kill9();
            pod.object.delete(&self.api).await;
            eprintln!("{}: stopped pod ordinal {ordinal}", self.name);
            if delete_claims {
                for claim in &claim_templates {
                    self.kubelet
                        .delete_claim(&format!("{claim}-{}-{ordinal}", self.name));
                }
            }
        }
        for (ordinal, pod) in pods.iter_mut() {
            if pod.running.proc.child.try_wait().ok().flatten().is_none() {
                continue;
            }
            let Some(exited) = pod.exited else {
                eprintln!("{}: pod ordinal {ordinal} exited", self.name);
                pod.exited = Some(Instant::now());
                pod.object.set_ready(&self.api, false).await;
                continue;
            };
            if exited.elapsed() < RESTART_DELAY {
                continue;
            }
            eprintln!("{}: restarting pod ordinal {ordinal}", self.name);
            pod.running = self.kubelet.start(&planned[ordinal]);
            pod.running.wait_ready().await;
            pod.exited = None;
            pod.object.set_ready(&self.api, true).await;
        }
        let mut started = Vec::new();
        if planned.keys().any(|o| !pods.contains_key(o)) {
            // New pods mount the Secrets as they are now (their certificates).
            self.kubelet
                .refresh_secrets(&self.api, &self.namespace)
                .await;
        }
        for (ordinal, p) in &planned {
            if !pods.contains_key(ordinal) {
                started.push((*ordinal, self.kubelet.start(p)));
            }
        }
        for (ordinal, mut running) in started {
            running.wait_ready().await;
            let ip = Ipv4Addr::new(127, 0, 1, self.ip_base + ordinal as u8);
            let object =
                PodObject::report(&self.api, &planned[&ordinal], self.kubelet.network(), ip).await;
            eprintln!("{}: started pod ordinal {ordinal} at {ip}", self.name);
            pods.insert(
                ordinal,
                Pod {
                    running,
                    object,
                    exited: None,
                },
            );
        }
    }

    /// The ordinals of the running pods.
    pub async fn ordinals(&self) -> Vec<u64> {
        self.pods.lock().await.keys().copied().collect()
    }

    /// Pod `ordinal`'s process id.
    pub async fn pid(&self, ordinal: u64) -> Option<u32> {
        Some(
            self.pods
                .lock()
                .await
                .get(&ordinal)?
                .running
                .proc
                .child
                .id(),
        )
    }

    /// Pod `ordinal`'s `--flag` value.
    pub async fn flag(&self, ordinal: u64, flag: &str) -> Option<String> {
        let pods = self.pods.lock().await;
        pods.get(&ordinal)?.running.flag(flag).map(String::from)
    }

    /// The tail of every pod's log (for failure messages).
    pub async fn logs(&self) -> String {
        self.pods
            .lock()
            .await
            .values()
            .map(|p| {
                let text = p.running.proc.log_text();
                let lines: Vec<&str> = text.lines().collect();
                format!(
                    "--- {}\n{}\n",
                    p.running.name,
                    lines[lines.len().saturating_sub(20)..].join("\n")
                )
            })
            .collect()
    }
}
