//! The cluster selection fields of ScrapeTarget (`podSelector`, `serviceSelector`,
//! `namespaceSelector`, `port`): typed parsing, validation and the CRD's CEL rules.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use telltale_crds::{ScrapeTarget, ScrapeTargetSpec, selection};

fn spec(yaml: &str) -> ScrapeTargetSpec {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn selectors_are_typed_and_checked() {
    let s = spec(
        r#"
podSelector:
  matchLabels: {app: api}
  matchExpressions: [{key: tier, operator: In, values: [web]}]
namespaceSelector: {matchNames: [shop, shop-canary]}
port: metrics
"#,
    );
    s.validate().unwrap();
    assert!(s.selects_cluster_objects());
    let pod = s.pod_selector.as_ref().unwrap();
    assert_eq!(pod.match_labels.as_ref().unwrap()["app"], "api");
    assert_eq!(pod.match_expressions.as_ref().unwrap()[0].operator, "In");
    assert_eq!(
        s.namespace_selector.as_ref().unwrap().match_names,
        ["shop", "shop-canary"]
    );
    assert_eq!(s.port, Some(IntOrString::String("metrics".into())));
    let s = spec(
        "serviceSelector: {matchLabels: {team: a}}
port: 9100
namespaceSelector: {any: true}",
    );
    s.validate().unwrap();
    assert_eq!(s.port, Some(IntOrString::Int(9100)));
    // Round trip keeps the fields.
    let back: ScrapeTargetSpec = serde_yaml::from_str(&serde_yaml::to_string(&s).unwrap()).unwrap();
    assert_eq!(back, s);

    let field = |yaml: &str| spec(yaml).validate().unwrap_err().field;
    assert_eq!(
        field(
            "podSelector: {}
serviceSelector: {}"
        ),
        "spec.serviceSelector"
    );
    assert_eq!(field("port: 80"), "spec.port");
    assert_eq!(
        field("namespaceSelector: {any: true}"),
        "spec.namespaceSelector"
    );
    assert_eq!(
        field(
            "podSelector: {}
port: 70000"
        ),
        "spec.port"
    );
    assert_eq!(
        field(
            "podSelector: {}
port: ''"
        ),
        "spec.port"
    );
    assert_eq!(
        field("podSelector: {matchExpressions: [{key: a, operator: In}]}"),
        "spec.podSelector.matchExpressions[0].values"
    );
    assert_eq!(
        field("serviceSelector: {matchExpressions: [{key: a, operator: Exists, values: [x]}]}"),
        "spec.serviceSelector.matchExpressions[0].values"
    );
    assert_eq!(
        field("podSelector: {matchExpressions: [{key: a, operator: Near, values: [x]}]}"),
        "spec.podSelector.matchExpressions[0].operator"
    );
    assert_eq!(
        field(
            "podSelector: {}
namespaceSelector: {any: true, matchNames: [a]}"
        ),
        "spec.namespaceSelector"
    );
    assert!(
        serde_yaml::from_str::<ScrapeTargetSpec>(
            "podSelector: {}
namespaceSelector: {nope: 1}"
        )
        .is_err()
    );
}

#[test]
fn the_crd_carries_the_selector_rules() {
    use kube::CustomResourceExt;
    let crd = serde_json::to_value(ScrapeTarget::crd()).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
    let rules: Vec<&str> = spec["x-kubernetes-validations"]
        .as_array()
        .expect("validations on the spec")
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            selection::ONE_SELECTOR_RULE,
            selection::SELECTOR_NEEDED_RULE
        ]
    );
    let props = &spec["properties"];
    assert!(props["podSelector"]["properties"]["matchExpressions"].is_object());
    assert!(props["serviceSelector"]["properties"]["matchLabels"].is_object());
    assert_eq!(props["port"]["x-kubernetes-int-or-string"], true);
    assert!(props["namespaceSelector"]["properties"]["matchNames"].is_object());
}

#[test]
fn the_kubernetes_example_loads_and_validates() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/kubernetes-targets.yaml");
    let docs = telltale_crds::load_file(&path).unwrap();
    let specs: Vec<ScrapeTargetSpec> = docs
        .into_iter()
        .map(|d| match d.resource {
            telltale_crds::Resource::ScrapeTarget(st) => st.spec,
            other => panic!("not a ScrapeTarget: {other:?}"),
        })
        .collect();
    assert_eq!(specs.len(), 2);
    for s in &specs {
        s.validate().unwrap();
    }
    assert!(specs[0].pod_selector.is_some() && specs[1].service_selector.is_some());
    assert_eq!(specs[1].port, Some(IntOrString::Int(9100)));
}
