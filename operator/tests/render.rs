//! A new MetricCluster gives the expected objects and specs (pure rendering, no API).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::cluster;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::api::networking::v1::{NetworkPolicyIngressRule, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use telltale_operator::render::pod::WebServing;
use telltale_operator::render::storage::{RESTORE_ENTRYPOINT, initial_voters_of, restores};
use telltale_operator::render::{ShardLayout, render_with};
use telltale_operator::{render, render_typed};

fn container_of(sts: &StatefulSet) -> &k8s_openapi::api::core::v1::Container {
    &sts.spec.template.spec.as_ref().unwrap().containers[0]
}

#[test]
fn a_new_cluster_renders_every_object_with_an_owner() {
    let mc = cluster("mc", "shards: 2\nreplicasPerShard: 3");
    let objects = render(&mc).unwrap();
    let got: BTreeSet<(String, String)> = objects
        .iter()
        .map(|o| (o.types.as_ref().unwrap().kind.clone(), o.name_any()))
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("ConfigMap", "mc-shard-map"),
        ("ServiceAccount", "mc-storage"),
        ("ServiceAccount", "mc-scraper"),
        ("ServiceAccount", "mc-query"),
        ("ServiceAccount", "mc-alertmanager"),
        ("Role", "mc-scraper"),
        ("Role", "mc-alertmanager"),
        ("RoleBinding", "mc-scraper"),
        ("RoleBinding", "mc-alertmanager"),
        ("Service", "mc-storage-0"),
        ("Service", "mc-storage-1"),
        ("Service", "mc-scraper"),
        ("Service", "mc-query"),
        ("Service", "mc-alertmanager"),
        ("StatefulSet", "mc-storage-0"),
        ("StatefulSet", "mc-storage-1"),
        ("StatefulSet", "mc-scraper"),
        ("StatefulSet", "mc-alertmanager"),
        ("Deployment", "mc-query"),
        ("PodDisruptionBudget", "mc-storage-0"),
        ("PodDisruptionBudget", "mc-storage-1"),
        ("PodDisruptionBudget", "mc-scraper"),
        ("PodDisruptionBudget", "mc-query"),
        ("NetworkPolicy", "mc-storage"),
        ("NetworkPolicy", "mc-scraper"),
        ("NetworkPolicy", "mc-query"),
        ("NetworkPolicy", "mc-alertmanager"),
    ]
    .iter()
    .map(|(k, n)| (k.to_string(), n.to_string()))
    .collect();
    assert_eq!(got, want);
    for o in &objects {
        assert_eq!(o.namespace().as_deref(), Some("monitoring"));
        let owners = o.owner_references();
        assert_eq!(owners.len(), 1, "{}", o.name_any());
        assert_eq!(owners[0].kind, "MetricCluster");
        assert_eq!(owners[0].controller, Some(true));
        assert_eq!(
            o.labels()
                .get("app.kubernetes.io/managed-by")
                .map(String::as_str),
            Some("telltale-operator")
        );
    }
}

