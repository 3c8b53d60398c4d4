//! The emulated Kubernetes API (kmock, `kube_emulator.py`) and a stand-in for the
//! StatefulSet/Deployment controllers and the kubelet: it creates pods, PVCs and workload
//! status the way Kubernetes would, so the operator's real client code runs end to end.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, PodSpec};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, Config, Resource, ResourceExt};
use prometheus::Registry;
use serde_json::json;

use crate::common::{repo_root, venv_python};

pub const NS: &str = "monitoring";

/// A running `kube_emulator.py`; it exits when this is dropped (its stdin closes).
pub struct Emulator {
    child: Child,
    _stdin: ChildStdin,
    pub client: Client,
}

impl Emulator {
    pub fn start() -> Self {
        let script = repo_root().join("operator/tests/kube_emulator.py");
        let mut child = Command::new(venv_python())
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start kube_emulator.py");
        let stdin = child.stdin.take().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("kube_emulator.py did not start: {line:?}"));
        let config = Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
        let client = Client::try_from(config).unwrap();
        Emulator {
            child,
            _stdin: stdin,
            client,
        }
    }

    /// Starts the operator (no leader election) against this API; it stops when the
    /// returned sender is dropped.
    pub fn run_operator(
        &self,
    ) -> (
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let registry = Registry::new();
        let op = telltale_operator::Operator::new(self.client.clone(), Some(NS.into()), &registry)
            .unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            op.run(async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        (tx, handle)
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), NS)
    }

    /// Events about the object named `name`, as `(type, reason, note)`.
    pub async fn events_about(&self, name: &str) -> Vec<(String, String, String)> {
        let events: Api<Event> = self.api();
        events
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
            .map(|e| {
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.note.unwrap_or_default(),
                )
            })
            .collect()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 100 ms until it returns `Some`, for at most 30 s.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The revision a StatefulSet controller would give this template.
pub fn revision(sts: &StatefulSet) -> String {
    let text = serde_json::to_string(&sts.spec.template).unwrap();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("r{:08x}", h as u32)
}

pub async fn set_ready(api: &Api<Pod>, pod: &str, ready: bool) {
    let status = if ready { "True" } else { "False" };
    api.patch_status(
        pod,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status}]}})),
    )
    .await
    .unwrap();
}

/// One pass of the stand-in controllers: every StatefulSet gets its missing pods
/// (from the current template, ready when `ready_new`) and their PVCs, and its status;
/// every Deployment gets a status with all replicas ready and updated. Returns the pods
/// it created.
pub async fn play_controllers(emu: &Emulator, ready_new: bool) -> Vec<String> {
    let sts_api: Api<StatefulSet> = emu.api();
    let pods: Api<Pod> = emu.api();
    let pvcs: Api<PersistentVolumeClaim> = emu.api();
    let mut created = Vec::new();
    for sts in sts_api.list(&ListParams::default()).await.unwrap().items {
        let rev = revision(&sts);
        let name = sts.name_any();
        let replicas = sts.spec.replicas.unwrap_or(1);
        let template = &sts.spec.template;
        let mut labels: BTreeMap<String, String> = template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        let selector = sts.spec.selector.match_labels.clone().unwrap_or_default();
        let on_delete = sts
            .spec
            .update_strategy
            .as_ref()
            .and_then(|u| u.type_.as_deref())
            == Some("OnDelete");
        let mut existing: BTreeMap<String, Pod> = BTreeMap::new();
        for p in pods
            .list(&ListParams::default().labels(&selector_string(&selector)))
            .await
            .unwrap()
            .items
        {
            // RollingUpdate: the controller itself replaces outdated pods.
            // (It is not under test here: its replacements come back ready at once.)
            if !on_delete && p.labels().get("controller-revision-hash") != Some(&rev) {
                pods.delete(&p.name_any(), &Default::default())
                    .await
                    .unwrap();
                let mut fresh = p.clone();
                fresh.metadata = ObjectMeta {
                    name: p.metadata.name.clone(),
                    labels: Some(labels_at(&p, &rev)),
                    owner_references: p.metadata.owner_references.clone(),
                    ..ObjectMeta::default()
                };
                fresh.status = None;
                pods.create(&PostParams::default(), &fresh).await.unwrap();
                set_ready(&pods, &p.name_any(), true).await;
                existing.insert(p.name_any(), fresh);
                continue;
            }
            existing.insert(p.name_any(), p);
        }
        labels.insert("controller-revision-hash".into(), rev.clone());
        for i in 0..replicas {
            let pod_name = format!("{name}-{i}");
            if !existing.contains_key(&pod_name) {
                let pod = Pod {
                    metadata: ObjectMeta {
                        name: Some(pod_name.clone()),
                        labels: Some(labels.clone()),
                        owner_references: Some(vec![sts.controller_owner_ref(&()).unwrap()]),
                        ..ObjectMeta::default()
                    },
                    spec: Some(PodSpec {
                        containers: template.spec.as_ref().unwrap().containers.clone(),
                        ..PodSpec::default()
                    }),
                    status: None,
                };
                pods.create(&PostParams::default(), &pod).await.unwrap();
                set_ready(&pods, &pod_name, ready_new).await;
                created.push(pod_name.clone());
            }
            for claim in sts.spec.volume_claim_templates.iter().flatten() {
                let claim_name = format!("{}-{pod_name}", claim.name_any());
                if pvcs.get_opt(&claim_name).await.unwrap().is_none() {
                    let pvc = PersistentVolumeClaim {
                        metadata: ObjectMeta {
                            name: Some(claim_name),
                            labels: claim.metadata.labels.clone(),
                            ..ObjectMeta::default()
                        },
                        spec: claim.spec.clone(),
                        status: None,
                    };
                    pvcs.create(&PostParams::default(), &pvc).await.unwrap();
                }
            }
        }
        let now: Vec<Pod> = pods
            .list(&ListParams::default().labels(&selector_string(&selector)))
            .await
            .unwrap()
            .items;
        let ready = now
            .iter()
            .filter(|p| telltale_operator::observe::pod_ready(p))
            .count();
        let updated = now
            .iter()
            .filter(|p| p.labels().get("controller-revision-hash") == Some(&rev))
            .count();
        sts_api
            .patch_status(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {
                    "replicas": now.len(),
                    "readyReplicas": ready,
                    "updatedReplicas": updated,
                    "updateRevision": rev,
                    "observedGeneration": sts.metadata.generation,
                }})),
            )
            .await
            .unwrap();
    }
    let deployments: Api<Deployment> = emu.api();
    for d in deployments
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
    {
        let n = d.spec.replicas.unwrap_or(1);
        deployments
            .patch_status(
                &d.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {
                    "replicas": n, "readyReplicas": n, "updatedReplicas": n, "availableReplicas": n,
                    "observedGeneration": d.metadata.generation,
                }})),
            )
            .await
            .unwrap();
    }
    created
}

fn labels_at(pod: &Pod, rev: &str) -> BTreeMap<String, String> {
    let mut labels = pod.labels().clone();
    labels.insert("controller-revision-hash".into(), rev.into());
    labels
}

pub fn selector_string(labels: &BTreeMap<String, String>) -> String {
    telltale_operator::naming::selector_string(labels)
}
