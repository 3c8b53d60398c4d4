//! Raft membership that follows the MetricCluster, with real processes: `telltale
//! operator` runs against the emulated API (kmock), and the pods of what it renders run
//! as local `telltale` processes (see `kubelet/`); the storage StatefulSet's pods follow
//! its `replicas` as the StatefulSet controller would (`kubelet/stateful_set.rs`: new pods
//! start, pods above `replicas` stop and, with `whenScaled: Delete`, lose their volumes;
//! a crashed container restarts). While remote_write pushes through the scraper pod,
//! `spec.replicasPerShard` goes 3 → 5 → 3 → 1 → 3, with the leader killed (SIGKILL) at 5.
//! Shown:
//! - each change ends with the replicas `1..=N` as the shard's voters, in the
//!   MetricCluster's `status.shards` (members, voters, leader, commit index, lag) and as
//!   the replicas themselves report; the StatefulSet and the PDB follow (`replicas` = N,
//!   `minAvailable` = quorum of N) and the storage pod template never changes, so no pod
//!   but the killed one restarts;
//! - a shrink removes the replicas before their pods stop, and the term does not climb
//!   after the pods stopped (no election storm);
//! - replicas 2 and 3 come back with empty volumes and catch up;
//! - every acknowledged sample is readable at the end through the query pod.
//!
//! And `spec.restore`: a second cluster (its own namespace and operator) created from the
//! first one's scheduled backup serves its data (see the second test).

mod common;
mod kubelet;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::load::{Load, assert_nothing_lost, read_back};
use common::raft_status;
use kubelet::api::KubeApi;
use kubelet::cluster::{CLUSTER, component, http_base, read_rendered, start_operator};
use kubelet::network::PodNetwork;
use kubelet::pods::{pods_of, pods_scaled};
use kubelet::run::{Kubelet, RunningPod};
use kubelet::stateful_set::StatefulSetPods;
use serde_json::{Value, json};

const NS: &str = "monitoring";
const SHARD: &str = "mc-storage-0";
/// Every replica a shard can have (`MAX_REPLICAS_PER_SHARD`): their DNS names exist in
/// the test's network before their pods do.
const MAX_REPLICAS: u64 = 9;