#[test]
fn storage_shards_are_raft_groups_with_stable_identities() {
    let mc = cluster(
        "mc",
        "shards: 2\nreplicasPerShard: 3\nimage: registry.local/telltale:1.2\nstorage: {size: 50Gi, storageClassName: fast}\nretention: {raw: 2d, rollup1m: 20d, rollup1h: 200d}",
    );
    let r = render_typed(&mc).unwrap();
    let sts = r
        .stateful_sets
        .iter()
        .find(|s| s.name_any() == "mc-storage-1")
        .unwrap();
    let spec = &sts.spec;
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(spec.service_name.as_deref(), Some("mc-storage-1"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    assert_eq!(
        spec.update_strategy.as_ref().unwrap().type_.as_deref(),
        Some("OnDelete")
    );
    let pvc = &spec.volume_claim_templates.as_ref().unwrap()[0];
    let pvc_spec = pvc.spec.as_ref().unwrap();
    assert_eq!(pvc_spec.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(
        pvc_spec
            .resources
            .as_ref()
            .unwrap()
            .requests
            .as_ref()
            .unwrap()["storage"]
            .0,
        "50Gi"
    );
    let pod = spec.template.spec.as_ref().unwrap();
    let anti = pod
        .affinity
        .as_ref()
        .unwrap()
        .pod_anti_affinity
        .as_ref()
        .unwrap();
    assert!(
        anti.preferred_during_scheduling_ignored_during_execution
            .is_some()
    );
    let c = container_of(sts);
    assert_eq!(c.image.as_deref(), Some("registry.local/telltale:1.2"));
    let command = c.command.as_ref().unwrap();
    assert_eq!(&command[..2], ["/bin/sh", "-c"]);
    assert!(
        command[2]
            .contains("exec telltale storage --replica-id \"$(( ${HOSTNAME##*-} + 1 ))\" \"$@\"")
    );
    assert_eq!(
        c.args.as_ref().unwrap().join(" "),
        "--data-dir /data --grpc-listen 0.0.0.0:9095 --listen 0.0.0.0:9091 --shard 1 \
         --peers 1=mc-storage-1-0.mc-storage-1.monitoring.svc:9095,\
2=mc-storage-1-1.mc-storage-1.monitoring.svc:9095,\
3=mc-storage-1-2.mc-storage-1.monitoring.svc:9095,\
4=mc-storage-1-3.mc-storage-1.monitoring.svc:9095,\
5=mc-storage-1-4.mc-storage-1.monitoring.svc:9095,\
6=mc-storage-1-5.mc-storage-1.monitoring.svc:9095,\
7=mc-storage-1-6.mc-storage-1.monitoring.svc:9095,\
8=mc-storage-1-7.mc-storage-1.monitoring.svc:9095,\
9=mc-storage-1-8.mc-storage-1.monitoring.svc:9095 \
         --initial-voters 3 \
         --retention-raw 2d --rollup-tiers 1m:2w6d,1h:28w4d \
         --grpc.tls-ca-file=/etc/telltale/grpc-tls/ca.crt \
         --grpc.tls-cert-file=/etc/telltale/grpc-tls/$(POD_NAME).crt \
         --grpc.tls-key-file=/etc/telltale/grpc-tls/$(POD_NAME).key"
    );
    let ready = c
        .readiness_probe
        .as_ref()
        .unwrap()
        .http_get
        .as_ref()
        .unwrap();
    assert_eq!(ready.path.as_deref(), Some("/ready"));
    assert_eq!(pod.automount_service_account_token, Some(false));

    let svc = r
        .services
        .iter()
        .find(|s| s.name_any() == "mc-storage-1")
        .unwrap();
    let svc_spec = svc.spec.as_ref().unwrap();
    assert_eq!(svc_spec.cluster_ip.as_deref(), Some("None"));
    assert_eq!(svc_spec.publish_not_ready_addresses, Some(true));

    let pdb = r
        .disruption_budgets
        .iter()
        .find(|p| p.name_any() == "mc-storage-1")
        .unwrap();
    assert_eq!(
        pdb.spec.as_ref().unwrap().min_available,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(2)),
        "a drain keeps the quorum of 3"
    );
    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .unwrap();
    assert_eq!(
        (
            retention.when_scaled.as_deref(),
            retention.when_deleted.as_deref()
        ),
        (Some("Delete"), Some("Retain")),
        "a replica that left its group starts empty when the shard grows again"
    );
}

/// Growing or shrinking a shard changes its StatefulSet's `replicas`, its PDB and the
/// shard map, never a storage pod's template (which would restart the group's pods).
#[test]
fn replicas_per_shard_changes_no_storage_template() {
    let three = cluster("mc", "replicasPerShard: 3");
    let five = cluster("mc", "replicasPerShard: 5");
    let running_three = BTreeMap::from([(
        0,
        ShardLayout {
            replicas: 3,
            min_available: 2,
            initial_voters: 3,
            restore: false,
        },
    )]);
    let before = render_typed(&three).unwrap();
    // Right after the spec says 5: the new pods exist, the voters are still 3.
    let growing = render_with(
        &five,
        &BTreeMap::from([(
            0,
            ShardLayout {
                replicas: 5,
                min_available: 2,
                initial_voters: 3,
                restore: false,
            },
        )]),
        "monitoring",
        &WebServing::default(),
    )
    .unwrap();
    let shard = |r: &telltale_operator::Rendered| {
        r.stateful_sets
            .iter()
            .find(|s| s.name_any() == "mc-storage-0")
            .unwrap()
            .clone()
    };
    assert_eq!(
        shard(&before).spec.template,
        shard(&growing).spec.template,
        "the storage pod template does not depend on replicasPerShard"
    );
    assert_eq!(shard(&growing).spec.replicas, Some(5));
    assert_eq!(
        render_with(&three, &running_three, "monitoring", &WebServing::default())
            .unwrap()
            .stateful_sets,
        before.stateful_sets
    );
    let pdb = growing
        .disruption_budgets
        .iter()
        .find(|p| p.name_any() == "mc-storage-0")
        .unwrap();
    assert_eq!(
        pdb.spec.as_ref().unwrap().min_available,
        Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(2)),
        "the PDB follows the voters, not the spec"
    );
    // The other components read the shard map live: no restart of theirs either.
    let templates = |r: &telltale_operator::Rendered| {
        (
            r.deployments[0].spec.template.clone(),
            r.stateful_sets
                .iter()
                .filter(|s| !s.name_any().starts_with("mc-storage"))
                .map(|s| s.spec.template.clone())
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(templates(&before), templates(&growing));
    let map = |r: &telltale_operator::Rendered| {
        r.config_maps[0].data.as_ref().unwrap()["shard-map.yaml"].clone()
    };
    assert!(
        map(&growing).contains("mc-storage-0-4.mc-storage-0"),
        "{}",
        map(&growing)
    );
    assert!(
        !map(&before).contains("mc-storage-0-3."),
        "{}",
        map(&before)
    );

    // A StatefulSet rendered before `--initial-voters` existed: all of its peers formed
    // the group.
    let mut old = shard(&before);
    let args = old.spec.template.spec.as_mut().unwrap().containers[0]
        .args
        .as_mut()
        .unwrap();
    let at = args.iter().position(|a| a == "--initial-voters").unwrap();
    args.drain(at..at + 2);
    let peers = args.iter().position(|a| a == "--peers").unwrap() + 1;
    args[peers] = "1=a:1,2=b:1,3=c:1".into();
    assert_eq!(initial_voters_of(&old), Some(3));
    assert_eq!(initial_voters_of(&shard(&growing)), Some(3));
}

#[test]
fn components_read_the_shard_map() {
    let mc = cluster("mc", "scraper: {replicas: 2}\nquery: {replicas: 2}");
    let r = render_typed(&mc).unwrap();
    let map = &r.config_maps[0].data.as_ref().unwrap()["shard-map.yaml"];
    assert_eq!(
        map,
        "shards:\n- id: 0\n  replicas:\n  - mc-storage-0-0.mc-storage-0.monitoring.svc:9095\n  - mc-storage-0-1.mc-storage-0.monitoring.svc:9095\n  - mc-storage-0-2.mc-storage-0.monitoring.svc:9095\n"
    );
    let scraper = r
        .stateful_sets
        .iter()
        .find(|s| s.name_any() == "mc-scraper")
        .unwrap();
    let c = container_of(scraper);
    assert_eq!(
        c.args.as_ref().unwrap().join(" "),
        "scraper --listen 0.0.0.0:9092 --shard-map /etc/telltale/shard-map.yaml --member-name $(POD_NAME) --members 2 \
         --kubernetes-discovery --watch-namespace $(POD_NAMESPACE) --queue-dir /data/queue \
         --members-service mc-scraper \
         --grpc.tls-ca-file=/etc/telltale/grpc-tls/ca.crt \
         --grpc.tls-cert-file=/etc/telltale/grpc-tls/tls.crt \
         --grpc.tls-key-file=/etc/telltale/grpc-tls/tls.key"
    );
    assert!(c.env.as_ref().unwrap().iter().any(|e| e.name == "POD_NAME"));
    assert!(
        c.env
            .as_ref()
            .unwrap()
            .iter()
            .any(|e| e.name == "POD_NAMESPACE")
    );
    // Its MetricCluster's monitor selectors pick prometheus-operator's monitors.
    assert!(
        c.env
            .as_ref()
            .unwrap()
            .iter()
            .any(|e| e.name == "TELLTALE_METRIC_CLUSTER" && e.value.as_deref() == Some("mc"))
    );
    // The queue lives on a volume: the root filesystem is read-only.
    let mounts = c.volume_mounts.as_ref().unwrap();
    assert!(mounts.iter().any(|m| m.mount_path == "/data"), "{mounts:?}");
    let args = |name: &str| {
        let d = r.deployments.iter().find(|d| d.name_any() == name).unwrap();
        d.spec.template.spec.as_ref().unwrap().containers[0]
            .args
            .clone()
            .unwrap()
            .join(" ")
    };
    // Every scraper replica's targets, and the alertmanager's API, through the query.
    assert_eq!(
        args("mc-query"),
        "query --listen 0.0.0.0:9090 --shard-map /etc/telltale/shard-map.yaml \
         --scraper-url http://mc-scraper-0.mc-scraper.monitoring.svc:9092 \
         --scraper-url http://mc-scraper-1.mc-scraper.monitoring.svc:9092 \
         --alertmanager-url http://mc-alertmanager.monitoring.svc:9093 \
         --grpc.tls-ca-file=/etc/telltale/grpc-tls/ca.crt \
         --grpc.tls-cert-file=/etc/telltale/grpc-tls/tls.crt \
         --grpc.tls-key-file=/etc/telltale/grpc-tls/tls.key"
    );
    let am = r
        .stateful_sets
        .iter()
        .find(|s| s.name_any() == "mc-alertmanager")
        .unwrap();
    let c = container_of(am);
    assert_eq!(
        c.args.as_ref().unwrap().join(" "),
        "alertmanager --listen 0.0.0.0:9093 --shard-map /etc/telltale/shard-map.yaml --data-dir /data --kubernetes \
         --grpc.tls-ca-file=/etc/telltale/grpc-tls/ca.crt \
         --grpc.tls-cert-file=/etc/telltale/grpc-tls/tls.crt \
         --grpc.tls-key-file=/etc/telltale/grpc-tls/tls.key"
    );
    let env: Vec<(String, Option<String>, Option<String>)> = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e.name.clone(),
                e.value.clone(),
                e.value_from
                    .as_ref()
                    .and_then(|v| v.field_ref.as_ref())
                    .map(|f| f.field_path.clone()),
            )
        })
        .collect();
    assert_eq!(
        env,
        [
            (
                "POD_NAMESPACE".to_string(),
                None,
                Some("metadata.namespace".to_string())
            ),
            (
                "TELLTALE_METRIC_CLUSTER".to_string(),
                Some("mc".to_string()),
                None
            ),
        ]
    );
    let q = r
        .deployments
        .iter()
        .find(|d| d.name_any() == "mc-query")
        .unwrap();
    assert_eq!(q.spec.replicas, Some(2));
}

