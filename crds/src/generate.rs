//! The CustomResourceDefinitions, generated from the Rust types (never written by hand).

use kube::CustomResourceExt;

use crate::{AlertRule, MetricCluster, ScrapeTarget};

/// Every CRD as one multi-document YAML stream, as `telltale crds` prints it and as it is
/// committed in `crds/telltale.dev.yaml`.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in [MetricCluster::crd(), ScrapeTarget::crd(), AlertRule::crd()] {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}
