//! The committed CRD YAML must be exactly what the types generate.

/// With `TELLTALE_BLESS=1` the committed file is rewritten instead (then review the diff).
#[test]
fn committed_crds_match_the_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/telltale.dev.yaml");
    let generated = telltale_crds::crd_yaml().unwrap();
    if std::env::var_os("TELLTALE_BLESS").is_some() {
        std::fs::write(path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(path).expect("crds/telltale.dev.yaml is committed");
    assert!(
        committed == generated,
        "crds/telltale.dev.yaml is out of date: run `make crds` (or TELLTALE_BLESS=1 cargo test -p telltale-crds)"
    );
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