#[test]
fn rbac_is_least_privilege() {
    let mc = cluster("mc", "{}");
    let r = render_typed(&mc).unwrap();
    let scraper = r
        .roles
        .iter()
        .find(|x| x.name_any() == "mc-scraper")
        .unwrap();
    for rule in scraper.rules.as_ref().unwrap() {
        let events = rule.api_groups.as_deref() == Some(&["events.k8s.io".to_string()][..]);
        let credentials = rule.resources.as_deref()
            == Some(&["secrets".to_string(), "configmaps".to_string()][..]);
        let want: &[&str] = if events {
            &["create", "patch"]
        } else if credentials {
            // The keys targets name (tlsConfig, authorization, basicAuth), one by one.
            &["get"]
        } else {
            &["get", "list", "watch"]
        };
        assert_eq!(
            rule.verbs, want,
            "the scraper only reads (and reports Events)"
        );
    }
    let resources: BTreeSet<String> = scraper
        .rules
        .as_ref()
        .unwrap()
        .iter()
        .flat_map(|r| r.resources.clone().unwrap())
        .collect();
    assert_eq!(
        resources,
        [
            "configmaps",
            "endpoints",
            "endpointslices",
            "events",
            "metricclusters",
            "pods",
            "podmonitors",
            "scrapeconfigs",
            "scrapetargets",
            "secrets",
            "servicemonitors",
            "services"
        ]
        .map(String::from)
        .into()
    );
    let am = r
        .roles
        .iter()
        .find(|x| x.name_any() == "mc-alertmanager")
        .unwrap();
    assert!(
        am.rules.as_ref().unwrap().iter().all(|r| !r
            .resources
            .as_ref()
            .unwrap()
            .contains(&"secrets".to_string())),
        "no receiver names a Secret, so none is readable"
    );
    // Storage and query never call the API: no token mounted.
    let sa = |n: &str| {
        r.service_accounts
            .iter()
            .find(|s| s.name_any() == n)
            .unwrap()
    };
    assert_eq!(
        sa("mc-storage").automount_service_account_token,
        Some(false)
    );
    assert_eq!(sa("mc-query").automount_service_account_token, Some(false));
    assert_eq!(sa("mc-scraper").automount_service_account_token, Some(true));
}

