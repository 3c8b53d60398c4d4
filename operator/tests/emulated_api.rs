//! The operator against an emulated Kubernetes API over real HTTP (kmock, see
//! `kube_emulator.py`), with its real client code: controllers, watches, server-side
//! apply, status patches, Events, finalizers. A stand-in plays the StatefulSet and
//! Deployment controllers and the kubelet (pods, PVCs, readiness).

mod common;
mod emulator;

use std::collections::BTreeSet;
use std::time::Duration;

use emulator::{Emulator, NS, eventually, play_controllers, set_ready};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::Role;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use telltale_crds::{AlertRule, MetricCluster, ScrapeTarget};
use telltale_operator::apply::api_resource;

const STORAGE_PODS: &str = "app.kubernetes.io/component=storage";

async fn create_cluster(emu: &Emulator, name: &str, spec: serde_json::Value) -> MetricCluster {
    let mc: MetricCluster = serde_json::from_value(json!({
        "apiVersion": "telltale.dev/v1alpha1",
        "kind": "MetricCluster",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }))
    .unwrap();
    emu.api::<MetricCluster>()
        .create(&PostParams::default(), &mc)
        .await
        .unwrap()
}

async fn phase(emu: &Emulator, name: &str) -> Option<String> {
    emu.api::<MetricCluster>()
        .get(name)
        .await
        .ok()?
        .status?
        .phase
}