fn cluster_ref() -> Value {
    json!({"apiVersion": "telltale.dev/v1alpha1", "kind": "MetricCluster",
           "metadata": {"name": CLUSTER, "namespace": NS}})
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// The storage pods and what the test reads of them.
struct Shard {
    api: Arc<KubeApi>,
    pods: Arc<StatefulSetPods>,
}

impl Shard {
    /// `status.shards[0]` of the MetricCluster.
    async fn status(&self) -> Value {
        let mc = self
            .api
            .get("telltale.dev/v1alpha1", "MetricCluster", NS, CLUSTER)
            .await
            .expect("the MetricCluster");
        mc["status"]["shards"][0].clone()
    }

    async fn condition(&self, type_: &str) -> Value {
        let mc = self
            .api
            .get("telltale.dev/v1alpha1", "MetricCluster", NS, CLUSTER)
            .await
            .unwrap();
        mc["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == type_)
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Replica id -> Raft status, of every running pod that answers.
    async fn raft(&self) -> BTreeMap<u64, telltale_storage_api::raft_pb::StatusResponse> {
        let mut out = BTreeMap::new();
        for ordinal in self.pods.ordinals().await {
            let Some(address) = self.pods.flag(ordinal, "--grpc-listen").await else {
                continue;
            };
            if let Some(s) = raft_status(&address).await {
                out.insert(ordinal + 1, s);
            }
        }
        out
    }

    async fn term(&self) -> u64 {
        self.raft()
            .await
            .values()
            .map(|s| s.term)
            .max()
            .unwrap_or(0)
    }

    /// Waits until the status, the replicas, the StatefulSet and the PDB all say the
    /// voters are exactly `1..=n`, with every voter caught up.
    async fn settled(&self, n: u64, within: Duration) -> Value {
        let voters: Vec<u64> = (1..=n).collect();
        let t0 = Instant::now();
        loop {
            let s = self.status().await;
            let raft = self.raft().await;
            let leader = raft.values().find(|r| r.role == "leader");
            // A voter's pod is never stopped: replicas leave the group first.
            let running = self.pods.ordinals().await;
            if let Some(l) = leader {
                for v in &l.voters {
                    assert!(
                        running.contains(&(v.id - 1)),
                        "voter {} lost its pod while still in the group (pods {running:?})",
                        v.id
                    );
                }
            }
            let set = self
                .api
                .get("apps/v1", "StatefulSet", NS, SHARD)
                .await
                .unwrap();
            let pdb = self
                .api
                .get("policy/v1", "PodDisruptionBudget", NS, SHARD)
                .await
                .unwrap();
            let members_ok = s["members"].as_array().is_some_and(|m| {
                m.len() == n as usize
                    && m.iter().all(|m| {
                        m["role"] != "unreachable" && m["lag"].as_u64().is_some_and(|l| l < 2000)
                    })
            });
            let ok = ids(&s["voters"]) == voters
                && s["learners"].as_array().is_none_or(Vec::is_empty)
                && s["leader"].as_u64().is_some()
                && s["commitIndex"].as_u64().is_some_and(|c| c > 0)
                && members_ok
                && leader.is_some_and(|l| {
                    l.voters.iter().map(|m| m.id).collect::<Vec<_>>() == voters
                        && l.learners.is_empty()
                })
                && set["spec"]["replicas"] == n
                && pdb["spec"]["minAvailable"] == n / 2 + 1
                && self.pods.ordinals().await == (0..n).collect::<Vec<_>>();
            if ok {
                return s;
            }
            assert!(
                t0.elapsed() < within,
                "shard 0 did not settle on voters {voters:?} within {within:?}:\n\
                 status {s}\nStatefulSet replicas {}\nPDB {}\nrunning pods {:?}\n{}",
                set["spec"]["replicas"],
                pdb["spec"],
                self.pods.ordinals().await,
                self.pods.logs().await
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// Term may rise by an election or two around a change (the leader's removal), not more.
const TERM_BOUND: u64 = 3;

/// Sets `replicasPerShard` to `n` and waits until the shard follows, under load.
async fn scale(shard: &Shard, n: u64, load: &Load) {
    let term_before = shard.term().await;
    let t0 = Instant::now();
    shard
        .api
        .patch(&cluster_ref(), json!({"spec": {"replicasPerShard": n}}))
        .await;
    let status = shard.settled(n, Duration::from_secs(120)).await;
    eprintln!("replicasPerShard={n} in {:?}: {status}", t0.elapsed());
    let under = shard.condition("UnderReplicated").await;
    let t1 = Instant::now();
    // The status is re-decided on the next reconcile.
    let mut under = under;
    while under["status"] != "False" && t1.elapsed() < Duration::from_secs(40) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        under = shard.condition("UnderReplicated").await;
    }
    assert_eq!(under["status"], "False", "{under}");
    load.goes_on(200, &format!("after replicasPerShard={n}"))
        .await;
    let term_after = shard.term().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let term_later = shard.term().await;
    eprintln!("replicasPerShard={n}: term {term_before} -> {term_after} -> {term_later}");
    assert!(
        term_later <= term_before + TERM_BOUND,
        "replicasPerShard={n}: the term climbed from {term_before} to {term_later}"
    );
    assert_eq!(
        term_later, term_after,
        "replicasPerShard={n}: elections after the change"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_grows_and_shrinks_a_shard_under_load() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let api = Arc::new(KubeApi::start());
    let kubeconfig = api.kubeconfig(dir, NS);
    let mut operator = start_operator(dir, &kubeconfig, NS).await;
    api.create(json!({
        "apiVersion": "telltale.dev/v1alpha1", "kind": "MetricCluster",
        "metadata": {"name": CLUSTER, "namespace": NS},
        "spec": {"shards": 1, "replicasPerShard": 3,
                 "scraper": {"replicas": 1}, "query": {"replicas": 1},
                 "alertmanager": {"replicas": 1}},
    }))
    .await;
    let rendered = read_rendered(&api, NS, &mut operator).await;
    // The replicas speak mutual TLS (the default): the test's own status calls too.
    kubelet::cluster::trust_cluster(&rendered);
    let storage_template = rendered
        .workloads
        .iter()
        .find(|w| w["metadata"]["name"] == SHARD)
        .unwrap()["spec"]["template"]
        .clone();

    // Every storage pod the shard can grow to has its address from the start, as its
    // DNS name would in a cluster.
    let every = pods_scaled(&rendered.workloads, |w| {
        if w["metadata"]["name"] == SHARD {
            MAX_REPLICAS
        } else {
            w["spec"]["replicas"].as_u64().unwrap_or(1)
        }
    });
    let network = PodNetwork::new(&every, &rendered.services);
    let kubelet = Arc::new(Kubelet::new(
        dir,
        network,
        rendered.config_maps,
        rendered.secrets,
        rendered.service_accounts,
        kubeconfig,
    ));
    let shard = Shard {
        api: api.clone(),
        pods: StatefulSetPods::start(api.clone(), kubelet.clone(), NS, SHARD, 10),
    };
    // The scraper (remote_write) and the query pod; the alerting pod is not needed here.
    let pods = pods_of(&rendered.workloads);
    let others: Vec<_> = pods
        .iter()
        .filter(|p| ["scraper", "query"].contains(&component(p)))
        .cloned()
        .collect();
    let mut running: Vec<RunningPod> = others.iter().map(|p| kubelet.start(p)).collect();
    for pod in &mut running {
        pod.wait_ready().await;
    }
    kubelet::endpoints::publish(&api, &rendered.services, &others).await;
    let scraper = http_base(
        running
            .iter()
            .find(|p| p.workload.contains("scraper"))
            .unwrap(),
    );
    let query = http_base(
        running
            .iter()
            .find(|p| p.workload.contains("query"))
            .unwrap(),
    );

    shard.settled(3, Duration::from_secs(60)).await;
    let first_pids: Vec<u32> = {
        let mut v = Vec::new();
        for o in 0..3 {
            v.push(shard.pods.pid(o).await.unwrap());
        }
        v
    };
    let load = Load::start(&scraper, 2);
    load.goes_on(200, "at the start").await;

    scale(&shard, 5, &load).await;

    // The leader is killed: a new one is elected, writes go on, the dead one restarts on
    // its volume and catches up.
    let raft = shard.raft().await;
    let old = raft.values().find(|s| s.role == "leader").unwrap();
    let (leader, old_term) = (old.id, old.term);
    let pid = shard.pods.pid(leader - 1).await.unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    let t0 = Instant::now();
    while !shard
        .raft()
        .await
        .values()
        .any(|s| s.role == "leader" && s.id != leader && s.term > old_term)
    {
        assert!(t0.elapsed() < Duration::from_secs(20), "no new leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("leader {leader} killed; a new one after {:?}", t0.elapsed());
    // While its pod is down (the kubelet restarts it after 3 s), the status says so.
    let t0 = Instant::now();
    loop {
        let c = shard.condition("UnderReplicated").await;
        let message = c["message"].as_str().unwrap_or_default();
        // (Or "no leader" while the others elect one.)
        if c["status"] == "True" && message.contains(&format!("down: [{leader}]")) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the status never said a voter is down: {c}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    load.goes_on(200, "after the leader's kill").await;
    shard.settled(5, Duration::from_secs(60)).await;

    scale(&shard, 3, &load).await;
    let volume = |ordinal: u64| dir.join(format!("persistent-volumes/data-{SHARD}-{ordinal}"));
    assert!(
        !volume(3).exists() && !volume(4).exists(),
        "the removed replicas' volumes are deleted (whenScaled: Delete)"
    );
    scale(&shard, 1, &load).await;
    // Growing from one: replicas 2 and 3 return with empty volumes and catch up.
    scale(&shard, 3, &load).await;

    let acked = load.stop().await;
    let found = read_back(&query).await;
    assert_nothing_lost(&acked, &found);

    // No storage pod was restarted by a change of its template: replica 1 (never killed,
    // never removed) runs the process it started with, under the first template.
    if leader != 1 {
        assert_eq!(shard.pods.pid(0).await, Some(first_pids[0]));
    }
    let set = api.get("apps/v1", "StatefulSet", NS, SHARD).await.unwrap();
    assert_eq!(
        set["spec"]["template"], storage_template,
        "the storage pod template changed"
    );
    let quorum = shard.condition("NoQuorum").await;
    assert_eq!(quorum["status"], "False", "{quorum}");

    // A scheduled backup (every 5 s here): the shard's leader uploads its snapshot over
    // the operator's mutual-TLS call, the operator writes the index and reports it; the
    // backup restores into a standalone holding every acknowledged sample.
    let backups = format!("file://{}", dir.join("backups").display());
    let mc = api
        .get("telltale.dev/v1alpha1", "MetricCluster", NS, CLUSTER)
        .await
        .unwrap();
    api.patch(
        &mc,
        json!({"spec": {"backup": {"url": backups, "schedule": "*/5 * * * * *"}}}),
    )
    .await;
    let t0 = Instant::now();
    let url = loop {
        let mc = api
            .get("telltale.dev/v1alpha1", "MetricCluster", NS, CLUSTER)
            .await
            .unwrap();
        if let Some(url) = mc["status"]["backup"]["lastSuccessUrl"].as_str() {
            break url.to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "no scheduled backup: {}\n{}",
            mc["status"]["backup"],
            operator.log_text()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("scheduled backup at {url} after {:?}", t0.elapsed());
    let restored = dir.join("restored");
    let out = std::process::Command::new(common::TELLTALE)
        .args(["restore", "--from", &url, "--data-dir"])
        .arg(&restored)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = common::free_port();
    let mut standalone = common::Proc::spawn(
        "restored",
        std::process::Command::new(common::TELLTALE)
            .arg("standalone")
            .arg("--data-dir")
            .arg(&restored)
            .args(["--listen", &format!("127.0.0.1:{port}")]),
        dir.join("restored.log"),
    );
    let base = format!("http://127.0.0.1:{port}");
    common::wait_ready(&mut standalone, &format!("{base}/-/ready")).await;
    assert_nothing_lost(&acked, &read_back(&base).await);
    for mut pod in running {
        pod.proc.kill9();
    }
    drop(shard);
    operator.kill9();
}

/// `status.shards` of the MetricCluster `namespace/mc`: whether every shard has a leader
/// and the voters `1..=n`, each member answering.
async fn shards_settled(api: &KubeApi, namespace: &str, n: u64) -> Option<Value> {
    let mc = api
        .get("telltale.dev/v1alpha1", "MetricCluster", namespace, CLUSTER)
        .await?;
    let shards = mc["status"]["shards"].as_array()?;
    let voters: Vec<u64> = (1..=n).collect();
    let ok = !shards.is_empty()
        && shards.iter().all(|s| {
            ids(&s["voters"]) == voters
                && s["leader"].as_u64().is_some()
                && s["members"].as_array().is_some_and(|m| {
                    m.len() == n as usize && m.iter().all(|m| m["role"] != "unreachable")
                })
        });
    ok.then(|| mc["status"]["shards"].clone())
}

/// The storage, scraper and query pods of the cluster the operator rendered in
/// `namespace`, each shard's storage pods following its StatefulSet (pod IPs from
/// `127.0.1.<ip_base + 10 * shard>`; the tests of this file run at once, so each takes
/// its own range).
struct Pods {
    shards: Vec<Arc<StatefulSetPods>>,
    running: Vec<RunningPod>,
}

impl Pods {
    async fn start(
        api: &Arc<KubeApi>,
        dir: &std::path::Path,
        namespace: &str,
        rendered: kubelet::cluster::Rendered,
        ip_base: u8,
    ) -> Pods {
        let storage = |w: &Value| component_of(w) == "storage";
        let every = pods_scaled(&rendered.workloads, |w| {
            if storage(w) {
                MAX_REPLICAS
            } else {
                w["spec"]["replicas"].as_u64().unwrap_or(1)
            }
        });
        let kubelet = Arc::new(Kubelet::new(
            dir,
            PodNetwork::new(&every, &rendered.services),
            rendered.config_maps,
            rendered.secrets,
            rendered.service_accounts,
            api.kubeconfig(dir, namespace),
        ));
        let shards = rendered
            .workloads
            .iter()
            .filter(|w| storage(w))
            .enumerate()
            .map(|(i, w)| {
                let name = w["metadata"]["name"].as_str().unwrap();
                let base = ip_base + 10 * i as u8;
                StatefulSetPods::start(api.clone(), kubelet.clone(), namespace, name, base)
            })
            .collect();
        let others: Vec<_> = pods_of(&rendered.workloads)
            .into_iter()
            .filter(|p| ["scraper", "query"].contains(&component(p)))
            .collect();
        let mut running: Vec<RunningPod> = others.iter().map(|p| kubelet.start(p)).collect();
        for pod in &mut running {
            pod.wait_ready().await;
        }
        kubelet::endpoints::publish(api, &rendered.services, &others).await;
        Pods { shards, running }
    }

    fn base(&self, workload: &str) -> String {
        http_base(
            self.running
                .iter()
                .find(|p| p.workload.contains(workload))
                .unwrap(),
        )
    }
}

fn component_of(w: &Value) -> &str {
    w["metadata"]["labels"][kubelet::cluster::COMPONENT]
        .as_str()
        .unwrap_or_default()
}

async fn wait_for<T, F, Fut>(what: &str, within: Duration, logs: &[&common::Proc], mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t0 = Instant::now();
    loop {
        if let Some(v) = f().await {
            eprintln!("{what} after {:?}", t0.elapsed());
            return v;
        }
        if t0.elapsed() > within {
            let logs: String = logs
                .iter()
                .map(|p| {
                    format!(
                        "--- {}\n{}\n",
                        p.name,
                        kubelet::cluster::tail(&p.log_text())
                    )
                })
                .collect();
            panic!("{what}: not within {within:?}\n{logs}");
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// `spec.restore`: a second MetricCluster starts from the first one's scheduled backup.
/// The source (two shards of one replica) takes writes, then a backup; a cluster of two
/// shards of three replicas created from it is refused while its shard count differs
/// (nothing created, the status naming `spec.restore`), then each of its shards restores
/// its backup shard into replica 1, replicas 2 and 3 join by snapshot, and its query
/// answers every acknowledged sample, also after replica 1 of a shard restarts (its
/// volume holds data: no second restore).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_cluster_starts_from_another_clusters_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let (source_dir, restored_dir) = (tmp.path().join("source"), tmp.path().join("restored"));
    std::fs::create_dir_all(&source_dir).unwrap();
    std::fs::create_dir_all(&restored_dir).unwrap();
    let api = Arc::new(KubeApi::start());
    let (source_ns, restored_ns) = ("source", "restored");
    let mut source_op = start_operator(
        &source_dir,
        &api.kubeconfig(&source_dir, source_ns),
        source_ns,
    )
    .await;
    let mut restored_op = start_operator(
        &restored_dir,
        &api.kubeconfig(&restored_dir, restored_ns),
        restored_ns,
    )
    .await;
    let cluster = |ns: &str, spec: Value| {
        json!({"apiVersion": "telltale.dev/v1alpha1", "kind": "MetricCluster",
               "metadata": {"name": CLUSTER, "namespace": ns}, "spec": spec})
    };
    let source = api
        .create(cluster(
            source_ns,
            json!({"shards": 2, "replicasPerShard": 1, "scraper": {"replicas": 1},
                   "query": {"replicas": 1}, "alertmanager": {"replicas": 1}}),
        ))
        .await;
    let rendered = read_rendered(&api, source_ns, &mut source_op).await;
    let source_pods = Pods::start(&api, &source_dir, source_ns, rendered, 50).await;
    wait_for(
        "the source's shards",
        Duration::from_secs(60),
        &[&source_op],
        || shards_settled(&api, source_ns, 1),
    )
    .await;
    let load = Load::start(&source_pods.base("scraper"), 2);
    load.goes_on(2500, "in the source").await;
    let acked = load.stop().await;

    let backups = format!("file://{}", tmp.path().join("backups").display());
    api.patch(
        &source,
        json!({"spec": {"backup": {"url": backups, "schedule": "*/5 * * * * *"}}}),
    )
    .await;
    let url: String = wait_for(
        "the source's backup",
        Duration::from_secs(90),
        &[&source_op],
        || async {
            let mc = api
                .get("telltale.dev/v1alpha1", "MetricCluster", source_ns, CLUSTER)
                .await?;
            mc["status"]["backup"]["lastSuccessUrl"]
                .as_str()
                .map(String::from)
        },
    )
    .await;

    // A backup of 2 shards does not make a cluster of 1: refused before anything exists.
    let spec = |shards: u64| {
        json!({"shards": shards, "replicasPerShard": 3, "scraper": {"replicas": 1},
               "query": {"replicas": 1}, "alertmanager": {"replicas": 1},
               "restore": {"from": url}})
    };
    let restored = api.create(cluster(restored_ns, spec(1))).await;
    let refusal: Value = wait_for(
        "the refusal",
        Duration::from_secs(30),
        &[&restored_op],
        || async {
            let mc = api
                .get(
                    "telltale.dev/v1alpha1",
                    "MetricCluster",
                    restored_ns,
                    CLUSTER,
                )
                .await?;
            mc["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "Accepted" && c["status"] == "False")
                .cloned()
        },
    )
    .await;
    let message = refusal["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("spec.restore") && message.contains("[0, 1]"),
        "{refusal}"
    );
    assert!(
        api.list("apps/v1", "StatefulSet", restored_ns, "")
            .await
            .is_empty(),
        "nothing is created from a backup that does not fit"
    );
    api.patch(&restored, json!({"spec": {"shards": 2}})).await;
    let rendered = read_rendered(&api, restored_ns, &mut restored_op).await;
    let restored_pods = Pods::start(&api, &restored_dir, restored_ns, rendered, 70).await;
    let status = wait_for(
        "the restored shards with 3 voters each",
        Duration::from_secs(120),
        &[&restored_op],
        || shards_settled(&api, restored_ns, 3),
    )
    .await;
    eprintln!("restored cluster: {status}");
    let query = restored_pods.base("query");
    assert_nothing_lost(&acked, &read_back(&query).await);
    let log = |shard: u32| {
        std::fs::read_to_string(restored_dir.join(format!("mc-storage-{shard}-0.log"))).unwrap()
    };
    for shard in 0..2 {
        let text = log(shard);
        assert!(
            text.contains(&format!("restored shard {shard} of {url}")),
            "replica 1 of shard {shard} restored it:\n{}",
            kubelet::cluster::tail(&text)
        );
    }
    let replica2 = std::fs::read_to_string(restored_dir.join("mc-storage-0-1.log")).unwrap();
    assert!(
        !replica2.contains("restored shard"),
        "only replica 1 restores"
    );

    // Replica 1 of shard 0 restarts on its volume: the restore is skipped, nothing is
    // lost or doubled.
    let shard0 = &restored_pods.shards[0];
    let pid = shard0.pid(0).await.unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    wait_for(
        "replica 1's restart",
        Duration::from_secs(60),
        &[&restored_op],
        || async {
            let restarted = shard0.pid(0).await.is_some_and(|p| p != pid);
            (restarted && shards_settled(&api, restored_ns, 3).await.is_some()).then_some(())
        },
    )
    .await;
    let text = log(0);
    assert!(
        text.contains("holds data") && !text.contains("restored shard"),
        "the restart restored again:\n{}",
        kubelet::cluster::tail(&text)
    );
    assert_nothing_lost(&acked, &read_back(&query).await);
    drop(source_pods);
    drop(restored_pods);
    source_op.kill9();
    restored_op.kill9();
}