#[test]
fn adding_a_shard_leaves_existing_shards_alone() {
    let one = render_typed(&cluster("mc", "shards: 1")).unwrap();
    let two = render_typed(&cluster("mc", "shards: 2")).unwrap();
    let shard0 = |r: &telltale_operator::Rendered| {
        r.stateful_sets
            .iter()
            .find(|s| s.name_any() == "mc-storage-0")
            .cloned()
            .unwrap()
    };
    assert_eq!(shard0(&one), shard0(&two), "shard 0's pods are not rolled");
    assert_eq!(two.stateful_sets.len(), 4);
    // The components read the new map: their template changes, so they roll.
    let hash = |r: &telltale_operator::Rendered| {
        r.deployments[0]
            .spec
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .clone()
    };
    assert_ne!(hash(&one), hash(&two));
}

#[test]
fn the_alertmanager_keeps_its_state_on_a_claim() {
    let mc = cluster(
        "mc",
        "alertmanager: {replicas: 3}
storage: {storageClassName: fast}
alerting:
  receivers:
    - name: pd
      pagerdutyConfigs: [{routingKey: {secretKeyRef: {name: pagerduty, key: key}}}]",
    );
    let r = render_typed(&mc).unwrap();
    assert!(
        r.deployments
            .iter()
            .all(|d| d.name_any() != "mc-alertmanager"),
        "no Deployment with an emptyDir any more"
    );
    let am = r
        .stateful_sets
        .iter()
        .find(|s| s.name_any() == "mc-alertmanager")
        .unwrap();
    assert_eq!(
        am.spec.replicas,
        Some(1),
        "state is not shared between pods"
    );
    assert_eq!(am.spec.service_name.as_deref(), Some("mc-alertmanager"));
    let claims = am.spec.volume_claim_templates.as_ref().unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].name_any(), "data");
    let claim = claims[0].spec.as_ref().unwrap();
    assert_eq!(claim.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(
        claim.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "1Gi"
    );
    let pod = am.spec.template.spec.as_ref().unwrap();
    assert!(
        pod.volumes.iter().flatten().all(|v| v.name != "data"),
        "/data is the claim, not an emptyDir"
    );
    assert!(
        container_of(am)
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == "data" && m.mount_path == "/data")
    );
    assert_eq!(pod.automount_service_account_token, Some(true));
    let role = r
        .roles
        .iter()
        .find(|x| x.name_any() == "mc-alertmanager")
        .unwrap();
    let rules = role.rules.as_ref().unwrap();
    let secrets = rules
        .iter()
        .find(|r| r.resources.as_deref() == Some(&["secrets".to_string()][..]))
        .unwrap();
    assert_eq!(secrets.verbs, ["get"], "Secrets are read with get only");
    assert_eq!(
        secrets.resource_names.as_deref(),
        Some(&["pagerduty".to_string()][..])
    );
    let watched = rules
        .iter()
        .find(|r| r.api_groups.as_deref() == Some(&["telltale.dev".to_string()][..]))
        .unwrap();
    assert_eq!(watched.verbs, ["get", "list", "watch"]);
}

#[test]
fn an_image_change_changes_every_template() {
    let a = render_typed(&cluster("mc", "image: t:1")).unwrap();
    let b = render_typed(&cluster("mc", "image: t:2")).unwrap();
    for (x, y) in a.stateful_sets.iter().zip(&b.stateful_sets) {
        assert_ne!(x.spec.template, y.spec.template);
        assert_eq!(container_of(y).image.as_deref(), Some("t:2"));
    }
}

#[test]
fn rendering_needs_an_object_from_the_api() {
    let mut mc = cluster("mc", "{}");
    mc.metadata.uid = None;
    let err = render(&mc).unwrap_err();
    assert_eq!(err.to_string(), "mc: metadata.uid is missing");
}

/// The pod template of every workload, by name.
fn templates(r: &telltale_operator::Rendered) -> BTreeMap<String, PodSpec> {
    let mut out: BTreeMap<String, PodSpec> = r
        .stateful_sets
        .iter()
        .map(|s| (s.name_any(), s.spec.template.spec.clone().unwrap()))
        .collect();
    for d in &r.deployments {
        out.insert(d.name_any(), d.spec.template.spec.clone().unwrap());
    }
    out
}

fn tls_args(c: &Container) -> Vec<String> {
    c.args
        .iter()
        .flatten()
        .filter(|a| a.starts_with("--grpc.tls-"))
        .cloned()
        .collect()
}