/// Creates a cluster and plays the controllers until the operator reports it Available.
async fn available_cluster(emu: &Emulator, name: &str, spec: serde_json::Value) {
    create_cluster(emu, name, spec).await;
    eventually("the workloads", || async {
        let n = emu
            .api::<StatefulSet>()
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .len();
        let d = emu
            .api::<Deployment>()
            .list(&ListParams::default())
            .await
            .ok()?
            .items
            .len();
        (n >= 3 && d >= 1).then_some(())
    })
    .await;
    eventually("Available", || async {
        play_controllers(emu, true).await;
        (phase(emu, name).await.as_deref() == Some("Available")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_cluster_gets_its_objects_and_becomes_available() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();
    let mc = create_cluster(&emu, "mc", json!({"shards": 1, "replicasPerShard": 3})).await;

    // Every rendered object is applied, with the rendered spec.
    let (_, expected) = eventually("the rendered objects", || async {
        let mc_now = emu.api::<MetricCluster>().get("mc").await.ok()?;
        let objects = telltale_operator::render(&mc_now).ok()?;
        for o in &objects {
            let ar = api_resource(&o.types.as_ref()?.kind).ok()?;
            let api: Api<DynamicObject> = Api::namespaced_with(emu.client.clone(), NS, &ar);
            api.get_opt(&o.name_any()).await.ok()??;
        }
        Some((mc_now, objects))
    })
    .await;
    for o in &expected {
        let ar = api_resource(&o.types.as_ref().unwrap().kind).unwrap();
        let api: Api<DynamicObject> = Api::namespaced_with(emu.client.clone(), NS, &ar);
        let stored = api.get(&o.name_any()).await.unwrap();
        for field in ["spec", "data", "rules", "roleRef", "subjects"] {
            assert_eq!(
                stored.data.get(field),
                o.data.get(field),
                "{} {field}",
                o.name_any()
            );
        }
        assert_eq!(stored.owner_references()[0].uid, mc.uid().unwrap());
    }
    assert_eq!(expected.len(), 24);
    // The finalizer is in place before anything is created.
    let mc_now = emu.api::<MetricCluster>().get("mc").await.unwrap();
    assert!(
        mc_now
            .finalizers()
            .contains(&"telltale.dev/cleanup".to_string()),
        "{:?}",
        mc_now.metadata
    );

    // Pods not ready yet: progressing, not available.
    let status = eventually("a status", || async {
        emu.api::<MetricCluster>().get("mc").await.ok()?.status
    })
    .await;
    assert_eq!(status.phase.as_deref(), Some("Progressing"));
    assert_eq!(status.condition("Available").unwrap().status, "False");

    eventually("Available", || async {
        play_controllers(&emu, true).await;
        (phase(&emu, "mc").await.as_deref() == Some("Available")).then_some(())
    })
    .await;
    let status = emu
        .api::<MetricCluster>()
        .get("mc")
        .await
        .unwrap()
        .status
        .unwrap();
    assert_eq!(status.ready.as_deref(), Some("7/7"));
    assert_eq!(status.condition("Progressing").unwrap().status, "False");
    assert_eq!(status.condition("Degraded").unwrap().status, "False");
    assert_eq!(
        status.condition("Available").unwrap().observed_generation,
        Some(1)
    );
    let events = emu.events_about("mc").await;
    assert!(
        events
            .iter()
            .any(|(t, r, _)| t == "Normal" && r == "Available"),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_change_rolls_storage_pods_one_at_a_time() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();
    available_cluster(&emu, "mc", json!({"shards": 1, "replicasPerShard": 3})).await;
    let pods: Api<Pod> = emu.api();
    let old: BTreeSet<String> = pods
        .list(&ListParams::default().labels(STORAGE_PODS))
        .await
        .unwrap()
        .items
        .iter()
        .map(|p| p.labels()["controller-revision-hash"].clone())
        .collect();
    assert_eq!(old.len(), 1);

    emu.api::<MetricCluster>()
        .patch(
            "mc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"image": "telltale:2"}})),
        )
        .await
        .unwrap();

    let mut order = Vec::new();
    let mut unready: Vec<String> = Vec::new();
    let mut saw_rolling_status = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "rollout did not finish: {order:?}"
        );
        // Pods recreated on the previous pass become ready now (they "rejoined").
        for p in unready.drain(..) {
            set_ready(&pods, &p, true).await;
        }
        let list = pods
            .list(&ListParams::default().labels(STORAGE_PODS))
            .await
            .unwrap()
            .items;
        let missing = 3 - list.len();
        let not_ready = list
            .iter()
            .filter(|p| !telltale_operator::observe::pod_ready(p))
            .count();
        assert!(
            missing + not_ready <= 1,
            "two storage pods down at once: {order:?}"
        );
        // The stand-in StatefulSet controller recreates deleted pods, not ready yet.
        let created = play_controllers(&emu, false).await;
        order.extend(created.iter().filter(|p| p.contains("storage")).cloned());
        unready.extend(created);
        let mc = emu.api::<MetricCluster>().get("mc").await.unwrap();
        let status = mc.status.unwrap_or_default();
        if status
            .condition("Progressing")
            .is_some_and(|c| c.reason == "RollingUpdate")
        {
            saw_rolling_status = true;
        }
        let revs: BTreeSet<String> = list
            .iter()
            .map(|p| p.labels()["controller-revision-hash"].clone())
            .collect();
        if list.len() == 3 && revs.is_disjoint(&old) && status.phase.as_deref() == Some("Available")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(
        order,
        ["mc-storage-0-2", "mc-storage-0-1", "mc-storage-0-0"]
    );
    assert!(saw_rolling_status, "the status never said RollingUpdate");
    let events = emu.events_about("mc").await;
    assert!(
        events
            .iter()
            .any(|(t, r, _)| t == "Normal" && r == "RollingUpdate"),
        "{events:?}"
    );
    // The new image is in the storage template.
    let sts = emu.api::<StatefulSet>().get("mc-storage-0").await.unwrap();
    let image = sts.spec.template.spec.unwrap().containers[0].image.clone();
    assert_eq!(image.as_deref(), Some("telltale:2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_conditions_follow_pod_readiness() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();
    available_cluster(&emu, "mc", json!({"shards": 1, "replicasPerShard": 3})).await;
    let pods: Api<Pod> = emu.api();
    // Two of three replicas down: the shard lost its quorum.
    set_ready(&pods, "mc-storage-0-0", false).await;
    set_ready(&pods, "mc-storage-0-1", false).await;
    eventually("Degraded", || async {
        (phase(&emu, "mc").await.as_deref() == Some("Degraded")).then_some(())
    })
    .await;
    let status = emu
        .api::<MetricCluster>()
        .get("mc")
        .await
        .unwrap()
        .status
        .unwrap();
    let degraded = status.condition("Degraded").unwrap();
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "QuorumLost")
    );
    assert!(
        degraded.message.contains("storage shard 0"),
        "{}",
        degraded.message
    );
    assert_eq!(status.condition("Available").unwrap().status, "False");
    assert_eq!(status.ready.as_deref(), Some("5/7"));
    let events = emu.events_about("mc").await;
    assert!(
        events
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "Degraded"),
        "{events:?}"
    );

    // One comes back: quorum again.
    set_ready(&pods, "mc-storage-0-0", true).await;
    eventually("Available again", || async {
        let s = emu.api::<MetricCluster>().get("mc").await.ok()?.status?;
        (s.condition("Available")?.status == "True" && s.condition("Degraded")?.status == "False")
            .then_some(())
    })
    .await;
}

async fn owned_names(emu: &Emulator) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for kind in telltale_operator::apply::OWNED_KINDS {
        let ar = api_resource(kind).unwrap();
        let api: Api<DynamicObject> = Api::namespaced_with(emu.client.clone(), NS, &ar);
        for o in api.list(&ListParams::default()).await.unwrap().items {
            names.insert(format!("{kind}/{}", o.name_any()));
        }
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_cleans_up_and_keeps_pvcs_unless_told() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();
    available_cluster(
        &emu,
        "keep",
        json!({"shards": 1, "replicasPerShard": 1, "scraper": {"replicas": 1}}),
    )
    .await;
    available_cluster(
        &emu,
        "drop",
        json!({"shards": 1, "replicasPerShard": 1, "scraper": {"replicas": 1}, "deletePVCs": true}),
    )
    .await;
    let pvcs: Api<PersistentVolumeClaim> = emu.api();
    let claims = |emu: &Emulator| {
        let pvcs: Api<PersistentVolumeClaim> = emu.api();
        async move {
            pvcs.list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .map(|p| p.name_any())
                .collect::<BTreeSet<_>>()
        }
    };
    assert_eq!(
        claims(&emu).await,
        [
            "data-drop-alertmanager-0",
            "data-drop-storage-0-0",
            "data-keep-alertmanager-0",
            "data-keep-storage-0-0"
        ]
        .map(String::from)
        .into()
    );
    let before = owned_names(&emu).await;
    for owned in [
        "StatefulSet/keep-storage-0",
        "Secret/keep-ca",
        "Secret/keep-storage-0-tls",
        "NetworkPolicy/keep-storage",
    ] {
        assert!(before.contains(owned), "{owned}: {before:?}");
    }

    for name in ["keep", "drop"] {
        emu.api::<MetricCluster>()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
        eventually("the MetricCluster to go", || async {
            emu.api::<MetricCluster>()
                .get_opt(name)
                .await
                .ok()?
                .is_none()
                .then_some(())
        })
        .await;
    }
    assert!(
        owned_names(&emu).await.is_empty(),
        "{:?}",
        owned_names(&emu).await
    );
    assert!(pvcs.list(&ListParams::default()).await.is_ok());
    assert_eq!(
        claims(&emu).await,
        ["data-keep-alertmanager-0", "data-keep-storage-0-0"]
            .map(String::from)
            .into(),
        "deletePVCs: true removes that cluster's claims only"
    );
    let pods: Api<Pod> = emu.api();
    assert!(
        pods.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let events = emu.events_about("keep").await;
    assert!(
        events
            .iter()
            .any(|(_, r, n)| r == "Deleted" && n.contains("kept the PersistentVolumeClaims")),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_resources_get_a_condition_and_an_event_and_nothing_else() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();
    let st: ScrapeTarget = serde_json::from_value(json!({
        "apiVersion": "telltale.dev/v1alpha1", "kind": "ScrapeTarget",
        "metadata": {"name": "bad-target", "namespace": NS},
        "spec": {"interval": "5s", "scrapeTimeout": "10s", "static": [{"targets": ["a:9100"]}]}
    }))
    .unwrap();
    let st = emu
        .api::<ScrapeTarget>()
        .create(&PostParams::default(), &st)
        .await
        .unwrap();
    let ar: AlertRule = serde_json::from_value(json!({
        "apiVersion": "telltale.dev/v1alpha1", "kind": "AlertRule",
        "metadata": {"name": "good-rules", "namespace": NS},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "Down", "expr": "up == 0"}]}]}
    }))
    .unwrap();
    emu.api::<AlertRule>()
        .create(&PostParams::default(), &ar)
        .await
        .unwrap();
    let mc = create_cluster(&emu, "even", json!({"replicasPerShard": 2})).await;

    let st_status = eventually("the ScrapeTarget's status", || async {
        emu.api::<ScrapeTarget>()
            .get("bad-target")
            .await
            .ok()?
            .status
    })
    .await;
    assert_eq!(st_status.phase.as_deref(), Some("Invalid"));
    let accepted = st_status.condition("Accepted").unwrap();
    assert_eq!(
        (accepted.status.as_str(), accepted.reason.as_str()),
        ("False", "InvalidSpec")
    );
    assert!(
        accepted.message.starts_with("spec.scrapeTimeout: "),
        "{}",
        accepted.message
    );
    let ev = eventually("the ScrapeTarget's event", || async {
        let e = emu.events_about("bad-target").await;
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert_eq!(ev[0].0, "Warning");
    assert_eq!(ev[0].1, "InvalidSpec");
    assert!(ev[0].2.contains("spec.scrapeTimeout"));

    let ar_status = eventually("the AlertRule's status", || async {
        emu.api::<AlertRule>().get("good-rules").await.ok()?.status
    })
    .await;
    assert_eq!(ar_status.phase.as_deref(), Some("Accepted"));
    assert!(emu.events_about("good-rules").await.is_empty());

    let mc_status = eventually("the MetricCluster's status", || async {
        emu.api::<MetricCluster>().get("even").await.ok()?.status
    })
    .await;
    assert_eq!(mc_status.phase.as_deref(), Some("Invalid"));
    assert!(
        mc_status
            .message
            .unwrap()
            .starts_with("spec.replicasPerShard: ")
    );
    eventually("the MetricCluster's event", || async {
        emu.events_about("even")
            .await
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "InvalidSpec")
            .then_some(())
    })
    .await;

    // Give the operator time to do anything else it might (wrongly) do.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        owned_names(&emu).await.is_empty(),
        "{:?}",
        owned_names(&emu).await
    );
    let mc_now = emu.api::<MetricCluster>().get("even").await.unwrap();
    assert!(
        mc_now.finalizers().is_empty(),
        "an invalid cluster gets no finalizer"
    );
    assert_eq!(mc_now.spec, mc.spec);
    let st_now = emu.api::<ScrapeTarget>().get("bad-target").await.unwrap();
    assert_eq!(st_now.spec, st.spec);
    assert_eq!(st_now.metadata.generation, Some(1));
    assert!(st_now.finalizers().is_empty());
    for (kind, n) in [
        (
            "ConfigMap",
            emu.api::<ConfigMap>()
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
        ),
        (
            "Service",
            emu.api::<Service>()
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
        ),
        (
            "Role",
            emu.api::<Role>()
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
        ),
        (
            "PDB",
            emu.api::<PodDisruptionBudget>()
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len(),
        ),
    ] {
        assert_eq!(n, 0, "{kind} created for an invalid resource");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_can_be_added() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();
    available_cluster(&emu, "mc", json!({"shards": 1, "replicasPerShard": 3})).await;
    let shard0 = emu.api::<StatefulSet>().get("mc-storage-0").await.unwrap();
    emu.api::<MetricCluster>()
        .patch(
            "mc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"shards": 2}})),
        )
        .await
        .unwrap();
    eventually("the new shard to be Available", || async {
        play_controllers(&emu, true).await;
        emu.api::<StatefulSet>()
            .get_opt("mc-storage-1")
            .await
            .ok()??;
        let s = emu.api::<MetricCluster>().get("mc").await.ok()?.status?;
        (s.phase.as_deref() == Some("Available")
            && s.observed_generation == Some(2)
            && s.ready.as_deref() == Some("10/10"))
        .then_some(())
    })
    .await;
    let after = emu.api::<StatefulSet>().get("mc-storage-0").await.unwrap();
    assert_eq!(after.spec, shard0.spec, "shard 0 is left alone");
    let map = emu.api::<ConfigMap>().get("mc-shard-map").await.unwrap();
    assert!(map.data.unwrap()["shard-map.yaml"].contains("- id: 1"));
    assert!(
        emu.api::<PodDisruptionBudget>()
            .get_opt("mc-storage-1")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_policies_go_when_turned_off() {
    let emu = Emulator::start();
    let (_stop, _op) = emu.run_operator();
    create_cluster(&emu, "mc", json!({"shards": 1, "replicasPerShard": 1})).await;
    let policies = || async {
        emu.api::<NetworkPolicy>()
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .iter()
            .map(|p| p.name_any())
            .collect::<BTreeSet<_>>()
    };
    eventually("the NetworkPolicies", || async {
        (policies().await.len() == 4).then_some(())
    })
    .await;
    emu.api::<MetricCluster>()
        .patch(
            "mc",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"networkPolicies": false}})),
        )
        .await
        .unwrap();
    eventually("no NetworkPolicy", || async {
        policies().await.is_empty().then_some(())
    })
    .await;
    assert!(
        emu.api::<StatefulSet>()
            .get_opt("mc-storage-0")
            .await
            .unwrap()
            .is_some(),
        "the rest stays"
    );
}
