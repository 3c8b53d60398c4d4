//! The committed CRD YAML must be exactly what the types generate.

/// With `TELLTALE_BLESS=1` the committed files are rewritten instead (then review the diff).
#[test]
fn committed_crds_match_the_types() {
    let generated = telltale_crds::crd_yaml().unwrap();
    for (path, what) in [
        (
            concat!(env!("CARGO_MANIFEST_DIR"), "/telltale.dev.yaml"),
            "crds/telltale.dev.yaml",
        ),
        (
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../charts/telltale/crds/telltale.dev.yaml"
            ),
            "charts/telltale/crds/telltale.dev.yaml",
        ),
    ] {
        if std::env::var_os("TELLTALE_BLESS").is_some() {
            std::fs::write(path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(path).expect("the CRD YAML is committed");
        assert!(
            committed == generated,
            "{what} is out of date: run TELLTALE_BLESS=1 cargo test -p telltale-crds"
        );
    }
}

/// The chart's guarded copy of prometheus-operator's CRDs is what the code generates.
#[test]
fn committed_operator_crd_template_matches() {
    let generated = telltale_crds::prometheus_operator::crd::chart_template().unwrap();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../charts/telltale/templates/prometheus-operator-crds.yaml"
    );
    if std::env::var_os("TELLTALE_BLESS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).expect("the template is committed");
    assert!(
        committed == generated,
        "charts/telltale/templates/prometheus-operator-crds.yaml is out of date: run TELLTALE_BLESS=1 cargo test -p telltale-crds"
    );
    for name in [
        "servicemonitors.monitoring.coreos.com",
        "podmonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
        "scrapeconfigs.monitoring.coreos.com",
    ] {
        assert!(
            generated.contains(&format!("(list . \"{name}\")")),
            "{name} is not guarded"
        );
    }
}

#[test]
fn metric_cluster_crd_has_columns_defaults_and_cel_rules() {
    use kube::CustomResourceExt;
    let crd = serde_json::to_value(telltale_crds::MetricCluster::crd()).unwrap();
    let version = &crd["spec"]["versions"][0];
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(columns, ["Phase", "Ready", "Shards", "Age"]);
    assert_eq!(crd["spec"]["names"]["shortNames"][0], "mc");
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert_eq!(spec["replicasPerShard"]["default"], 3);
    assert_eq!(
        spec["replicasPerShard"]["x-kubernetes-validations"][0]["rule"],
        "self >= 1 && self <= 9 && self % 2 == 1"
    );
    assert_eq!(spec["shards"]["minimum"].as_f64(), Some(1.0));
    assert_eq!(
        spec["shards"]["x-kubernetes-validations"][0]["rule"],
        "self >= oldSelf"
    );
    assert_eq!(spec["retention"]["default"]["raw"], "1w");
    let retention_rule = spec["retention"]["x-kubernetes-validations"][0]["rule"]
        .as_str()
        .unwrap();
    assert!(retention_rule.contains("findAll"), "{retention_rule}");
    let internal = &spec["tls"]["properties"]["internal"];
    assert_eq!(
        internal["properties"]["mode"]["enum"],
        serde_json::json!(["Operator", "Secret", "Disabled"])
    );
    assert_eq!(internal["properties"]["mode"]["default"], "Operator");
    assert_eq!(
        internal["x-kubernetes-validations"][0]["rule"],
        "self.mode != 'Secret' || has(self.caSecretName)"
    );
    assert_eq!(spec["networkPolicies"]["default"], true);
    let status = &version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"];
    assert_eq!(status["conditions"]["x-kubernetes-list-type"], "map");
    let shard = &status["shards"]["items"]["properties"];
    for field in ["leader", "commitIndex", "voters", "learners", "members"] {
        assert!(shard[field].is_object(), "status.shards[].{field}: {shard}");
    }
    assert!(shard["members"]["items"]["properties"]["lag"].is_object());
    for kind in [
        telltale_crds::ScrapeTarget::crd(),
        telltale_crds::AlertRule::crd(),
    ] {
        let cols = kind.spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap();
        assert_eq!(cols[0].json_path, ".status.phase");
        assert_eq!(cols.last().unwrap().type_, "date");
    }
}

#[test]
fn crds_name_group_kinds_and_short_names() {
    let yaml = telltale_crds::crd_yaml().unwrap();
    for needle in [
        "name: metricclusters.telltale.dev",
        "name: scrapetargets.telltale.dev",
        "name: alertrules.telltale.dev",
        "scope: Namespaced",
        "- st",
        "- ar",
        "- mc",
        "status: {}",
    ] {
        assert!(yaml.contains(needle), "missing {needle:?}");
    }
}