#[test]
fn every_pod_mounts_its_tls_secret_whole_and_names_its_files() {
    let r = render_typed(&cluster("mc", "shards: 2")).unwrap();
    let pods = templates(&r);
    assert_eq!(pods.len(), 5);
    for (workload, pod) in &pods {
        let secret = format!("{workload}-tls");
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "grpc-tls")
            .unwrap_or_else(|| panic!("{workload}: no grpc-tls volume"));
        let source = volume.secret.as_ref().unwrap();
        assert_eq!(source.secret_name.as_deref(), Some(secret.as_str()));
        assert!(source.items.is_none(), "{workload}: the whole Secret");
        let c = &pod.containers[0];
        let mount = c
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == "grpc-tls")
            .unwrap();
        assert_eq!(mount.mount_path, "/etc/telltale/grpc-tls");
        assert_eq!(mount.read_only, Some(true));
        assert!(
            mount.sub_path.is_none() && mount.sub_path_expr.is_none(),
            "{workload}: a subPath mount is never updated by the kubelet"
        );
        let (cert, key) = if workload.starts_with("mc-storage-") {
            // Kubernetes expands $(POD_NAME) from the container's env.
            let env = c.env.as_ref().unwrap();
            let pod_name = env.iter().find(|e| e.name == "POD_NAME").unwrap();
            assert_eq!(
                pod_name
                    .value_from
                    .as_ref()
                    .unwrap()
                    .field_ref
                    .as_ref()
                    .unwrap()
                    .field_path,
                "metadata.name"
            );
            ("$(POD_NAME).crt", "$(POD_NAME).key")
        } else {
            ("tls.crt", "tls.key")
        };
        assert_eq!(
            tls_args(c),
            [
                "--grpc.tls-ca-file=/etc/telltale/grpc-tls/ca.crt".to_string(),
                format!("--grpc.tls-cert-file=/etc/telltale/grpc-tls/{cert}"),
                format!("--grpc.tls-key-file=/etc/telltale/grpc-tls/{key}"),
            ],
            "{workload}"
        );
    }
}

#[test]
fn disabled_tls_mounts_no_secret_and_passes_no_flag() {
    let r = render_typed(&cluster("mc", "tls: {internal: {mode: Disabled}}")).unwrap();
    for (workload, pod) in templates(&r) {
        assert!(
            pod.volumes.iter().flatten().all(|v| v.secret.is_none()),
            "{workload}"
        );
        let c = &pod.containers[0];
        assert!(
            c.volume_mounts
                .iter()
                .flatten()
                .all(|m| m.name != "grpc-tls"),
            "{workload}"
        );
        assert!(tls_args(c).is_empty(), "{workload}: {:?}", c.args);
    }
    let storage = r
        .stateful_sets
        .iter()
        .find(|s| s.name_any() == "mc-storage-0")
        .unwrap();
    assert!(
        container_of(storage).env.is_none(),
        "storage's env is as before TLS"
    );
}

/// Certificates are renewed by the kubelet updating the mounted files: nothing of them
/// (not their validity, not a hash) is in a pod template, and the CA's origin neither.
#[test]
fn certificate_settings_change_no_pod_template() {
    let base = render_typed(&cluster("mc", "{}")).unwrap();
    for spec in [
        "tls: {internal: {certificateValidity: 1h, renewBefore: 59m59s}}",
        "tls: {internal: {mode: Secret, caSecretName: my-ca}}",
    ] {
        let other = render_typed(&cluster("mc", spec)).unwrap();
        assert_eq!(templates(&base), templates(&other), "{spec}");
    }
    for s in base.stateful_sets.iter() {
        let annotations = s
            .spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.clone())
            .unwrap_or_default();
        assert!(
            annotations.keys().all(|k| k == "telltale.dev/config-hash"),
            "{annotations:?}"
        );
    }
}

fn policy<'a>(r: &'a telltale_operator::Rendered, name: &str) -> &'a NetworkPolicySpec {
    r.network_policies
        .iter()
        .find(|p| p.name_any() == name)
        .unwrap_or_else(|| panic!("no NetworkPolicy {name}"))
        .spec
        .as_ref()
        .unwrap()
}

fn ports(rule: &NetworkPolicyIngressRule) -> Vec<i32> {
    rule.ports
        .iter()
        .flatten()
        .map(|p| match p.port {
            Some(IntOrString::Int(n)) => n,
            ref other => panic!("port {other:?}"),
        })
        .collect()
}

#[test]
fn network_policies_admit_only_the_flows_the_cluster_needs() {
    let r = render_with(
        &cluster("mc", "shards: 2"),
        &BTreeMap::new(),
        "telltale-system",
        &WebServing::default(),
    )
    .unwrap();
    assert_eq!(r.network_policies.len(), 4);
    for p in &r.network_policies {
        let spec = p.spec.as_ref().unwrap();
        assert_eq!(
            spec.policy_types.as_deref(),
            Some(&["Ingress".to_string()][..]),
            "egress is not restricted: scrapers reach arbitrary targets"
        );
        assert!(spec.egress.is_none());
    }

    let storage = policy(&r, "mc-storage");
    let selected = storage
        .pod_selector
        .as_ref()
        .unwrap()
        .match_labels
        .clone()
        .unwrap();
    assert_eq!(selected["app.kubernetes.io/component"], "storage");
    assert_eq!(selected["app.kubernetes.io/instance"], "mc");
    assert!(
        !selected.contains_key("telltale.dev/shard"),
        "every shard's pods"
    );
    let rules = storage.ingress.as_ref().unwrap();
    assert_eq!(rules.len(), 2);
    assert_eq!(ports(&rules[0]), [9095], "gRPC");
    let from = rules[0].from.as_ref().unwrap();
    let cluster_pods = from[0].pod_selector.as_ref().unwrap();
    assert_eq!(
        cluster_pods.match_labels.as_ref().unwrap()["app.kubernetes.io/instance"],
        "mc"
    );
    assert!(
        from[0].namespace_selector.is_none(),
        "the cluster's own namespace"
    );
    let operator = &from[1];
    assert_eq!(
        operator
            .namespace_selector
            .as_ref()
            .unwrap()
            .match_labels
            .as_ref()
            .unwrap()["kubernetes.io/metadata.name"],
        "telltale-system"
    );
    assert_eq!(
        operator.pod_selector.as_ref().unwrap().match_labels,
        Some(BTreeMap::from([
            ("app.kubernetes.io/component".to_string(), "operator".into()),
            ("app.kubernetes.io/name".to_string(), "telltale".into()),
        ])),
        "the chart's operator pods"
    );
    assert_eq!(ports(&rules[1]), [9091], "metrics and health");
    assert_eq!(
        rules[1].from.as_ref().unwrap().len(),
        1,
        "cluster pods only"
    );

    // The user-facing HTTP APIs (push receivers, query, Alertmanager) from anywhere,
    // which also covers query -> scraper targets, query -> alertmanager and the
    // scrapers' self-monitoring.
    for (name, port) in [
        ("mc-scraper", 9092),
        ("mc-query", 9090),
        ("mc-alertmanager", 9093),
    ] {
        let rules = policy(&r, name).ingress.as_ref().unwrap();
        assert_eq!(rules.len(), 1, "{name}");
        assert_eq!(ports(&rules[0]), [port], "{name}");
        assert!(rules[0].from.is_none(), "{name}: from anywhere");
    }

    let off = render_typed(&cluster("mc", "networkPolicies: false")).unwrap();
    assert!(off.network_policies.is_empty());
}

/// `spec.web`: every pod mounts the Secret, serves with `--web.config.file`, answers its
/// probes on the loopback probe listener (exec `telltale probe`, as the kubelet has no
/// password or client certificate), and the query calls the others at `https://` with
/// the Secret's CA and certificate when the file turns TLS on.
#[test]
fn a_web_config_secret_is_mounted_everywhere_and_probes_go_through_loopback() {
    let mc = cluster(
        "mc",
        "shards: 1\nweb: {configSecret: {name: web, key: config.yml}}",
    );
    let serving = WebServing {
        tls: true,
        peer_ca: true,
        cert_file: Some("tls.crt".into()),
        key_file: Some("/abs/tls.key".into()),
    };
    let r = render_with(&mc, &BTreeMap::new(), "monitoring", &serving).unwrap();
    let pods: Vec<PodSpec> = r
        .stateful_sets
        .iter()
        .map(|s| s.spec.clone().template.spec.unwrap())
        .chain(
            r.deployments
                .iter()
                .map(|d| d.spec.clone().template.spec.unwrap()),
        )
        .collect();
    assert_eq!(pods.len(), 4);
    for pod in &pods {
        let c = &pod.containers[0];
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "web-config")
            .expect("the web volume");
        assert_eq!(
            volume.secret.as_ref().unwrap().secret_name.as_deref(),
            Some("web")
        );
        let mount = c
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == "web-config")
            .unwrap();
        assert_eq!(
            (mount.mount_path.as_str(), mount.sub_path.as_deref()),
            ("/etc/telltale/web", None)
        );
        let args = c.args.clone().unwrap();
        assert!(
            args.contains(&"--web.config.file=/etc/telltale/web/config.yml".to_string()),
            "{args:?}"
        );
        assert!(
            args.contains(&"--probe.listen-address=127.0.0.1:9190".to_string()),
            "{args:?}"
        );
        for (probe, path) in [
            (&c.readiness_probe, "/ready"),
            (&c.liveness_probe, "/healthz"),
        ] {
            let probe = probe.as_ref().unwrap();
            assert!(probe.http_get.is_none());
            assert_eq!(
                probe.exec.as_ref().unwrap().command.as_deref().unwrap(),
                ["telltale", "probe", &format!("http://127.0.0.1:9190{path}")]
            );
        }
    }
    let query = r.deployments[0]
        .spec
        .clone()
        .template
        .spec
        .unwrap()
        .containers[0]
        .args
        .clone()
        .unwrap();
    assert!(
        query
            .iter()
            .any(|a| a.starts_with("https://mc-scraper-0.mc-scraper.")),
        "{query:?}"
    );
    assert!(
        query
            .iter()
            .any(|a| a.starts_with("https://mc-alertmanager.")),
        "{query:?}"
    );
    for flag in [
        "--peer.tls-ca-file=/etc/telltale/web/ca.crt",
        "--peer.tls-cert-file=/etc/telltale/web/tls.crt",
        "--peer.tls-key-file=/abs/tls.key",
    ] {
        assert!(query.contains(&flag.to_string()), "{flag} in {query:?}");
    }
    // Without it: HTTP probes, no web volume, plain URLs.
    let plain = render_typed(&cluster("mc", "shards: 1")).unwrap();
    let q = plain.deployments[0].spec.clone().template.spec.unwrap();
    assert!(
        q.containers[0]
            .readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .is_some()
    );
    assert!(!q.volumes.iter().flatten().any(|v| v.name == "web-config"));
    assert!(
        q.containers[0]
            .args
            .as_ref()
            .unwrap()
            .iter()
            .any(|a| a.starts_with("http://mc-alertmanager."))
    );
}

/// `spec.backup.credentialsSecret` becomes the storage pods' environment (the leaders
/// upload their shard with it); the other pods do not get it.
#[test]
fn backup_credentials_reach_the_storage_pods_only() {
    let mc = cluster(
        "mc",
        "shards: 1\nbackup: {url: 's3://b/p', schedule: '0 3 * * *', credentialsSecret: s3-keys}",
    );
    let r = render_typed(&mc).unwrap();
    for set in &r.stateful_sets {
        let pod = set.spec.clone().template.spec.unwrap();
        let from = pod.containers[0].env_from.clone().unwrap_or_default();
        let storage = set
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("mc-storage");
        assert_eq!(
            from.iter()
                .filter_map(|e| e.secret_ref.as_ref())
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            if storage { vec!["s3-keys"] } else { vec![] },
            "{:?}",
            set.metadata.name
        );
    }
}

fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let at = args.iter().position(|a| a == flag)?;
    args.get(at + 1).map(String::as_str)
}

/// `spec.retention`: the storage pods run with the tiers as `--rollup-tiers` (the
/// deprecated `rollup1m`/`rollup1h` as the 1m and 1h tiers), never the old flags.
#[test]
fn retention_tiers_become_one_flag() {
    let tiers = |retention: &str| {
        let mc = cluster("mc", &format!("shards: 1\nretention: {retention}"));
        let r = render_typed(&mc).unwrap();
        let args = container_of(&r.stateful_sets[0]).args.clone().unwrap();
        assert!(
            !args.iter().any(|a| a.starts_with("--retention-1")),
            "{args:?}"
        );
        (
            flag(&args, "--retention-raw").unwrap().to_string(),
            flag(&args, "--rollup-tiers").unwrap().to_string(),
        )
    };
    assert_eq!(tiers("{}"), ("1w".into(), "1m:4w2d,1h:1y".into()));
    assert_eq!(
        tiers("{raw: 14d, rollup1h: 2y}"),
        ("2w".into(), "1m:4w2d,1h:2y".into())
    );
    assert_eq!(
        tiers(
            "{raw: 3d, rollups: [{resolution: 5m, retention: 90d}, \
             {resolution: 1d, retention: 5y}]}"
        ),
        ("3d".into(), "5m:12w6d,1d:5y".into())
    );
}

/// `spec.restore`: a new shard's pods get an init container restoring the backup's
/// shard of the same number into ordinal 0's empty volume (the other pods skip it), with
/// the storage container's identity and volume and the credentials Secret; a shard
/// created without it (an existing cluster, a shard added later) has none.
#[test]
fn a_restored_cluster_bootstraps_each_shard_from_its_backup_shard() {
    let mc = cluster(
        "mc",
        "shards: 2\nrestore: {from: 's3://b/p/20260101T030000Z', credentialsSecret: s3-keys}",
    );
    let r = render_typed(&mc).unwrap();
    let shard1 = r
        .stateful_sets
        .iter()
        .find(|s| s.name_any() == "mc-storage-1")
        .unwrap();
    assert!(restores(shard1));
    let pod = shard1.spec.template.spec.as_ref().unwrap();
    let init = &pod.init_containers.as_ref().unwrap()[0];
    let storage = &pod.containers[0];
    assert_eq!(init.name, "restore");
    assert_eq!(init.image, storage.image);
    assert_eq!(init.security_context, storage.security_context);
    assert_eq!(
        init.command.as_ref().unwrap()[2],
        RESTORE_ENTRYPOINT,
        "only ordinal 0 restores"
    );
    assert!(RESTORE_ENTRYPOINT.starts_with("[ \"${HOSTNAME##*-}\" = 0 ] || exit 0;"));
    assert!(
        init.readiness_probe.is_none() && init.liveness_probe.is_none() && init.ports.is_none()
    );
    let args = init.args.clone().unwrap();
    let storage_args = storage.args.clone().unwrap();
    assert_eq!(flag(&args, "--from"), Some("s3://b/p/20260101T030000Z"));
    assert_eq!(flag(&args, "--shard"), Some("1"));
    assert_eq!(flag(&args, "--data-dir"), Some("/data"));
    assert!(args.contains(&"--if-empty".to_string()));
    assert_eq!(flag(&args, "--peers"), flag(&storage_args, "--peers"));
    assert_eq!(
        flag(&args, "--initial-voters"),
        flag(&storage_args, "--initial-voters")
    );
    assert_eq!(
        tls_args(init),
        tls_args(storage),
        "asks the peers over mutual TLS"
    );
    assert_eq!(init.env, storage.env, "POD_NAME names its certificate");
    let mounts = |c: &Container| {
        c.volume_mounts
            .iter()
            .flatten()
            .map(|m| (m.name.clone(), m.mount_path.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(mounts(init), mounts(storage));
    let secrets = |c: &Container| {
        c.env_from
            .iter()
            .flatten()
            .filter_map(|e| Some(e.secret_ref.as_ref()?.name.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(secrets(init), ["s3-keys"]);
    assert!(
        secrets(storage).is_empty(),
        "no spec.backup: no store access"
    );

    // The layout of an existing StatefulSet (or a shard added later) decides.
    let existing = |restore: bool| {
        let layouts = (0..2)
            .map(|s| {
                (
                    s,
                    ShardLayout {
                        replicas: 3,
                        min_available: 2,
                        initial_voters: 3,
                        restore,
                    },
                )
            })
            .collect();
        render_with(&mc, &layouts, "monitoring", &WebServing::default()).unwrap()
    };
    assert_eq!(existing(true).stateful_sets, r.stateful_sets);
    assert!(existing(false).stateful_sets.iter().all(|s| !restores(s)));
    let plain = render_typed(&cluster("mc", "shards: 2")).unwrap();
    for (a, b) in plain
        .stateful_sets
        .iter()
        .zip(&existing(false).stateful_sets)
    {
        assert_eq!(a.spec.template, b.spec.template);
    }
}

/// `spec.coldStorage`: the storage container gets the `--cold-*` flags (sizes in bytes,
/// ages as `--cold-after`), `endpoint` and `region` as the `AWS_*` environment and the
/// credentials Secret as `envFrom` (once when `spec.backup` names it too); the restore
/// container and the other components get none of it, and a cluster without it renders
/// no such flag.
#[test]
fn cold_storage_reaches_the_storage_container_only() {
    let mc = cluster(
        "mc",
        "shards: 2\nstorage: {size: 100Gi}\nrestore: {from: 's3://b/p/x', credentialsSecret: old}\n\
         coldStorage: {url: 's3://cold/tt', endpoint: 'http://minio.minio:9000', \
         region: eu-west-1, credentialsSecret: s3-keys, after: {raw: 2d, 1h: 30d}, \
         cacheSize: 20Gi, memorySize: 64Mi, moveInterval: 1m}",
    );
    let r = render_typed(&mc).unwrap();
    let env = |c: &Container| {
        c.env
            .iter()
            .flatten()
            .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
            .collect::<BTreeMap<_, _>>()
    };
    let secrets = |c: &Container| {
        c.env_from
            .iter()
            .flatten()
            .filter_map(|e| Some(e.secret_ref.as_ref()?.name.clone()))
            .collect::<Vec<_>>()
    };
    for set in &r.stateful_sets {
        let pod = set.spec.template.spec.as_ref().unwrap();
        let c = &pod.containers[0];
        let args = c.args.clone().unwrap();
        if !set.name_any().starts_with("mc-storage") {
            assert!(
                !args.iter().any(|a| a.starts_with("--cold")),
                "{}",
                set.name_any()
            );
            assert!(secrets(c).is_empty() && !env(c).contains_key("AWS_REGION"));
            continue;
        }
        assert_eq!(flag(&args, "--cold-storage.url"), Some("s3://cold/tt"));
        assert_eq!(flag(&args, "--cold-after"), Some("raw:2d,1h:4w2d"));
        assert_eq!(
            flag(&args, "--cold-storage.cache-size"),
            Some((20u64 << 30).to_string().as_str())
        );
        assert_eq!(
            flag(&args, "--cold-storage.memory-size"),
            Some((64u64 << 20).to_string().as_str())
        );
        assert_eq!(flag(&args, "--cold-storage.move-interval"), Some("1m"));
        let e = env(c);
        assert_eq!(e["AWS_ENDPOINT_URL"], "http://minio.minio:9000");
        assert_eq!(e["AWS_ALLOW_HTTP"], "true");
        assert_eq!(e["AWS_REGION"], "eu-west-1");
        assert_eq!(secrets(c), ["s3-keys"]);
        // The restore reads the backup with its own store's environment.
        let init = &pod.init_containers.as_ref().unwrap()[0];
        assert_eq!(secrets(init), ["old"]);
        assert!(!env(init).keys().any(|k| k.starts_with("AWS_")), "{init:?}");
        assert!(!init.args.iter().flatten().any(|a| a.starts_with("--cold")));
    }

    // The defaults: every tier's age from the binary, the cache half a small volume, no
    // environment; with spec.backup's Secret, one envFrom.
    let mc = cluster(
        "mc",
        "shards: 1\nbackup: {url: 's3://b/p', schedule: '0 3 * * *', credentialsSecret: keys}\n\
         coldStorage: {url: 's3://cold', credentialsSecret: keys}",
    );
    let r = render_typed(&mc).unwrap();
    let c = container_of(&r.stateful_sets[0]);
    let args = c.args.clone().unwrap();
    assert_eq!(flag(&args, "--cold-storage.url"), Some("s3://cold"));
    assert_eq!(flag(&args, "--cold-after"), None);
    assert_eq!(
        flag(&args, "--cold-storage.cache-size"),
        Some((5u64 << 30).to_string().as_str()),
        "half of the default 10Gi volume"
    );
    assert_eq!(flag(&args, "--cold-storage.memory-size"), None);
    assert!(!env(c).keys().any(|k| k.starts_with("AWS_")));
    assert_eq!(secrets(c), ["keys"]);
    // Without a Secret: the pods' own identity (no envFrom at all).
    let mc = cluster("mc", "shards: 1\ncoldStorage: {url: 'gs://cold/tt'}");
    let c = container_of(&render_typed(&mc).unwrap().stateful_sets[0]).clone();
    assert_eq!(
        flag(c.args.as_ref().unwrap(), "--cold-storage.url"),
        Some("gs://cold/tt")
    );
    assert!(c.env_from.is_none());

    // Without spec.coldStorage: no flag; adding it changes the storage templates only.
    let plain = render_typed(&cluster("mc", "shards: 1")).unwrap();
    let cold = render_typed(&cluster(
        "mc",
        "shards: 1\ncoldStorage: {url: 'file:///cold'}",
    ))
    .unwrap();
    for (a, b) in plain.stateful_sets.iter().zip(&cold.stateful_sets) {
        let args = container_of(a).args.clone().unwrap();
        assert!(!args.iter().any(|a| a.starts_with("--cold")));
        let storage = a.name_any().starts_with("mc-storage");
        assert_eq!(
            a.spec.template != b.spec.template,
            storage,
            "{}",
            a.name_any()
        );
    }
}
